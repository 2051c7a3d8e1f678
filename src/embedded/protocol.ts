/**
 * The few PostgreSQL v3 wire messages the embedded front end reads and writes itself (start-up,
 * authentication, errors); everything after authentication is passed to PGlite unparsed.
 * No I/O here.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export const PROTOCOL_3_0 = 196608; // 3 << 16
export const SSL_REQUEST = 80877103;
export const GSSENC_REQUEST = 80877104;
export const CANCEL_REQUEST = 80877102;
/** PostgreSQL refuses longer start-up packets (MAX_STARTUP_PACKET_LENGTH, src/include/libpq/pqcomm.h). */
export const MAX_STARTUP_LENGTH = 10_000;
/** PQ_LARGE_MESSAGE_LIMIT (src/include/libpq/libpq.h): no frontend message may be longer. */
export const MAX_MESSAGE_LENGTH = 0x3fffffff;

/** A frame the client sent that breaks the protocol; the session ends with a FATAL 08P01. */
export class ProtocolViolation extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** One untyped start-up-phase frame (length-prefixed, no type byte), or undefined until it is complete. */
export function takeStartupFrame(buf: Buffer): { frame: Buffer; rest: Buffer } | undefined {
  if (buf.length < 4) return undefined;
  const len = buf.readInt32BE(0);
  if (len < 8 || len > MAX_STARTUP_LENGTH)
    throw new ProtocolViolation(`invalid length of startup packet: ${len}`);
  if (buf.length < len) return undefined;
  return { frame: buf.subarray(0, len), rest: buf.subarray(len) };
}

export type StartupPacket =
  | { kind: "ssl" }
  | { kind: "gssenc" }
  | { kind: "cancel" }
  | { kind: "startup"; major: number; minor: number; params: Map<string, string> };

/** Classifies a start-up frame and, for a StartupMessage, reads its parameters. */
export function parseStartup(frame: Buffer): StartupPacket {
  const code = frame.readInt32BE(4);
  if (code === SSL_REQUEST) return { kind: "ssl" };
  if (code === GSSENC_REQUEST) return { kind: "gssenc" };
  if (code === CANCEL_REQUEST) return { kind: "cancel" };
  const params = new Map<string, string>();
  const parts = frame.subarray(8).toString("utf8").split("\0");
  // Pairs of C strings, then one empty string terminating the list.
  for (let i = 0; i + 1 < parts.length && parts[i] !== ""; i += 2) {
    params.set(parts[i] as string, parts[i + 1] as string);
  }
  return { kind: "startup", major: code >>> 16, minor: code & 0xffff, params };
}

/** Complete typed frames at the front of `buf`, and the bytes of an incomplete one after them. */
export function takeFrames(buf: Buffer): { frames: Buffer[]; rest: Buffer } {
  const frames: Buffer[] = [];
  let at = 0;
  while (buf.length - at >= 5) {
    const len = buf.readInt32BE(at + 1);
    if (len < 4 || len > MAX_MESSAGE_LENGTH) {
      throw new ProtocolViolation(
        `invalid message length ${len} for message type "${String.fromCharCode(buf[at] ?? 0)}"`,
      );
    }
    if (buf.length - at < 1 + len) break;
    frames.push(buf.subarray(at, at + 1 + len));
    at += 1 + len;
  }
  return { frames, rest: buf.subarray(at) };
}

/** Body of a PasswordMessage-family frame ('p'): SASLInitialResponse. */
export function parseSaslInitialResponse(frame: Buffer): { mechanism: string; data: Buffer } {
  if (frame[0] !== 0x70) throw new ProtocolViolation("expected SASL response");
  const body = frame.subarray(5);
  const nul = body.indexOf(0);
  if (nul < 0 || body.length < nul + 5) throw new ProtocolViolation("malformed SASLInitialResponse");
  const len = body.readInt32BE(nul + 1);
  const data = len < 0 ? Buffer.alloc(0) : body.subarray(nul + 5, nul + 5 + len);
  if (data.length !== Math.max(len, 0)) throw new ProtocolViolation("malformed SASLInitialResponse");
  return { mechanism: body.subarray(0, nul).toString("utf8"), data };
}

/** Body of a SASLResponse ('p'). */
export function parseSaslResponse(frame: Buffer): Buffer {
  if (frame[0] !== 0x70) throw new ProtocolViolation("expected SASL response");
  return frame.subarray(5);
}

function message(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");

export const authenticationOk = () => message("R", int32(0));
export const authenticationSasl = (mechanisms: string[]) =>
  message("R", Buffer.concat([int32(10), ...mechanisms.map(cstr), Buffer.from([0])]));
export const authenticationSaslContinue = (data: string) =>
  message("R", Buffer.concat([int32(11), Buffer.from(data, "utf8")]));
export const authenticationSaslFinal = (data: string) =>
  message("R", Buffer.concat([int32(12), Buffer.from(data, "utf8")]));
export const parameterStatus = (name: string, value: string) =>
  message("S", Buffer.concat([cstr(name), cstr(value)]));
export const backendKeyData = (pid: number, secret: number) =>
  message("K", Buffer.concat([int32(pid), int32(secret)]));
export const readyForQuery = (status: "I" | "T" | "E") => message("Z", Buffer.from(status, "latin1"));
/** Tells a client asking for 3.x (x > 0) or `_pq_` options that it gets 3.0 and none of them. */
export const negotiateProtocolVersion = (unsupportedOptions: string[]) =>
  message(
    "v",
    Buffer.concat([int32(PROTOCOL_3_0), int32(unsupportedOptions.length), ...unsupportedOptions.map(cstr)]),
  );
/** Builds a simple Query message; used for the front end's own statements. */
export const query = (sql: string) => message("Q", cstr(sql));
export const sync = () => message("S", Buffer.alloc(0));
export const copyFail = (reason: string) => message("f", cstr(reason));

export interface ErrorFields {
  severity: "ERROR" | "FATAL";
  /** SQLSTATE. @see https://www.postgresql.org/docs/current/errcodes-appendix.html */
  code: string;
  message: string;
  detail?: string;
  hint?: string;
}

export function errorResponse(e: ErrorFields): Buffer {
  const fields: Buffer[] = [
    Buffer.from("S"),
    cstr(e.severity),
    Buffer.from("V"),
    cstr(e.severity),
    Buffer.from("C"),
    cstr(e.code),
    Buffer.from("M"),
    cstr(e.message),
  ];
  if (e.detail !== undefined) fields.push(Buffer.from("D"), cstr(e.detail));
  if (e.hint !== undefined) fields.push(Buffer.from("H"), cstr(e.hint));
  fields.push(Buffer.from([0]));
  return message("E", Buffer.concat(fields));
}

/** Reads the message fields of an ErrorResponse body (after type and length). */
export function parseErrorFields(body: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < body.length && body[at] !== 0) {
    const end = body.indexOf(0, at + 1);
    if (end < 0) break;
    out.set(String.fromCharCode(body[at] as number), body.subarray(at + 1, end).toString("utf8"));
    at = end + 1;
  }
  return out;
}

/** Frontend message types a session may send once authenticated (Terminate is handled apart). */
export const SESSION_MESSAGE_TYPES = new Set("BCdcfDEHFPQS".split("").map((c) => c.charCodeAt(0)));

/**
 * Follows the backend's output stream message by message (chunks may split messages) to tell
 * when the backend is idle: the last complete message is ReadyForQuery with status 'I'.
 * Anything else — mid extended-protocol sequence, in a transaction, in COPY — means the session
 * that sent the input still owns the backend.
 */
export class BackendStreamTracker {
  private header = Buffer.alloc(0);
  private remaining = 0;
  private type = 0;
  private statusPending = false;
  /** Type byte of the last message whose header was seen. */
  lastType = 0;
  /** True when the last complete message was ReadyForQuery('I'). */
  idle = true;
  /** Set from the first ErrorResponse seen since {@link reset}. */
  firstError: Map<string, string> | undefined;
  private errorBody: Buffer[] | undefined;

  /** Call before sending input: until output says otherwise, the backend is busy. */
  reset(): void {
    this.idle = false;
    this.firstError = undefined;
  }

  push(chunk: Uint8Array): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.remaining === 0) {
        const need = 5 - this.header.length;
        this.header = Buffer.concat([this.header, chunk.subarray(at, at + need)]);
        at += Math.min(need, chunk.length - at);
        if (this.header.length < 5) return;
        this.type = this.header[0] as number;
        this.lastType = this.type;
        this.remaining = this.header.readInt32BE(1) - 4;
        this.header = Buffer.alloc(0);
        this.idle = false;
        this.statusPending = this.type === 0x5a; // 'Z'
        if (this.type === 0x45 && this.firstError === undefined) this.errorBody = []; // 'E'
        if (this.remaining === 0) this.finish();
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - at);
      const part = chunk.subarray(at, at + take);
      if (this.statusPending) {
        this.idle = part[0] === 0x49; // 'I'
        this.statusPending = false;
      }
      this.errorBody?.push(Buffer.from(part));
      this.remaining -= take;
      at += take;
      if (this.remaining === 0) this.finish();
    }
  }

  private finish(): void {
    if (this.errorBody !== undefined) {
      this.firstError = parseErrorFields(Buffer.concat(this.errorBody));
      this.errorBody = undefined;
    }
  }
}
