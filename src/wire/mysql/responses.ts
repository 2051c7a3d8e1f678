import { Command, MAX_PACKET_PAYLOAD } from "./constants.js";

/**
 * Server status flags carried by OK and EOF packets.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/mysql__com_8h.html (enum SERVER_STATUS_flags_enum)
 */
export const ServerStatus = {
  IN_TRANS: 0x0001,
  AUTOCOMMIT: 0x0002,
  MORE_RESULTS_EXISTS: 0x0008,
  CURSOR_EXISTS: 0x0040,
  LAST_ROW_SENT: 0x0080,
} as const;

/** Bytes of a packet's payload the tracker may need to read: an OK packet's status flags come after two 9-byte integers at most. */
export const RESPONSE_PREFIX_BYTES = 21;

// What the next server packet of the answer being followed is.
/** No answer is due. */
const IDLE = 0;
/** The first packet of a result: OK, ERR, LOCAL INFILE request or a column count. */
const FIRST = 1;
/** Column definitions, `#left` of them still due. */
const COLUMNS = 2;
/** The EOF packet after the column definitions (without CLIENT_DEPRECATE_EOF). */
const COLUMNS_EOF = 3;
/** Rows (text or binary) up to the EOF / OK terminator; also COM_FIELD_LIST's definitions. */
const ROWS = 4;
/** An answer of one packet (OK, ERR, EOF, COM_STATISTICS's string). */
const ONE = 5;
/** COM_STMT_PREPARE's first packet: COM_STMT_PREPARE_OK or ERR. */
const PREPARE = 6;
/** COM_STMT_PREPARE's parameter and column definitions (and their EOFs), `#left` still due. */
const PREPARE_DEFS = 7;
/** Lost track (an unknown command, an unsolicited or malformed packet): never idle again. */
const BROKEN = 8;

/** What the server answers a command with, as the state the answer starts in (undefined: no answer). */
function answerOf(command: number): number | undefined {
  switch (command) {
    case Command.QUERY:
    case 0x0a: // COM_PROCESS_INFO
    case 0x17: // COM_STMT_EXECUTE
      return FIRST;
    case 0x04: // COM_FIELD_LIST: column definitions up to an EOF (or ERR)
    case 0x1c: // COM_STMT_FETCH: rows up to an EOF (or ERR)
      return ROWS;
    case Command.STMT_PREPARE:
      return PREPARE;
    case Command.INIT_DB:
    case 0x05: // COM_CREATE_DB
    case 0x06: // COM_DROP_DB
    case 0x07: // COM_REFRESH
    case 0x09: // COM_STATISTICS
    case 0x0c: // COM_PROCESS_KILL
    case 0x0d: // COM_DEBUG
    case 0x0e: // COM_PING
    case 0x1a: // COM_STMT_RESET
    case 0x1b: // COM_SET_OPTION
    case Command.RESET_CONNECTION:
      return ONE;
    case Command.QUIT:
    case 0x18: // COM_STMT_SEND_LONG_DATA
    case 0x19: // COM_STMT_CLOSE
      return undefined;
    default:
      // Replication streams, MariaDB's COM_MULTI / bulk execute, obsolete commands: not followed.
      return BROKEN;
  }
}

/** Bytes of a length-encoded integer from its first byte (0: not one). */
function lenencSize(first: number): number {
  if (first < 0xfb) return 1;
  if (first === 0xfc) return 3;
  if (first === 0xfd) return 4;
  if (first === 0xfe) return 9;
  return 0;
}

function lenencValue(b: Buffer, at: number): number {
  const first = b[at] as number;
  if (first < 0xfb) return first;
  if (first === 0xfc) return b.readUInt16LE(at + 1);
  if (first === 0xfd) return b.readUIntLE(at + 1, 3);
  // 8 bytes: above 2^53 is no column count anyone sends.
  return Number(b.readBigUInt64LE(at + 1));
}

/**
 * Follows the server's answers to the client's commands in a relayed session, packet by
 * packet, to know when the answer to every command sent so far is complete and what the last
 * OK / EOF said about the session (a transaction open). Fed by {@link CommandTracker}: the
 * client's command starts, and the server's packet starts with, when asked for, the first
 * {@link RESPONSE_PREFIX_BYTES} bytes of a payload (only for OK / EOF packets, column counts
 * above 250 and COM_STMT_PREPARE_OK, so rows cost nothing but their header).
 *
 * Answers followed: OK / ERR; result sets, text or binary, with or without
 * CLIENT_DEPRECATE_EOF, one after another while SERVER_MORE_RESULTS_EXISTS; a cursor opened
 * by COM_STMT_EXECUTE (SERVER_STATUS_CURSOR_EXISTS after the definitions: no rows follow) and
 * COM_STMT_FETCH's rows; COM_STMT_PREPARE_OK with its parameter and column definitions; LOAD
 * DATA LOCAL (the 0xFB request, then the OK / ERR after the upload); COM_FIELD_LIST; the one
 * packet of COM_PING, COM_INIT_DB, COM_STATISTICS and the like; nothing for COM_QUIT,
 * COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA. Anything else (an unknown command, a packet
 * nobody asked for, a malformed OK) makes it {@link broken}: never idle again.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_query_response_text_resultset.html
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_prepare.html
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_stmt_execute_response.html
 */
export class ResponseTracker {
  #state = IDLE;
  /** Packets still due in COLUMNS / PREPARE_DEFS. */
  #left = 0;
  /** Commands sent and not yet being answered, oldest first (a ring: no allocation per command). */
  #queue: number[] = [];
  #head = 0;
  #count = 0;
  /** The status flags of the last OK or EOF packet (the login's OK to begin with). */
  #status: number;
  /** The packet waiting for its prefix was an EOF (not an OK) packet. */
  #prefixIsEof = false;
  readonly #deprecateEof: boolean;
  /**
   * The client sent COM_SET_OPTION: the server's multi-statements setting, which
   * COM_RESET_CONNECTION keeps, may no longer be the login's.
   */
  #optionSet = false;

  /**
   * @param deprecateEof the session's CLIENT_DEPRECATE_EOF: result sets end with an OK packet
   *   (header 0xFE), and no EOF follows the column definitions.
   * @param status the status flags of the login's OK packet.
   */
  constructor(deprecateEof: boolean, status = 0) {
    this.#deprecateEof = deprecateEof;
    this.#status = status;
  }

  /**
   * Every command sent so far is answered in full, the last status says no transaction is open,
   * and the session changed nothing a reset does not undo (COM_SET_OPTION's multi-statements).
   */
  get idle(): boolean {
    return this.answered && (this.#status & ServerStatus.IN_TRANS) === 0 && !this.#optionSet;
  }

  /** Every command sent so far is answered in full (whatever the transaction state). */
  get answered(): boolean {
    return this.#state === IDLE && this.#count === 0;
  }

  /** The status flags of the last OK or EOF packet. */
  get status(): number {
    return this.#status;
  }

  get broken(): boolean {
    return this.#state === BROKEN;
  }

  /** Gives up following the session (the caller saw what cannot be followed). */
  lose(): void {
    this.#state = BROKEN;
  }

  /** The client started a command (its first byte). */
  command(command: number): void {
    if (this.#state === BROKEN) return;
    if (command === 0x1b) this.#optionSet = true;
    const answer = answerOf(command);
    if (answer === undefined) return;
    if (answer === BROKEN) {
      this.#state = BROKEN;
      return;
    }
    if (this.#state === IDLE && this.#count === 0) {
      this.#state = answer;
      return;
    }
    const q = this.#queue;
    if (this.#count === q.length) {
      // Full (or empty): grow, oldest first.
      this.#queue = [...q.slice(this.#head), ...q.slice(0, this.#head), answer];
      this.#head = 0;
    } else q[(this.#head + this.#count) % q.length] = answer;
    this.#count++;
  }

  /** The answer being followed is complete: the next command's starts. */
  #done(): void {
    if (this.#count === 0) {
      this.#state = IDLE;
      return;
    }
    this.#state = this.#queue[this.#head] as number;
    this.#head = (this.#head + 1) % this.#queue.length;
    this.#count--;
  }

  /**
   * A server packet starts (`first` is its first payload byte, -1 when empty). Returns how many
   * payload bytes, from the first, {@link prefix} must be given before the next packet; 0 for none.
   */
  packet(length: number, first: number, continuation: boolean, uploadStarted: boolean): number {
    if (continuation) return 0;
    switch (this.#state) {
      case IDLE:
        // Nothing was asked: an ERR the server sends before it closes the connection, or worse.
        this.#state = BROKEN;
        return 0;
      case FIRST:
        if (first === 0xff) this.#done();
        else if (first === 0x00) return this.#want(false);
        else if (first === 0xfb) {
          // LOCAL INFILE: the OK or ERR for the upload follows it; an upload the command
          // tracker did not recognise is not followed.
          if (!uploadStarted) this.#state = BROKEN;
        } else {
          const size = lenencSize(first);
          if (size === 0 || first === 0 || length < size) this.#state = BROKEN;
          else if (size > 1) {
            this.#prefixIsEof = false;
            return size;
          } else this.#columns(first);
        }
        return 0;
      case COLUMNS:
        if (first === 0xff) this.#done();
        else if (--this.#left === 0) this.#state = this.#deprecateEof ? ROWS : COLUMNS_EOF;
        return 0;
      case COLUMNS_EOF:
        if (first === 0xff) this.#done();
        else if (first === 0xfe && length < 9) return this.#want(true);
        else this.#state = BROKEN;
        return 0;
      case ROWS:
        if (first === 0xff) this.#done();
        else if (first === 0xfe && length < (this.#deprecateEof ? MAX_PACKET_PAYLOAD : 9))
          return this.#want(!this.#deprecateEof);
        return 0;
      case ONE:
        if (first === 0x00) return this.#want(false);
        if (first === 0xfe && length < 9) return this.#want(true);
        this.#done();
        return 0;
      case PREPARE:
        if (first === 0xff) this.#done();
        else if (first === 0x00 && length >= 9) {
          this.#prefixIsEof = false;
          return 9;
        } else this.#state = BROKEN;
        return 0;
      case PREPARE_DEFS:
        if (--this.#left === 0) this.#done();
        return 0;
      default:
        return 0;
    }
  }

  #want(eof: boolean): number {
    this.#prefixIsEof = eof;
    return RESPONSE_PREFIX_BYTES;
  }

  #columns(count: number): void {
    if (count <= 0) {
      this.#state = BROKEN;
      return;
    }
    this.#state = COLUMNS;
    this.#left = count;
  }

  /** The first `length` payload bytes of the packet that asked for them (fewer when the packet is shorter). */
  prefix(bytes: Buffer, length: number): void {
    switch (this.#state) {
      case FIRST:
        if (bytes[0] === 0x00) this.#end(bytes, length, false);
        else if (length < lenencSize(bytes[0] as number)) this.#state = BROKEN;
        else this.#columns(lenencValue(bytes, 0));
        return;
      case COLUMNS_EOF: {
        const status = this.#statusOf(bytes, length, true);
        if (status < 0) return;
        this.#status = status;
        // A cursor is open: no rows follow (COM_STMT_FETCH asks for them).
        if (status & ServerStatus.CURSOR_EXISTS) this.#next(status);
        else this.#state = ROWS;
        return;
      }
      case ROWS:
      case ONE:
        this.#end(bytes, length, this.#prefixIsEof);
        return;
      case PREPARE: {
        if (length < 9) {
          this.#state = BROKEN;
          return;
        }
        const columns = bytes.readUInt16LE(5);
        const params = bytes.readUInt16LE(7);
        const eofs = this.#deprecateEof ? 0 : (columns > 0 ? 1 : 0) + (params > 0 ? 1 : 0);
        this.#left = columns + params + eofs;
        if (this.#left === 0) this.#done();
        else this.#state = PREPARE_DEFS;
        return;
      }
      default:
        return;
    }
  }

  /** An OK or EOF packet that ends a result: its status, then more results or the next command. */
  #end(bytes: Buffer, length: number, eof: boolean): void {
    const status = this.#statusOf(bytes, length, eof);
    if (status < 0) return;
    this.#status = status;
    this.#next(status);
  }

  #next(status: number): void {
    if (this.#state !== ONE && status & ServerStatus.MORE_RESULTS_EXISTS) this.#state = FIRST;
    else this.#done();
  }

  /** The status flags of an OK (after two length-encoded integers) or EOF packet; -1 (and broken) when it is too short. */
  #statusOf(bytes: Buffer, length: number, eof: boolean): number {
    let at = 3;
    if (!eof) {
      const a = lenencSize(bytes[1] ?? 0xff);
      const b = a === 0 || 1 + a >= length ? 0 : lenencSize(bytes[1 + a] as number);
      at = b === 0 ? length : 1 + a + b;
    }
    if (at + 2 > length) {
      // A pre-4.1 EOF (one byte) carries no status: the session is not one the gateway serves.
      this.#state = BROKEN;
      return -1;
    }
    return bytes.readUInt16LE(at);
  }
}

/** The status flags of an OK packet's payload (the login's), 0 when it is too short to have them. */
export function okPacketStatus(payload: Buffer): number {
  const a = lenencSize(payload[1] ?? 0xff);
  const b = a === 0 ? 0 : lenencSize(payload[1 + a] ?? 0xff);
  const at = 1 + a + b;
  return b === 0 || at + 2 > payload.length ? 0 : payload.readUInt16LE(at);
}
