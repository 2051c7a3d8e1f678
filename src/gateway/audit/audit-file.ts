import { mkdirSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { assertPrivateFile } from "../../files/permissions.js";

/** Why lines were not written: the queue was full, or the file could not be written. */
export type AuditDropReason = "queue-full" | "write-error";

export interface AuditFileOptions {
  /** The file; rotated copies are `file.1` (newest) … `file.<maxFiles>`. */
  readonly file: string;
  /** The file is rotated before a write would take it past this size. */
  readonly maxBytes: number;
  /** Rotated copies kept. */
  readonly maxFiles: number;
  /** Lines held in memory at most (queued and being written); beyond, a line is dropped. */
  readonly queueLines: number;
  /** Lines that reached the file (after each write). */
  readonly onWritten?: (lines: number) => void;
  /** Lines dropped, and why; `err` for a write error. */
  readonly onDropped?: (lines: number, reason: AuditDropReason, err?: Error) => void;
  /** After a write error, lines are dropped for this long before the file is opened again. Default 1 s. */
  readonly retryMs?: number;
  /** Milliseconds, monotonic; injected by tests. */
  readonly now?: () => number;
  /**
   * How long lines gather before one write (default 5 ms): at thousands of statements a
   * second, one write(2) per few hundred lines instead of one per turn of the event loop.
   */
  readonly batchMs?: number;
}

/** What `what` and `why` the permission check names the audit file with. */
const PRIVATE = {
  what: "The statement audit file",
  why: "it holds the SQL text of every statement sent through the gateway",
};

/**
 * An append-only JSON-lines file behind a bounded in-memory queue: {@link append} never
 * blocks and never waits for the disk. Lines gather for `batchMs` (and while a write is under
 * way), then go out in one asynchronous write; a line that finds
 * `queueLines` lines already held (queued or being written) is dropped and counted, so a
 * slow or full disk costs audit lines, never the relay's time or memory.
 *
 * The file is created 0600 (its directory 0700); one that exists readable by group or others
 * is refused at start ({@link FileModeError}, with the `chmod` that fixes it). Size-based
 * rotation, as logrotate numbers files: before a write would take the file past `maxBytes`,
 * `file.<maxFiles>` is removed, `file.<k>` renamed `file.<k+1>`, `file` renamed `file.1`, and
 * a new `file` opened. A line is never split across files; a single line longer than
 * `maxBytes` gets a file of its own. Renames keep the 0600 mode.
 */
export class AuditFile {
  readonly file: string;
  readonly #options: AuditFileOptions;
  #queue: string[] = [];
  /** Lines queued or being written. */
  #held = 0;
  #handle: FileHandle | undefined;
  #size = 0;
  /** The pending batch's timer: lines gather for `batchMs` before one write. */
  #timer: NodeJS.Timeout | undefined;
  readonly #batchMs: number;
  #writing: Promise<void> | undefined;
  /** Lines of the batch being written that reached the file (or were counted as dropped). */
  #batchWritten = 0;
  #failedAt = Number.NEGATIVE_INFINITY;
  #closed = false;
  readonly #now: () => number;

  /** Checks the file's mode (throws {@link FileModeError}) and creates its directory; the file opens at the first write. */
  constructor(options: AuditFileOptions) {
    this.#options = options;
    this.file = options.file;
    this.#now = options.now ?? (() => performance.now());
    this.#batchMs = options.batchMs ?? 5;
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    assertPrivateFile(options.file, PRIVATE);
  }

  /** Lines held now (queued or being written). */
  get held(): number {
    return this.#held;
  }

  /** Queues one line (with its newline); false when it was dropped (the queue is full, or the file closed). */
  append(line: string): boolean {
    if (this.#held >= this.#options.queueLines || this.#closed) {
      this.#options.onDropped?.(1, "queue-full");
      return false;
    }
    this.#queue.push(line);
    this.#held++;
    if (this.#timer === undefined && this.#writing === undefined) {
      this.#timer = setTimeout(this.#drain, this.#batchMs);
    }
    return true;
  }

  readonly #drain = () => {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#writing !== undefined) return;
    this.#writing = this.#writeAll().finally(() => {
      this.#writing = undefined;
    });
  };

  /** Writes batches until the queue is empty; lines queued meanwhile join the next batch. */
  async #writeAll(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      this.#batchWritten = 0;
      try {
        await this.#write(batch);
      } catch (err) {
        // What was not written of this batch is lost; the file is opened again after retryMs.
        this.#failedAt = this.#now();
        await this.#closeHandle();
        this.#options.onDropped?.(batch.length - this.#batchWritten, "write-error", err as Error);
      }
      this.#held -= batch.length;
    }
  }

  async #write(lines: string[]): Promise<void> {
    if (this.#handle === undefined) {
      if (this.#now() - this.#failedAt < (this.#options.retryMs ?? 1000)) {
        this.#options.onDropped?.(lines.length, "write-error");
        this.#batchWritten = lines.length;
        return;
      }
      await this.#open();
    }
    const { maxBytes } = this.#options;
    let from = 0;
    let bytes = 0;
    for (let k = 0; k < lines.length; k++) {
      const n = Buffer.byteLength(lines[k] as string);
      if (this.#size + bytes + n > maxBytes && this.#size + bytes > 0) {
        // Write what fits, then rotate: no line is split across files.
        if (k > from) await this.#append(lines, from, k, bytes);
        await this.#rotate();
        from = k;
        bytes = 0;
      }
      bytes += n;
    }
    if (lines.length > from) await this.#append(lines, from, lines.length, bytes);
  }

  async #append(lines: string[], from: number, to: number, bytes: number): Promise<void> {
    const data = Buffer.from(
      from === 0 && to === lines.length ? lines.join("") : lines.slice(from, to).join(""),
    );
    // One write(2) per batch (FileHandle.appendFile costs several asynchronous steps per call);
    // a short write is continued.
    const handle = this.#handle as FileHandle;
    for (let at = 0; at < data.length; ) at += (await handle.write(data, at, data.length - at)).bytesWritten;
    this.#size += bytes;
    this.#batchWritten += to - from;
    this.#options.onWritten?.(to - from);
  }

  async #open(): Promise<void> {
    assertPrivateFile(this.file, PRIVATE);
    const handle = await open(this.file, "a", 0o600);
    try {
      this.#size = (await handle.stat()).size;
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw err;
    }
    this.#handle = handle;
  }

  async #rotate(): Promise<void> {
    await this.#closeHandle();
    const { file, maxFiles } = this.#options;
    await unlink(`${file}.${maxFiles}`).catch(ignoreMissing);
    for (let k = maxFiles - 1; k >= 1; k--)
      await rename(`${file}.${k}`, `${file}.${k + 1}`).catch(ignoreMissing);
    await rename(file, `${file}.1`).catch(ignoreMissing);
    await this.#open();
  }

  async #closeHandle(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  /** Resolves once every line queued before the call is written (or dropped). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined || this.#queue.length > 0) {
      if (this.#writing === undefined) this.#drain();
      await this.#writing;
    }
  }

  /** Writes what is queued, then closes the file; later lines are dropped. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
    await this.#closeHandle();
  }
}

function ignoreMissing(err: NodeJS.ErrnoException): void {
  if (err.code !== "ENOENT") throw err;
}
