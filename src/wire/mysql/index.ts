/**
 * Sans-I/O MySQL client/server protocol codec: split-safe packet parser, connection-phase
 * messages for both sides, password proofs toward a backend, and the command tracker the
 * relay uses.
 *
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/PAGE_PROTOCOL.html
 */
export * from "./attributes.js";
export * from "./auth.js";
export * from "./commands.js";
export * from "./constants.js";
export * from "./errors.js";
export * from "./handshake.js";
export * from "./packets.js";
export * from "./responses.js";
