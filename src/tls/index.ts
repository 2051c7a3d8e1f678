export {
  type EnsureListenerTlsOptions,
  ensureListenerTls,
  type ListenerTls,
  TLS_FILES,
} from "./ensureListenerTls.js";
export { TlsConfigError } from "./errors.js";
export type { KeyAlgorithm } from "./generate.js";
