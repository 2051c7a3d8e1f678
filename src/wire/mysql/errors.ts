/**
 * Typed errors of the MySQL wire codec; the gateway turns them into ERR packets or log lines
 * at its edge. Nothing in this folder writes to a socket.
 */

/** Malformed or out-of-bounds protocol bytes. */
export class MysqlProtocolError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MysqlProtocolError";
  }
}
