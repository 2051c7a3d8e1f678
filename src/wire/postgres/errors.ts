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
 * A SCRAM-SHA-256 exchange failed. Toward a backend: a malformed server message, a nonce the
 * server did not extend, a server error attribute (`e=`), or a server signature that does not
 * prove knowledge of the password (a server impersonating the backend). From a client (the
 * embedded server): a message that breaks RFC 5802; a wrong proof is {@link ScramPasswordMismatch}.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-7
 */
export class ScramError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ScramError";
  }
}

/**
 * A well-formed SCRAM-SHA-256 exchange whose client proof does not verify against the stored
 * verifier: the client does not know the password. PostgreSQL answers 28P01
 * (invalid_password), where a malformed exchange gets 08P01.
 */
export class ScramPasswordMismatch extends ScramError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ScramPasswordMismatch";
  }
}
