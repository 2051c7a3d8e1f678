/**
 * Builders for the messages the gateway sends: to clients (as a server) and to backends (as
 * a client). Each returns one Buffer ready to write. Strings are UTF-8 and must not contain a
 * NUL byte (it would end the field early and desynchronise the stream): such input throws.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import {
  AuthCode,
  CANCEL_REQUEST_CODE,
  MAX_CANCEL_KEY_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  PROTOCOL_VERSION_3_0,
  SqlState,
  SSL_REQUEST_CODE,
} from "./constants.js";
import { WireProtocolError } from "./errors.js";

/** Fields of an ErrorResponse. Both S (localizable) and V (never localized) carry `severity`. */
export interface ErrorFields {
  severity: "FATAL" | "ERROR";
  /** SQLSTATE, e.g. "28000". */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

/** Fields of a NoticeResponse: as {@link ErrorFields}, with a non-error severity. */
export interface NoticeFields {
  severity: "WARNING" | "NOTICE" | "INFO" | "LOG" | "DEBUG";
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

// ---- to clients (the gateway as a server) ----

/** The single-byte answer to an SSLRequest: 'S' (go ahead with TLS) or 'N'. */
export function sslResponse(accept: boolean): Buffer {
  return Buffer.from(accept ? "S" : "N", "latin1");
}

export function authenticationOk(): Buffer {
  return typed("R", int32(AuthCode.Ok));
}

export function authenticationCleartextPassword(): Buffer {
  return typed("R", int32(AuthCode.CleartextPassword));
}

export function authenticationMD5Password(salt: Buffer): Buffer {
  if (salt.length !== 4) throw new RangeError(`MD5 salt must be 4 bytes, got ${salt.length}`);
  return typed("R", int32(AuthCode.MD5Password), salt);
}

/** @see https://www.postgresql.org/docs/current/sasl-authentication.html */
export function authenticationSASL(mechanisms: string[]): Buffer {
  return typed("R", int32(AuthCode.SASL), ...mechanisms.map(cstring), Buffer.of(0));
}

export function authenticationSASLContinue(data: Buffer): Buffer {
  return typed("R", int32(AuthCode.SASLContinue), data);
}

export function authenticationSASLFinal(data: Buffer): Buffer {
  return typed("R", int32(AuthCode.SASLFinal), data);
}

export function parameterStatus(name: string, value: string): Buffer {
  return typed("S", cstring(name), cstring(value));
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BACKENDKEYDATA */
export function backendKeyData(processId: number, secretKey: Buffer): Buffer {
  checkCancelKey(secretKey);
  return typed("K", int32(processId), secretKey);
}

/** status: "I" idle, "T" in a transaction block, "E" in a failed transaction block. */
export function readyForQuery(status: "I" | "T" | "E" | string = "I"): Buffer {
  if (!/^[ITE]$/.test(status))
    throw new RangeError(`ReadyForQuery status must be I, T or E, got "${status}"`);
  return typed("Z", Buffer.from(status, "latin1"));
}

/** @see https://www.postgresql.org/docs/current/protocol-error-fields.html */
export function errorResponse(fields: ErrorFields): Buffer {
  return typed("E", encodeFields(fields));
}

export function noticeResponse(fields: NoticeFields): Buffer {
  return typed("N", encodeFields(fields));
}

/**
 * `newest`: the newest protocol version the server speaks for the client's major version. The
 * docs call it the "newest minor version"; PostgreSQL sends the whole version (3.0 = 196608),
 * and libpq reads it so.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NEGOTIATEPROTOCOLVERSION
 */
export function negotiateProtocolVersion(newest: number, unrecognized: string[]): Buffer {
  return typed("v", int32(newest), int32(unrecognized.length), ...unrecognized.map(cstring));
}

// ---- to backends (the gateway as a client) ----

/**
 * Untyped: Int32 length, Int32 protocol version, name/value pairs, a final NUL.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE
 */
export function startupMessage(
  parameters: Record<string, string>,
  protocolVersion: number = PROTOCOL_VERSION_3_0,
): Buffer {
  const pairs = Object.entries(parameters).flatMap(([name, value]) => {
    if (name === "")
      throw new WireProtocolError(SqlState.ProtocolViolation, "startup parameter name is empty");
    return [cstring(name), cstring(value)];
  });
  return untyped(int32(protocolVersion), ...pairs, Buffer.of(0));
}

export function sslRequest(): Buffer {
  return untyped(int32(SSL_REQUEST_CODE));
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST */
export function cancelRequest(processId: number, secretKey: Buffer): Buffer {
  checkCancelKey(secretKey);
  return untyped(int32(CANCEL_REQUEST_CODE), int32(processId), secretKey);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE */
export function passwordMessage(password: string): Buffer {
  return typed("p", cstring(password));
}

/**
 * Int32 length of the data follows the mechanism name (-1 would mean "no initial response";
 * SCRAM always has one).
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLINITIALRESPONSE
 */
export function saslInitialResponse(mechanism: string, data: Buffer): Buffer {
  return typed("p", cstring(mechanism), int32(data.length), data);
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLRESPONSE */
export function saslResponse(data: Buffer): Buffer {
  return typed("p", data);
}

/** A simple-protocol Query. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-QUERY */
export function query(sql: string): Buffer {
  return typed("Q", cstring(sql));
}

/** Ends a COPY FROM STDIN with an error. @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-COPYFAIL */
export function copyFail(reason: string): Buffer {
  return typed("f", cstring(reason));
}

export function terminate(): Buffer {
  return typed("X");
}

// ---- framing ----

function typed(type: string, ...parts: Buffer[]): Buffer {
  const bodyLength = parts.reduce((sum, part) => sum + part.length, 0);
  const header = Buffer.alloc(5);
  header.write(type, 0, 1, "latin1");
  header.writeInt32BE(4 + bodyLength, 1);
  return Buffer.concat([header, ...parts], 5 + bodyLength);
}

function untyped(...parts: Buffer[]): Buffer {
  const bodyLength = parts.reduce((sum, part) => sum + part.length, 0);
  return Buffer.concat([int32(4 + bodyLength), ...parts], 4 + bodyLength);
}

/** Throws RangeError (from Buffer) if `value` is not an Int32. */
function int32(value: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeInt32BE(value, 0);
  return buf;
}

function cstring(value: string): Buffer {
  if (value.includes("\0")) {
    throw new WireProtocolError(SqlState.ProtocolViolation, "string field contains a NUL byte");
  }
  return Buffer.from(`${value}\0`, "utf8");
}

function checkCancelKey(secretKey: Buffer): void {
  if (secretKey.length < MIN_CANCEL_KEY_LENGTH || secretKey.length > MAX_CANCEL_KEY_LENGTH) {
    throw new RangeError(`cancel secret key must be 4 to 256 bytes, got ${secretKey.length}`);
  }
}

function encodeFields(fields: ErrorFields | NoticeFields): Buffer {
  const parts: Buffer[] = [];
  const add = (code: string, value: string | undefined): void => {
    if (value !== undefined) parts.push(Buffer.from(code, "latin1"), cstring(value));
  };
  if (!/^[0-9A-Z]{5}$/.test(fields.code))
    throw new RangeError(`SQLSTATE must be 5 characters, got "${fields.code}"`);
  add("S", fields.severity);
  add("V", fields.severity);
  add("C", fields.code);
  add("M", fields.message);
  add("D", fields.detail);
  add("H", fields.hint);
  parts.push(Buffer.of(0));
  return Buffer.concat(parts);
}
