/**
 * Follows the message boundaries of an established session's byte stream (type byte + Int32
 * length) without copying or buffering it, so a relay can know where each message starts
 * while it forwards the chunks as they came. Only the messages a caller asks for are
 * assembled whole (they are small: ParameterStatus, ReadyForQuery).
 *
 * @see https://www.postgresql.org/docs/current/protocol-overview.html#PROTOCOL-MESSAGE-CONCEPTS
 */

/** Called at each message: `offset` is where it starts in the current chunk (-1 when it began in an earlier one). */
export type FrameVisitor = (type: number, offset: number, whole: Buffer | undefined) => boolean | undefined;

/** One lookup table per set of wanted types, shared by every framer that wants them. */
const wantedTables = new Map<string, Uint8Array>();

function wantedTable(types: readonly number[]): Uint8Array {
  const key = [...types].sort((a, b) => a - b).join(",");
  let table = wantedTables.get(key);
  if (!table) {
    table = new Uint8Array(256);
    for (const t of types) table[t & 0xff] = 1;
    wantedTables.set(key, table);
  }
  return table;
}

export class MessageFramer {
  /** Body bytes of the current message still to come. */
  #remaining = 0;
  /** A header split across chunks (allocated the first time one is). */
  #header: Buffer | undefined;
  #headerLength = 0;
  /** The message being assembled whole, when its type is wanted. */
  #whole: Buffer | undefined;
  #wholeFilled = 0;
  #broken = false;

  /** 1 for the types handed over whole: looked up per message, shared between framers. */
  readonly #wanted: Uint8Array;

  /**
   * @param wanted types (byte values) to hand over whole; their length must not exceed `maxWhole`.
   * @param maxWhole a wanted message longer than this breaks the framer (it stops following the stream).
   */
  constructor(
    wanted: readonly number[],
    private readonly maxWhole = 64 * 1024,
  ) {
    this.#wanted = wantedTable(wanted);
  }

  /** True when the stream held something that is not a message sequence; nothing more is visited. */
  get broken(): boolean {
    return this.#broken;
  }

  /** True between messages: nothing of a message is pending. */
  get atBoundary(): boolean {
    return !this.#broken && this.#remaining === 0 && this.#headerLength === 0 && this.#whole === undefined;
  }

  /**
   * Visits the messages that start (or complete, for wanted types) in `chunk`. A visitor that
   * returns true stops the scan there (the rest of the chunk is not looked at; the caller is
   * expected to stop following the stream); scan then returns true.
   */
  scan(chunk: Buffer, visit: FrameVisitor): boolean {
    if (this.#broken) return false;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      if (this.#whole !== undefined) {
        const take = Math.min(this.#whole.length - this.#wholeFilled, n - i);
        chunk.copy(this.#whole, this.#wholeFilled, i, i + take);
        this.#wholeFilled += take;
        i += take;
        if (this.#wholeFilled === this.#whole.length) {
          const whole = this.#whole;
          this.#whole = undefined;
          // Assembled across chunks: it began in an earlier one.
          if (visit(whole[0] as number, -1, whole) === true) return true;
        }
        continue;
      }
      if (this.#remaining > 0) {
        const skip = Math.min(this.#remaining, n - i);
        this.#remaining -= skip;
        i += skip;
        continue;
      }
      // A header: 5 bytes, possibly split across chunks.
      let type: number;
      let length: number;
      let start: number;
      if (this.#headerLength === 0 && n - i >= 5) {
        type = chunk[i] as number;
        length =
          (((chunk[i + 1] as number) << 24) |
            ((chunk[i + 2] as number) << 16) |
            ((chunk[i + 3] as number) << 8) |
            (chunk[i + 4] as number)) >>>
          0;
        start = i;
        i += 5;
      } else {
        this.#header ??= Buffer.alloc(5);
        const header = this.#header;
        const take = Math.min(5 - this.#headerLength, n - i);
        chunk.copy(header, this.#headerLength, i, i + take);
        this.#headerLength += take;
        i += take;
        if (this.#headerLength < 5) break;
        this.#headerLength = 0;
        type = header[0] as number;
        length = header.readInt32BE(1);
        // Only a header that began in an earlier chunk is assembled here.
        start = -1;
      }
      if (length < 4 || length > 0x7fffffff) {
        this.#broken = true;
        return false;
      }
      if (this.#wanted[type] === 1) {
        if (length + 1 > this.maxWhole) {
          this.#broken = true;
          return false;
        }
        if (start >= 0 && i + length - 4 <= n) {
          // Whole in this chunk: a view, no copy.
          i += length - 4;
          if (visit(type, start, chunk.subarray(start, i)) === true) return true;
          continue;
        }
        const whole = Buffer.allocUnsafe(length + 1);
        whole[0] = type;
        whole.writeInt32BE(length, 1);
        if (length === 4) {
          // No body: whole already (its header came split across chunks).
          if (visit(type, -1, whole) === true) return true;
          continue;
        }
        this.#whole = whole;
        this.#wholeFilled = 5;
        continue;
      }
      this.#remaining = length - 4;
      if (visit(type, start, undefined) === true) return true;
    }
    return false;
  }
}
