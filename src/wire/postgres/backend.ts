/**
 * Sans-I/O parser for the bytes a PostgreSQL backend sends while the gateway logs in to it
 * (the gateway is the client here): authentication requests, ParameterStatus, BackendKeyData,
 * ReadyForQuery, errors and notices. It stops at the first ReadyForQuery: login is over, and
 * whatever followed it must reach the client byte for byte (see {@link BackendParser.takeRemainder}).
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import { AuthCode, MAX_CANCEL_KEY_LENGTH, MIN_CANCEL_KEY_LENGTH, SqlState } from "./constants.js";
import { WireProtocolError } from "./errors.js";
import { BodyReader, ChunkBuffer } from "./reader.js";

export type BackendMessage =
  | { kind: "AuthenticationOk" }
  | { kind: "AuthenticationCleartextPassword" }
  | { kind: "AuthenticationMD5Password"; salt: Buffer }
  | { kind: "AuthenticationSASL"; mechanisms: string[] }
  | { kind: "AuthenticationSASLContinue"; data: Buffer }
  | { kind: "AuthenticationSASLFinal"; data: Buffer }
  /** GSS, GSSContinue, SSPI, KerberosV5 or a code this parser does not know. */
  | { kind: "AuthenticationOther"; code: number }
  /** raw: the complete message, for relaying it byte for byte (values follow client_encoding). */
  | { kind: "ParameterStatus"; name: string; value: string; raw: Buffer }
  | { kind: "BackendKeyData"; processId: number; secretKey: Buffer }
  /** status: "I" idle, "T" in a transaction block, "E" in a failed transaction block. */
  | { kind: "ReadyForQuery"; status: string }
  /** Keyed by field code letter: S, V, C, M, D, H, ... */
  | { kind: "ErrorResponse"; fields: Record<string, string> }
  | { kind: "NoticeResponse"; fields: Record<string, string>; raw: Buffer }
  | { kind: "NegotiateProtocolVersion"; newestMinor: number; unrecognized: string[] }
  /** Any other message; raw holds the complete message bytes including type and length. */
  | { kind: "Other"; type: string; raw: Buffer };

export interface BackendParserOptions {
  /** Largest accepted length field (it counts itself, not the type byte). Default 1 MiB. */
  maxMessageLength?: number;
}

export const DEFAULT_MAX_BACKEND_MESSAGE_LENGTH = 1024 * 1024;

export class BackendParser {
  private readonly maxMessageLength: number;
  private readonly input = new ChunkBuffer();
  private failure: WireProtocolError | undefined;
  private done = false;

  constructor(options: BackendParserOptions = {}) {
    this.maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_BACKEND_MESSAGE_LENGTH;
    if (!Number.isInteger(this.maxMessageLength) || this.maxMessageLength < 4) {
      throw new RangeError(`maxMessageLength must be an integer >= 4, got ${options.maxMessageLength}`);
    }
  }

  /**
   * Feeds bytes and returns the complete messages found (possibly none); split and coalesced
   * input give the same messages. After a ReadyForQuery no more messages are returned: the
   * bytes that follow (in this chunk or later ones) stay in the buffer for `takeRemainder()`.
   *
   * @throws WireProtocolError on a bad length or a malformed message; the parser then throws
   *   the same error on every later push.
   */
  push(chunk: Buffer): BackendMessage[] {
    if (this.failure) throw this.failure;
    this.input.append(chunk);
    const messages: BackendMessage[] = [];
    while (!this.done) {
      const view = this.input.view();
      if (view.length < 5) break;
      const type = String.fromCharCode(view[0] ?? 0);
      const length = view.readInt32BE(1);
      if (length < 4 || length > this.maxMessageLength) {
        this.fail(
          new WireProtocolError(
            SqlState.ProtocolViolation,
            `invalid message length ${length} for message type "${type}" from the backend`,
          ),
        );
      }
      if (view.length < 1 + length) break;
      const raw = view.subarray(0, 1 + length);
      let message: BackendMessage;
      try {
        message = decode(type, raw);
      } catch (error) {
        if (error instanceof WireProtocolError) this.fail(error);
        throw error;
      }
      this.input.consume(1 + length);
      messages.push(message);
      if (message.kind === "ReadyForQuery") this.done = true;
    }
    return messages;
  }

  /** Removes and returns the bytes buffered beyond the last returned message. */
  takeRemainder(): Buffer {
    return this.input.take();
  }

  private fail(error: WireProtocolError): never {
    this.failure = error;
    this.input.clear();
    throw error;
  }
}

function decode(type: string, raw: Buffer): BackendMessage {
  const body = raw.subarray(5);
  switch (type) {
    case "R":
      return decodeAuthentication(new BodyReader(body, "authentication request", false));
    case "S": {
      // @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PARAMETERSTATUS
      const reader = new BodyReader(body, "ParameterStatus", false);
      const name = reader.cstring();
      const value = reader.cstring();
      reader.end();
      return { kind: "ParameterStatus", name, value, raw: Buffer.from(raw) };
    }
    case "K": {
      // Key is 4 bytes before protocol 3.2, up to 256 since (PostgreSQL 18).
      // @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-BACKENDKEYDATA
      const reader = new BodyReader(body, "BackendKeyData", false);
      const processId = reader.int32();
      if (reader.remaining < MIN_CANCEL_KEY_LENGTH || reader.remaining > MAX_CANCEL_KEY_LENGTH) {
        reader.fail(`secret key of ${reader.remaining} bytes, expected 4 to 256`);
      }
      return { kind: "BackendKeyData", processId, secretKey: reader.rest() };
    }
    case "Z": {
      // @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-READYFORQUERY
      const reader = new BodyReader(body, "ReadyForQuery", false);
      const status = String.fromCharCode(reader.byte());
      reader.end();
      if (status !== "I" && status !== "T" && status !== "E") reader.fail(`unknown status "${status}"`);
      return { kind: "ReadyForQuery", status };
    }
    case "E":
      return { kind: "ErrorResponse", fields: decodeFields(new BodyReader(body, "ErrorResponse", false)) };
    case "N":
      return {
        kind: "NoticeResponse",
        fields: decodeFields(new BodyReader(body, "NoticeResponse", false)),
        raw: Buffer.from(raw),
      };
    case "v": {
      // @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-NEGOTIATEPROTOCOLVERSION
      const reader = new BodyReader(body, "NegotiateProtocolVersion", false);
      const newestMinor = reader.int32();
      const count = reader.int32();
      // Each name takes at least its terminator: a larger count cannot fit (and must not drive a loop).
      if (newestMinor < 0 || count < 0 || count > reader.remaining)
        reader.fail("bad minor version or option count");
      const unrecognized: string[] = [];
      for (let i = 0; i < count; i++) unrecognized.push(reader.cstring());
      reader.end();
      return { kind: "NegotiateProtocolVersion", newestMinor, unrecognized };
    }
    default:
      return { kind: "Other", type, raw: Buffer.from(raw) };
  }
}

/** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONOK */
function decodeAuthentication(reader: BodyReader): BackendMessage {
  const code = reader.int32();
  switch (code) {
    case AuthCode.Ok:
      reader.end();
      return { kind: "AuthenticationOk" };
    case AuthCode.CleartextPassword:
      reader.end();
      return { kind: "AuthenticationCleartextPassword" };
    case AuthCode.MD5Password: {
      const salt = reader.bytes(4);
      reader.end();
      return { kind: "AuthenticationMD5Password", salt };
    }
    case AuthCode.SASL: {
      // A list of mechanism names, each NUL-terminated, ending with an empty name.
      // @see https://www.postgresql.org/docs/current/sasl-authentication.html
      const mechanisms: string[] = [];
      for (;;) {
        const name = reader.cstring();
        if (name === "") break;
        mechanisms.push(name);
      }
      reader.end();
      return { kind: "AuthenticationSASL", mechanisms };
    }
    case AuthCode.SASLContinue:
      return { kind: "AuthenticationSASLContinue", data: reader.rest() };
    case AuthCode.SASLFinal:
      return { kind: "AuthenticationSASLFinal", data: reader.rest() };
    default:
      return { kind: "AuthenticationOther", code };
  }
}

/**
 * Fields of ErrorResponse / NoticeResponse: a code byte and a NUL-terminated value, repeated,
 * ending with a zero byte that must be the last byte of the body.
 * @see https://www.postgresql.org/docs/current/protocol-error-fields.html
 */
function decodeFields(reader: BodyReader): Record<string, string> {
  const fields: Record<string, string> = {};
  for (;;) {
    const code = reader.byte();
    if (code === 0) break;
    fields[String.fromCharCode(code)] = reader.cstring();
  }
  reader.end();
  return fields;
}
