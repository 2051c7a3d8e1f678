/**
 * Reads the statement texts out of a client's relayed byte stream (frontend messages after
 * login) for the statement audit: each simple Query's text, and each Parse's statement name
 * and text. Bind values (Bind), COPY data and everything else are skipped unread. Like
 * {@link MessageFramer} it follows message boundaries across chunks without buffering the
 * stream; only the first bytes of a Query or Parse body, up to a cap, are looked at, as a view
 * into the chunk when they lie in it, else copied into a buffer of at most that cap.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html (Query, Parse)
 */

const Q = 0x51; // Query: String query
const P = 0x50; // Parse: String name, String query, Int16 count, Int32[count] parameter types
const X = 0x58; // Terminate: nothing the client sends after it is relayed

/** Bytes of a Parse's statement name kept (PostgreSQL itself keeps 63, NAMEDATALEN - 1). */
export const MAX_STATEMENT_NAME_BYTES = 256;

/** A statement text the client sent. The buffers are views, valid only during the callback. */
export interface StatementText {
  readonly kind: "query" | "parse";
  /** Parse: the prepared statement's name, raw ("" for the unnamed statement). */
  readonly name: Buffer | undefined;
  /** The text's bytes, at most the reader's cap, in the session's client_encoding. */
  readonly text: Buffer;
  /** The text's whole length in bytes when known (a truncated Parse's is not: its body holds more than the text). */
  readonly textBytes: number | undefined;
  /** `text` is the beginning of a longer text (or of a Parse whose name or terminator was not found). */
  readonly truncated: boolean;
}

export type StatementVisitor = (statement: StatementText) => void;

export class StatementReader {
  /** Body bytes of the current message still to come. */
  #remaining = 0;
  readonly #header = Buffer.alloc(5);
  #headerLength = 0;
  /** The beginning of a Query or Parse body being assembled across chunks. */
  #prefix: Buffer | undefined;
  #filled = 0;
  #type = 0;
  #bodyLength = 0;
  #stopped = false;

  /** @param maxTextBytes the longest text handed over whole; longer ones are cut there. */
  constructor(readonly maxTextBytes: number) {}

  /** True once the stream held something that is not a message sequence, or a Terminate: nothing more is read. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Visits the Query and Parse texts that complete (up to the cap) in `chunk`, in order. */
  scan(chunk: Buffer, visit: StatementVisitor): void {
    if (this.#stopped) return;
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      if (this.#remaining > 0) {
        const take = Math.min(this.#remaining, n - i);
        const prefix = this.#prefix;
        if (prefix !== undefined) {
          const c = Math.min(prefix.length - this.#filled, take);
          chunk.copy(prefix, this.#filled, i, i + c);
          this.#filled += c;
          if (this.#filled === prefix.length) {
            this.#prefix = undefined;
            this.#visit(this.#type, prefix, this.#bodyLength, visit);
          }
        }
        this.#remaining -= take;
        i += take;
        continue;
      }
      let type: number;
      let length: number;
      if (this.#headerLength === 0 && n - i >= 5) {
        type = chunk[i] as number;
        length = chunk.readInt32BE(i + 1);
        i += 5;
      } else {
        const take = Math.min(5 - this.#headerLength, n - i);
        chunk.copy(this.#header, this.#headerLength, i, i + take);
        this.#headerLength += take;
        i += take;
        if (this.#headerLength < 5) break;
        this.#headerLength = 0;
        type = this.#header[0] as number;
        length = this.#header.readInt32BE(1);
      }
      // Negative (above 2^31 - 1 unsigned) or shorter than the length field: not a message stream.
      if (length < 4 || type === X) {
        this.#stopped = true;
        return;
      }
      const bodyLength = length - 4;
      if (type === Q || type === P) {
        const want = Math.min(
          bodyLength,
          type === Q ? this.maxTextBytes + 1 : this.maxTextBytes + MAX_STATEMENT_NAME_BYTES + 2,
        );
        if (n - i >= want) {
          // In this chunk: a view, no copy.
          this.#visit(type, chunk.subarray(i, i + want), bodyLength, visit);
        } else {
          this.#prefix = Buffer.allocUnsafe(want);
          this.#filled = 0;
          this.#type = type;
          this.#bodyLength = bodyLength;
        }
      }
      this.#remaining = bodyLength;
    }
  }

  /** `prefix`: the first bytes of a Query or Parse body (all of it when short enough). */
  #visit(type: number, prefix: Buffer, bodyLength: number, visit: StatementVisitor): void {
    const cap = this.maxTextBytes;
    if (type === Q) {
      const end = prefix.indexOf(0);
      if (end >= 0 && end <= cap) {
        visit({
          kind: "query",
          name: undefined,
          text: prefix.subarray(0, end),
          textBytes: end,
          truncated: false,
        });
      } else {
        const text = prefix.subarray(0, Math.min(cap, prefix.length));
        visit({
          kind: "query",
          name: undefined,
          text,
          textBytes: Math.max(0, bodyLength - 1),
          truncated: true,
        });
      }
      return;
    }
    const nameEnd = prefix.indexOf(0);
    if (nameEnd < 0 || nameEnd > MAX_STATEMENT_NAME_BYTES) {
      const name = prefix.subarray(0, Math.min(MAX_STATEMENT_NAME_BYTES, prefix.length));
      visit({ kind: "parse", name, text: prefix.subarray(0, 0), textBytes: undefined, truncated: true });
      return;
    }
    const name = prefix.subarray(0, nameEnd);
    const start = nameEnd + 1;
    const end = prefix.indexOf(0, start);
    if (end >= 0 && end - start <= cap) {
      visit({
        kind: "parse",
        name,
        text: prefix.subarray(start, end),
        textBytes: end - start,
        truncated: false,
      });
    } else {
      const text = prefix.subarray(start, start + Math.min(cap, prefix.length - start));
      visit({ kind: "parse", name, text, textBytes: undefined, truncated: true });
    }
  }
}
