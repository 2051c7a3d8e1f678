/**
 * Sans-I/O parser for the bytes a PostgreSQL client sends to the gateway: the untyped startup
 * packets (SSLRequest, GSSENCRequest, CancelRequest, StartupMessage), then typed messages
 * (`type` byte + Int32 length + body). It never reads a socket and never allocates a buffer
 * from a length field: bounds are checked as soon as the 4 length bytes arrive.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */
import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  MAX_AUTH_TOKEN_LENGTH,
  MAX_CANCEL_KEY_LENGTH,
  MAX_STARTUP_PACKET_LENGTH,
  MIN_CANCEL_KEY_LENGTH,
  MIN_STARTUP_PACKET_LENGTH,
  PEER_CANCEL_CODE,
  SqlState,
  SSL_REQUEST_CODE,
} from "./constants.js";
import { WireProtocolError } from "./errors.js";
import { BodyReader, ChunkBuffer } from "./reader.js";

export type StartupPacket =
  | { kind: "SSLRequest" }
  | { kind: "GSSENCRequest" }
  | { kind: "CancelRequest"; processId: number; secretKey: Buffer }
  /** iamdb's own: a cancel forwarded by another gateway of the fleet (`src/fleet/peer-cancel.ts`); the body is checked there. */
  | { kind: "PeerCancelRequest"; body: Buffer }
  | { kind: "StartupMessage"; protocolVersion: number; parameters: Record<string, string> };

export type FrontendEvent =
  | { kind: "startup"; packet: StartupPacket }
  | { kind: "message"; type: string; body: Buffer }
  /** Fatal: send it to the client as an ErrorResponse and close. The parser is dead afterwards. */
  | { kind: "error"; code: string; message: string };

export interface FrontendParserOptions {
  /** Largest accepted startup length field, in bytes. Default 10000 (PostgreSQL's MAX_STARTUP_PACKET_LENGTH). */
  maxStartupLength?: number;
  /**
   * Largest accepted typed-message length field (it counts itself, not the type byte).
   * Default 65535 + 5: a password message of PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH.
   */
  maxMessageLength?: number;
}

/** Default typed-message bound for the password phase. */
export const DEFAULT_MAX_FRONTEND_MESSAGE_LENGTH = MAX_AUTH_TOKEN_LENGTH + 5;

/**
 * `startup`: reading untyped startup packets. `typed`: reading typed messages.
 * `paused`: an SSLRequest, GSSENCRequest or CancelRequest was returned; what follows belongs to
 * another layer (TLS) or nothing at all, so bytes are kept unparsed until the caller picks the
 * next phase. `dead`: an error event was returned.
 */
type Phase = "startup" | "typed" | "paused" | "dead";

export class FrontendParser {
  private readonly maxStartupLength: number;
  private readonly maxMessageLength: number;
  private readonly input = new ChunkBuffer();
  private phase: Phase = "startup";

  constructor(options: FrontendParserOptions = {}) {
    this.maxStartupLength = options.maxStartupLength ?? MAX_STARTUP_PACKET_LENGTH;
    this.maxMessageLength = options.maxMessageLength ?? DEFAULT_MAX_FRONTEND_MESSAGE_LENGTH;
    if (!Number.isInteger(this.maxStartupLength) || this.maxStartupLength < MIN_STARTUP_PACKET_LENGTH) {
      throw new RangeError(`maxStartupLength must be an integer >= 8, got ${options.maxStartupLength}`);
    }
    if (!Number.isInteger(this.maxMessageLength) || this.maxMessageLength < 4) {
      throw new RangeError(`maxMessageLength must be an integer >= 4, got ${options.maxMessageLength}`);
    }
  }

  /**
   * Feeds bytes and returns the complete events found (possibly none). Split and coalesced
   * input give the same events. After a StartupMessage the parser reads typed messages on its
   * own (that is the only thing a client may send next), so `expectTyped()` is optional there.
   * After an SSLRequest, GSSENCRequest or CancelRequest it stops and keeps the rest unparsed
   * (see {@link buffered}) until `expectStartup()` / `expectTyped()`; then push an empty
   * buffer (or the next chunk) to parse what was kept. After an "error" event the parser is
   * dead and returns [].
   */
  push(chunk: Buffer): FrontendEvent[] {
    this.append(chunk);
    const events: FrontendEvent[] = [];
    for (let event = this.next(); event !== undefined; event = this.next()) events.push(event);
    return events;
  }

  /**
   * Feeds bytes without parsing them; {@link next} then returns the events one at a time. For a
   * caller that must stop between events (a server that looks a role up before it reads the
   * password): `push` would parse everything the client sent ahead.
   */
  append(chunk: Buffer): void {
    if (this.phase !== "dead") this.input.append(chunk);
  }

  /** The next complete event from what was appended, or undefined until more bytes come (or while paused or dead). */
  next(): FrontendEvent | undefined {
    const event =
      this.phase === "startup" ? this.nextStartup() : this.phase === "typed" ? this.nextTyped() : undefined;
    if (event?.kind === "error") {
      this.phase = "dead";
      this.input.clear();
    }
    return event;
  }

  /**
   * Removes and returns the bytes not yet returned as events, and stops parsing (the parser is
   * dead afterwards): for handing the rest of the stream to another reader, such as a server's
   * session relay once login is over, whose messages are not bounded by the login's limit.
   */
  takeRest(): Buffer {
    this.phase = "dead";
    return this.input.take();
  }

  /** Read typed messages from now on (the StartupMessage already does this). */
  expectTyped(): void {
    if (this.phase !== "dead") this.phase = "typed";
  }

  /** Read a startup packet next: after SSLRequest / GSSENCRequest the client sends another one. */
  expectStartup(): void {
    if (this.phase !== "dead") this.phase = "startup";
  }

  /**
   * Bytes received but not yet returned as events. Right after an SSLRequest this is 0 unless
   * the client sent bytes before the TLS handshake, which must be refused: such bytes were sent
   * in plaintext and could be injected by a man in the middle (CVE-2021-23214).
   */
  get buffered(): number {
    return this.input.length;
  }

  private nextStartup(): FrontendEvent | undefined {
    const view = this.input.view();
    if (view.length < 4) return undefined;
    // Checked before waiting for the body, so a bogus length never makes us hold (or allocate) it.
    const length = view.readInt32BE(0);
    if (length < MIN_STARTUP_PACKET_LENGTH || length > this.maxStartupLength) {
      return protocolError("invalid length of startup packet");
    }
    if (view.length < length) return undefined;
    const code = view.readUInt32BE(4);
    const body = view.subarray(8, length);
    this.input.consume(length);
    try {
      return { kind: "startup", packet: this.decodeStartup(code, length, body) };
    } catch (error) {
      if (error instanceof WireProtocolError)
        return { kind: "error", code: error.code, message: error.message };
      throw error;
    }
  }

  /** @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-STARTUPMESSAGE */
  private decodeStartup(code: number, length: number, body: Buffer): StartupPacket {
    switch (code) {
      case SSL_REQUEST_CODE:
      case GSSENC_REQUEST_CODE:
        if (length !== 8)
          throw new WireProtocolError(SqlState.ProtocolViolation, "invalid length of startup packet");
        this.phase = "paused";
        return { kind: code === SSL_REQUEST_CODE ? "SSLRequest" : "GSSENCRequest" };
      case CANCEL_REQUEST_CODE: {
        // @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST
        const keyLength = body.length - 4;
        if (keyLength < MIN_CANCEL_KEY_LENGTH || keyLength > MAX_CANCEL_KEY_LENGTH) {
          throw new WireProtocolError(SqlState.ProtocolViolation, "invalid length of query cancel packet");
        }
        this.phase = "paused";
        return {
          kind: "CancelRequest",
          processId: body.readInt32BE(0),
          secretKey: Buffer.from(body.subarray(4)),
        };
      }
      case PEER_CANCEL_CODE:
        this.phase = "paused";
        return { kind: "PeerCancelRequest", body: Buffer.from(body) };
    }
    const major = code >>> 16;
    const minor = code & 0xffff;
    if (major !== 3) {
      // PostgreSQL reports this as feature_not_supported (0A000), not protocol_violation.
      throw new WireProtocolError(
        SqlState.FeatureNotSupported,
        `unsupported frontend protocol ${major}.${minor}`,
      );
    }
    const parameters = decodeStartupParameters(body);
    this.phase = "typed";
    return { kind: "StartupMessage", protocolVersion: code, parameters };
  }

  private nextTyped(): FrontendEvent | undefined {
    const view = this.input.view();
    if (view.length < 5) return undefined;
    const length = view.readInt32BE(1);
    if (length < 4 || length > this.maxMessageLength) return protocolError("invalid message length");
    if (view.length < 1 + length) return undefined;
    const type = String.fromCharCode(view[0] ?? 0);
    const body = Buffer.from(view.subarray(5, 1 + length));
    this.input.consume(1 + length);
    return { kind: "message", type, body };
  }
}

/**
 * Name/value pairs, each NUL-terminated, ending with an empty name that must be the last byte.
 * A repeated name keeps the last value, as PostgreSQL does for its GUCs.
 */
function decodeStartupParameters(body: Buffer): Record<string, string> {
  const reader = new BodyReader(body, "startup packet");
  const parameters: Record<string, string> = {};
  for (;;) {
    if (reader.remaining === 0) reader.fail("expected terminator as last byte");
    const name = reader.cstring();
    if (name === "") break;
    if (reader.remaining === 0) reader.fail(`missing value for parameter "${name}"`);
    const value = reader.cstring();
    // defineProperty, not assignment: a parameter named "__proto__" must stay plain data.
    Object.defineProperty(parameters, name, { value, enumerable: true, writable: true, configurable: true });
  }
  if (reader.remaining !== 0) reader.fail("expected terminator as last byte");
  return parameters;
}

/**
 * Reads the password from a PasswordMessage body ('p'): one NUL-terminated string that fills the
 * body exactly (PostgreSQL: "invalid password packet size").
 *
 * @throws WireProtocolError (08P01) if the body is not exactly one NUL-terminated UTF-8 string
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-PASSWORDMESSAGE
 */
export function readPasswordMessage(body: Buffer): string {
  const end = body.indexOf(0);
  if (end !== body.length - 1) {
    throw new WireProtocolError(SqlState.ProtocolViolation, "invalid password packet size");
  }
  return new BodyReader(body, "password").cstring();
}

/**
 * Reads a SASLInitialResponse body ('p' during SASL authentication): the mechanism the client
 * chose, then an Int32 length and that many bytes of initial response (-1: none, given here as
 * an empty buffer).
 *
 * @throws WireProtocolError (08P01) if the body does not hold exactly these fields
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-SASLINITIALRESPONSE
 */
export function readSaslInitialResponse(body: Buffer): { mechanism: string; data: Buffer } {
  const reader = new BodyReader(body, "SASLInitialResponse");
  const mechanism = reader.cstring();
  const length = reader.int32();
  if (length < -1) reader.fail(`negative length ${length}`);
  const data = length === -1 ? Buffer.alloc(0) : reader.bytes(length);
  reader.end();
  return { mechanism, data };
}

function protocolError(message: string): FrontendEvent {
  return { kind: "error", code: SqlState.ProtocolViolation, message };
}
