/**
 * Whole messages out of an established session's byte stream, and the few extended-query
 * messages a transaction-mode relay rewrites (statement names in Parse, Bind, Describe and
 * Close). Sans-I/O: a splitter is fed chunks and hands back each complete message, as a view
 * into the chunk when it lies there whole, else as a copy assembled across chunks.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Largest message accepted (PostgreSQL's own limit for a message is 1 GB; PQ_LARGE_MESSAGE_LIMIT). */
export const MAX_RELAYED_MESSAGE_BYTES = 0x3fffffff;

export type MessageVisitor = (type: number, message: Buffer) => void;

export class MessageSplitter {
  #partial: Buffer | undefined;
  #filled = 0;
  #header = Buffer.alloc(5);
  #headerLength = 0;
  #broken = false;

  /** True when the stream held something that is not a message sequence: nothing more is visited. */
  get broken(): boolean {
    return this.#broken;
  }

  /** True between messages. */
  get atBoundary(): boolean {
    return !this.#broken && this.#partial === undefined && this.#headerLength === 0;
  }

  /** Visits every message that completes in `chunk`, in order; false once the stream is broken. */
  push(chunk: Buffer, visit: MessageVisitor): boolean {
    if (this.#broken) return false;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const partial = this.#partial;
      if (partial !== undefined) {
        const take = Math.min(partial.length - this.#filled, n - i);
        chunk.copy(partial, this.#filled, i, i + take);
        this.#filled += take;
        i += take;
        if (this.#filled === partial.length) {
          this.#partial = undefined;
          visit(partial[0] as number, partial);
        }
        continue;
      }
      let length: number;
      if (this.#headerLength === 0 && n - i >= 5) {
        length = chunk.readInt32BE(i + 1);
        if (length < 4 || length > MAX_RELAYED_MESSAGE_BYTES) return this.#break();
        if (n - i >= length + 1) {
          visit(chunk[i] as number, chunk.subarray(i, i + length + 1));
          i += length + 1;
          continue;
        }
        const whole = Buffer.allocUnsafe(length + 1);
        chunk.copy(whole, 0, i, n);
        this.#partial = whole;
        this.#filled = n - i;
        i = n;
        continue;
      }
      const take = Math.min(5 - this.#headerLength, n - i);
      chunk.copy(this.#header, this.#headerLength, i, i + take);
      this.#headerLength += take;
      i += take;
      if (this.#headerLength < 5) break;
      this.#headerLength = 0;
      length = this.#header.readInt32BE(1);
      if (length < 4 || length > MAX_RELAYED_MESSAGE_BYTES) return this.#break();
      const whole = Buffer.allocUnsafe(length + 1);
      this.#header.copy(whole, 0, 0, 5);
      if (length === 4) {
        visit(whole[0] as number, whole);
        continue;
      }
      this.#partial = whole;
      this.#filled = 5;
    }
    return true;
  }

  #break(): false {
    this.#broken = true;
    this.#partial = undefined;
    return false;
  }
}

/** The NUL-terminated string of `message` starting at `at`, and where the next field starts; undefined when unterminated. */
export function cstringAt(message: Buffer, at: number): { value: Buffer; next: number } | undefined {
  const end = message.indexOf(0, at);
  if (end < 0) return undefined;
  return { value: message.subarray(at, end), next: end + 1 };
}

function frame(type: number, ...parts: Buffer[]): Buffer {
  const length = 4 + parts.reduce((sum, p) => sum + p.length, 0);
  const out = Buffer.allocUnsafe(length + 1);
  out[0] = type;
  out.writeInt32BE(length, 1);
  let at = 5;
  for (const p of parts) at += p.copy(out, at);
  return out;
}

const NUL = Buffer.of(0);

/** Parse under statement name `name`, with `rest` (the query text and parameter types, as the client sent them). */
export function parseMessage(name: Buffer, rest: Buffer): Buffer {
  return frame(0x50, name, NUL, rest);
}

/** Bind of `portal` to statement `statement`, with `rest` (formats, values, result formats) as sent. */
export function bindMessage(portal: Buffer, statement: Buffer, rest: Buffer): Buffer {
  return frame(0x42, portal, NUL, statement, NUL, rest);
}

/** Describe or Close ('S' statement, 'P' portal) of `name`. */
export function targetMessage(type: 0x44 | 0x43, target: number, name: Buffer): Buffer {
  return frame(type, Buffer.of(target), name, NUL);
}

/** ParseComplete, CloseComplete: bodiless backend messages the relay answers itself. */
export const PARSE_COMPLETE = Buffer.from([0x31, 0, 0, 0, 4]);
export const CLOSE_COMPLETE = Buffer.from([0x33, 0, 0, 0, 4]);
export const SYNC = Buffer.from([0x53, 0, 0, 0, 4]);

/** The fields of an ErrorResponse or NoticeResponse message (code letter → value), latin1. */
export function responseFields(message: Buffer): Record<string, string> {
  const fields: Record<string, string> = {};
  let at = 5;
  while (at < message.length && message[at] !== 0) {
    const code = String.fromCharCode(message[at] as number);
    const end = message.indexOf(0, at + 1);
    if (end < 0) break;
    fields[code] = message.toString("utf8", at + 1, end);
    at = end + 1;
  }
  return fields;
}
