import { SqlState } from "./constants.js";
import { WireProtocolError } from "./errors.js";

const utf8 = new TextDecoder("utf-8", { fatal: true });
const lenientUtf8 = new TextDecoder("utf-8");
const EMPTY = Buffer.alloc(0);

/**
 * Bounds-checked reader over one message body. Every read past the end, and every string
 * without its NUL terminator, raises a {@link WireProtocolError} naming the message, so
 * parsers never index outside the body or return `undefined` fields.
 */
export class BodyReader {
  private offset = 0;

  /**
   * @param body the message body (after type and length)
   * @param what the message name used in error messages, e.g. "ErrorResponse"
   * @param strictUtf8 reject strings that are not valid UTF-8 (client input) instead of
   *   replacing bad sequences (backend output, whose encoding follows client_encoding)
   */
  constructor(
    private readonly body: Buffer,
    private readonly what: string,
    private readonly strictUtf8 = true,
  ) {}

  get remaining(): number {
    return this.body.length - this.offset;
  }

  fail(reason: string): never {
    throw new WireProtocolError(SqlState.ProtocolViolation, `invalid ${this.what} message: ${reason}`);
  }

  int32(): number {
    if (this.remaining < 4) this.fail("truncated Int32");
    const value = this.body.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  byte(): number {
    const value = this.body[this.offset];
    if (value === undefined) this.fail("truncated Byte1");
    this.offset += 1;
    return value;
  }

  /** A NUL-terminated string (the terminator is consumed, not returned). */
  cstring(): string {
    const end = this.body.indexOf(0, this.offset);
    if (end === -1) this.fail("string without NUL terminator");
    const raw = this.body.subarray(this.offset, end);
    this.offset = end + 1;
    if (!this.strictUtf8) return lenientUtf8.decode(raw);
    try {
      return utf8.decode(raw);
    } catch {
      this.fail("string is not valid UTF-8");
    }
  }

  /** A copy of the next `n` bytes (copied so the caller's chunk can be released). */
  bytes(n: number): Buffer {
    if (n < 0 || this.remaining < n) this.fail(`truncated field of ${n} bytes`);
    const value = Buffer.from(this.body.subarray(this.offset, this.offset + n));
    this.offset += n;
    return value;
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  /** Fails if bytes are left over: a length field that disagrees with the content. */
  end(): void {
    if (this.remaining !== 0) this.fail(`${this.remaining} unexpected trailing bytes`);
  }
}

/**
 * Accumulates pushed chunks. A chunk that arrives while nothing is pending is used as is (no
 * copy); otherwise bytes go into an owned buffer that grows by doubling, so a client sending
 * one byte at a time costs amortised O(n), not O(n^2). Capacity is sized from bytes actually
 * received, never from a length field: at most twice what is pending.
 */
export class ChunkBuffer {
  private buf: Buffer = EMPTY;
  private start = 0;
  private end = 0;
  /** False while `buf` is the caller's chunk, which we must not write into. */
  private owned = false;

  get length(): number {
    return this.end - this.start;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.length === 0) {
      this.buf = chunk;
      this.start = 0;
      this.end = chunk.length;
      this.owned = false;
      return;
    }
    const pending = this.length;
    const needed = pending + chunk.length;
    if (!this.owned || this.end + chunk.length > this.buf.length) {
      if (this.owned && needed <= this.buf.length) {
        this.buf.copy(this.buf, 0, this.start, this.end);
      } else {
        const next = Buffer.alloc(Math.max(needed, 2 * pending, 256));
        this.buf.copy(next, 0, this.start, this.end);
        this.buf = next;
        this.owned = true;
      }
      this.start = 0;
      this.end = pending;
    }
    chunk.copy(this.buf, this.end);
    this.end += chunk.length;
  }

  /** The pending bytes, without copying. Valid until the next `append`. */
  view(): Buffer {
    return this.buf.subarray(this.start, this.end);
  }

  consume(n: number): void {
    this.start = Math.min(this.start + n, this.end);
    if (this.start === this.end) this.clear();
  }

  /** Removes and returns (a copy of) all pending bytes. */
  take(): Buffer {
    const rest = Buffer.from(this.view());
    this.clear();
    return rest;
  }

  clear(): void {
    this.buf = EMPTY;
    this.start = 0;
    this.end = 0;
    this.owned = false;
  }
}
