/**
 * Sans-I/O PostgreSQL frontend/backend protocol codec: split-safe parsers for both directions,
 * serializers, and the password exchanges: MD5 toward a backend, SCRAM-SHA-256 on both sides
 * and the verifier PostgreSQL stores.
 *
 * @see https://www.postgresql.org/docs/current/protocol.html
 */
export * from "./auth.js";
export * from "./backend.js";
export * from "./constants.js";
export * from "./errors.js";
export * from "./framer.js";
export * from "./frontend.js";
export * from "./messages.js";
export { saslprep } from "./saslprep.js";
export * from "./scram.js";
export * from "./serialize.js";
export * from "./statements.js";
