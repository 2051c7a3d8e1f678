export { ConfigError, DEFAULT_INSTANCE, DEFAULTS, loadConfig, parseConfig } from "./load.js";
export type * from "./types.js";
