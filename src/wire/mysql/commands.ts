import { Capability, Command, MAX_PACKET_PAYLOAD } from "./constants.js";
import { RESPONSE_PREFIX_BYTES, ResponseTracker } from "./responses.js";

/** The first payload byte of the server's LOCAL INFILE request (in place of a result set). */
const LOCAL_INFILE_REQUEST = 0xfb;

const EMPTY = Buffer.alloc(0);

/** A statement text a client sent: COM_QUERY or COM_STMT_PREPARE. */
export interface MysqlStatementText {
  readonly command: number;
  /** The text's bytes (after the command byte), at most the cap, in the connection's character_set_client. */
  readonly text: Buffer;
  /** The text's whole length in bytes, when known (not for a text continued in further 0xFFFFFF-byte packets). */
  readonly textBytes: number | undefined;
  readonly truncated: boolean;
}

export interface StatementCapture {
  /** The longest text handed over whole; longer ones are cut there. */
  readonly maxTextBytes: number;
  /**
   * Called for each COM_QUERY and COM_STMT_PREPARE at the end of the {@link CommandTracker.scan}
   * that completes its text (up to the cap), unless that scan found a forbidden command (the
   * chunk is then not relayed). `text` is a view, valid only during the call.
   */
  readonly onStatement: (statement: MysqlStatementText) => void;
}

/**
 * Follows packet boundaries in one direction of a relayed stream without buffering payloads,
 * and reports each packet as it starts: its length, sequence id, first payload byte (-1 for an
 * empty packet) and whether it continues a 0xFFFFFF-byte packet. On request ({@link capture}),
 * the bytes after the first payload byte, up to a bound, are handed over too.
 */
class PacketWalker {
  /** Header bytes collected so far, plus the first payload byte. */
  readonly #header = Buffer.alloc(5);
  #headerLength = 0;
  /** Payload bytes still to skip in the current packet. */
  #skip = 0;
  #continuation = false;
  /** Bytes of the current packet to hand over (0: none asked for). */
  #captureWant = 0;
  #captured: Buffer | undefined;
  #capturedLength = 0;
  #onCaptured: ((bytes: Buffer) => void) | undefined;
  /** The first payload bytes of the current packet, when asked for ({@link wantPrefix}): one buffer for the walker's life. */
  readonly #prefix = Buffer.alloc(RESPONSE_PREFIX_BYTES);
  #prefixWant = 0;
  #prefixLength = 0;

  /**
   * Called from `onPacket`: the walk's `onPrefix` gets the packet's first `want` payload bytes
   * (fewer if the packet is shorter) in a buffer reused for every packet, before the next packet.
   */
  wantPrefix(want: number): void {
    this.#prefix[0] = this.#header[4] as number;
    this.#prefixLength = 1;
    this.#prefixWant = Math.min(want, RESPONSE_PREFIX_BYTES, 1 + this.#skip);
  }

  /**
   * Called from `onPacket`: hands the next `want` payload bytes (at most what the packet has
   * left) to `done`, as a view into the chunk when they lie in one, else as a copy.
   */
  capture(want: number, done: (bytes: Buffer) => void): void {
    const n = Math.min(want, this.#skip);
    if (n === 0) {
      done(EMPTY);
      return;
    }
    this.#captureWant = n;
    this.#captured = undefined;
    this.#capturedLength = 0;
    this.#onCaptured = done;
  }

  #take(chunk: Buffer, i: number, n: number): void {
    const want = this.#captureWant;
    if (this.#captured === undefined && n >= want) {
      this.#finishCapture(chunk.subarray(i, i + want));
      return;
    }
    this.#captured ??= Buffer.allocUnsafe(want);
    const c = Math.min(want - this.#capturedLength, n);
    chunk.copy(this.#captured, this.#capturedLength, i, i + c);
    this.#capturedLength += c;
    if (this.#capturedLength === want) this.#finishCapture(this.#captured);
  }

  #finishCapture(bytes: Buffer): void {
    const done = this.#onCaptured;
    this.#captureWant = 0;
    this.#captured = undefined;
    this.#onCaptured = undefined;
    done?.(bytes);
  }

  /** Between packets: no header or payload half read (a packet may still be continued by the next). */
  get atBoundary(): boolean {
    return this.#headerLength === 0 && this.#skip === 0 && !this.#continuation;
  }

  /**
   * Feeds a chunk; `onPacket` runs at every packet start, in order, and may return true to
   * stop the walk there (the rest of the chunk is not read).
   */
  walk(
    chunk: Buffer,
    onPacket: (
      length: number,
      seq: number,
      first: number,
      continuation: boolean,
      at: number,
    ) => boolean | undefined,
    onPrefix?: (prefix: Buffer, length: number) => void,
  ): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        if (this.#captureWant > 0) this.#take(chunk, i, n);
        if (this.#prefixWant > 0) {
          const c = Math.min(n, this.#prefixWant - this.#prefixLength);
          chunk.copy(this.#prefix, this.#prefixLength, i, i + c);
          this.#prefixLength += c;
          if (this.#prefixLength === this.#prefixWant) this.#deliverPrefix(onPrefix);
        }
        this.#skip -= n;
        i += n;
        continue;
      }
      this.#header[this.#headerLength++] = chunk[i] as number;
      i++;
      if (this.#headerLength < 4) continue;
      const length = this.#header.readUIntLE(0, 3);
      if (length > 0 && this.#headerLength < 5) continue;
      const continuation = this.#continuation;
      this.#continuation = length === MAX_PACKET_PAYLOAD;
      this.#headerLength = 0;
      this.#skip = length > 0 ? length - 1 : 0;
      const first = length > 0 ? (this.#header[4] as number) : -1;
      // Where the packet's header starts in this chunk (negative: it began in an earlier one).
      const at = i - (length > 0 ? 5 : 4);
      if (onPacket(length, this.#header[3] as number, first, continuation, at)) return;
      if (this.#prefixWant > 0 && this.#prefixLength === this.#prefixWant) this.#deliverPrefix(onPrefix);
    }
  }

  #deliverPrefix(onPrefix: ((prefix: Buffer, length: number) => void) | undefined): void {
    const length = this.#prefixWant;
    this.#prefixWant = 0;
    onPrefix?.(this.#prefix, length);
  }
}

/**
 * Follows both directions of a relayed session after login and reports the command byte of
 * every packet from the client that starts a command (sequence id 0, not the continuation of
 * a 0xFFFFFF-byte packet, not file content). The relay uses it to stop COM_CHANGE_USER
 * before it reaches the backend.
 *
 * LOAD DATA LOCAL INFILE: the server answers the client's COM_QUERY with a 0xFB packet
 * (sequence id 1) naming a file, and the client sends the file in packets numbered on from
 * 2, wrapping to 0 after 255, ending with an empty packet. Those packets are file content: a
 * wrapped one starting with 0x11 is not COM_CHANGE_USER. The upload is recognised only when
 * it cannot be anything else, and the tracker fails closed otherwise (packets with sequence
 * id 0 are commands again):
 * - the 0xFB packet is the first thing the server sends after the client sent exactly one
 *   packet, a COM_QUERY (a pipelined client's answers cannot be attributed without parsing
 *   result sets, and a row can start with 0xFB too);
 * - each file packet carries exactly the next sequence id;
 * - the server says nothing more until the client's empty packet (anything from it ends the
 *   upload as far as the tracker is concerned).
 *
 * Scan the server's bytes before they are written to the client, and the client's before
 * they are written to the server.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_local_infile_request.html
 */
export class CommandTracker {
  #client = new PacketWalker();
  #server = new PacketWalker();
  /** Packets the client started since the server last said anything. */
  #unanswered = 0;
  /** Whether the last of them is a COM_QUERY. */
  #lastIsQuery = false;
  /** Inside a LOCAL INFILE upload: the sequence id the client's next file packet must carry. */
  #uploadSeq = -1;
  /** The last file packet had 0xFFFFFF bytes: an empty packet now continues it, and ends nothing. */
  #uploadContinued = false;
  #found: number | undefined;
  #foundAt = 0;
  #forbidden: ReadonlySet<number> = new Set();
  /** Statements completed during the current scan, handed over at its end. */
  #statements: MysqlStatementText[] = [];

  #responses: ResponseTracker;
  /** The session's CLIENT_DEPRECATE_EOF: result sets end with an OK packet. */
  readonly #deprecateEof: boolean;

  /**
   * @param capture when given, COM_QUERY and COM_STMT_PREPARE texts are read (the statement audit).
   * @param capabilities the session's capability flags (CLIENT_DEPRECATE_EOF shapes result sets).
   * @param status the status flags of the login's OK packet.
   */
  constructor(
    private readonly capture?: StatementCapture,
    capabilities = 0,
    status = 0,
  ) {
    this.#deprecateEof = (capabilities & Capability.DEPRECATE_EOF) !== 0;
    this.#responses = new ResponseTracker(this.#deprecateEof, status);
  }

  /**
   * Forgets everything about the stream so far: the session continues on a new backend
   * connection (after COM_CHANGE_USER), from a packet boundary on both sides.
   */
  reset(status = 0): void {
    this.#responses = new ResponseTracker(this.#deprecateEof, status);
    this.#client = new PacketWalker();
    this.#server = new PacketWalker();
    this.#unanswered = 0;
    this.#lastIsQuery = false;
    this.#uploadSeq = -1;
    this.#uploadContinued = false;
  }

  /**
   * Whether the backend may serve another client after a reset: both streams at a packet
   * boundary, every command answered in full, no upload under way, and the last OK / EOF
   * said no transaction is open.
   */
  get idle(): boolean {
    return this.#responses.idle && this.#uploadSeq < 0 && this.#client.atBoundary && this.#server.atBoundary;
  }

  /** The server's answers as followed so far (status flags, broken). */
  get responses(): ResponseTracker {
    return this.#responses;
  }

  /** Whether the client is sending a LOCAL INFILE file (for tests and logs). */
  get uploading(): boolean {
    return this.#uploadSeq >= 0;
  }

  /** Feeds a chunk from the client; returns the first command in `forbidden` that it starts, if any. */
  scan(chunk: Buffer, forbidden: ReadonlySet<number>): number | undefined {
    this.#found = undefined;
    this.#forbidden = forbidden;
    this.#client.walk(chunk, this.#onClientPacket);
    if (this.#statements.length > 0) {
      const statements = this.#statements;
      this.#statements = [];
      if (this.#found === undefined) for (const s of statements) this.capture?.onStatement(s);
    }
    return this.#found;
  }

  /**
   * Where, in the chunk of the last {@link scan} that found a forbidden command, that
   * command's packet starts: the bytes before it are earlier commands. Negative when its
   * header began in an earlier chunk (those bytes were relayed already).
   */
  get foundAt(): number {
    return this.#foundAt;
  }

  /** Whether what the server sent so far ends with a whole packet (a packet of ours may follow). */
  get serverAtBoundary(): boolean {
    return this.#server.atBoundary;
  }

  /** Feeds a chunk from the server. */
  scanServer(chunk: Buffer): void {
    this.#server.walk(chunk, this.#onServerPacket, this.#onServerPrefix);
  }

  readonly #onServerPrefix = (prefix: Buffer, length: number) => this.#responses.prefix(prefix, length);

  readonly #onClientPacket = (
    length: number,
    seq: number,
    first: number,
    continuation: boolean,
    at: number,
  ) => {
    if (this.#uploadSeq >= 0) {
      if (seq === this.#uploadSeq) {
        this.#uploadSeq = (seq + 1) & 0xff;
        const ends = length === 0 && !this.#uploadContinued;
        this.#uploadContinued = length === MAX_PACKET_PAYLOAD;
        if (ends) this.#uploadSeq = -1;
        return undefined;
      }
      // Not the next file packet: whatever this is, it is judged as a command would be.
      this.#uploadSeq = -1;
    }
    if (continuation) return undefined;
    this.#unanswered++;
    this.#lastIsQuery = seq === 0 && first === Command.QUERY;
    if (seq === 0 && this.#forbidden.has(first)) {
      this.#found = first;
      this.#foundAt = at;
      return true;
    }
    // A packet that is neither a command nor file content: the answers cannot be followed.
    if (seq === 0) this.#responses.command(first);
    else this.#responses.lose();
    if (
      this.capture !== undefined &&
      seq === 0 &&
      (first === Command.QUERY || first === Command.STMT_PREPARE)
    ) {
      const { maxTextBytes } = this.capture;
      const continued = length === MAX_PACKET_PAYLOAD;
      const textBytes = length - 1;
      this.#client.capture(maxTextBytes, (text) =>
        this.#statements.push({
          command: first,
          text,
          textBytes: continued ? undefined : textBytes,
          truncated: continued || textBytes > maxTextBytes,
        }),
      );
    }
    return undefined;
  };

  readonly #onServerPacket = (length: number, seq: number, first: number, continuation: boolean) => {
    // The server waits for the whole file before it answers: anything else means this was no upload.
    if (this.#uploadSeq >= 0) this.#responses.lose();
    this.#uploadSeq = -1;
    if (!continuation) {
      const answersOneQuery = this.#unanswered === 1 && this.#lastIsQuery;
      this.#unanswered = 0;
      if (answersOneQuery && seq === 1 && first === LOCAL_INFILE_REQUEST && length > 1) {
        this.#uploadSeq = 2;
        this.#uploadContinued = false;
      }
    }
    const want = this.#responses.packet(length, first, continuation, this.#uploadSeq >= 0);
    if (want > 0) this.#server.wantPrefix(want);
    return undefined;
  };
}
