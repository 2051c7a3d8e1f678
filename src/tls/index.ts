export {
  type EnsureListenerTlsOptions,
  ensureListenerTls,
  type ListenerTls,
  TLS_FILES,
} from "./ensure-listener-tls.js";
export { TlsConfigError } from "./errors.js";
export type { KeyAlgorithm } from "./generate.js";
