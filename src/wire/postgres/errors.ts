/**
 * Typed errors of the PostgreSQL wire codec. The gateway converts them to an ErrorResponse
 * (or a log line) at its edge; nothing in this folder writes to a socket.
 *
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */

/** Malformed or out-of-bounds protocol bytes. `code` is the SQLSTATE PostgreSQL uses for the same fault. */
export class WireProtocolError extends Error {
  /** SQLSTATE, e.g. `08P01` (protocol_violation). */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WireProtocolError";
    this.code = code;
  }
}

/**
 * The SCRAM-SHA-256 exchange with a backend failed: a malformed server message, a nonce the
 * server did not extend, a server error attribute (`e=`), or a server signature that does not
 * prove knowledge of the password (a server impersonating the backend).
 *
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-7
 */
export class ScramError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ScramError";
  }
}
