export { EmbeddedPostgresError } from "./errors.js";
export { type EmbeddedPostgres, type StartEmbeddedPostgresOptions, startEmbeddedPostgres } from "./pglite.js";
