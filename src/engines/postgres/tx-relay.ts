import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import type { SessionAudit } from "../../gateway/audit/statement-audit.js";
import { destroySelf } from "../../gateway/connection.js";
import {
  bindMessage,
  cstringAt,
  errorResponse,
  MessageSplitter,
  PARSE_COMPLETE,
  parseMessage,
  responseFields,
  SqlState,
  StatementReader,
  type StatementText,
  targetMessage,
} from "../../wire/postgres/index.js";
import { parameterName, sharedParameterStatus } from "./pool.js";
import { type PinReason, REAPPLIED_REPORTED, type SqlEffects, sqlEffects } from "./sql-effects.js";
import type { Borrow, TxBackend } from "./tx-pool.js";

// Frontend message types.
const F_QUERY = 0x51;
const F_PARSE = 0x50;
const F_BIND = 0x42;
const F_DESCRIBE = 0x44;
const F_CLOSE = 0x43;
const F_SYNC = 0x53;
const F_EXECUTE = 0x45;
const F_FLUSH = 0x48;
const F_FUNCTION_CALL = 0x46;
const F_TERMINATE = 0x58;
// Backend message types.
const B_PARSE_COMPLETE = 0x31;
const B_CLOSE_COMPLETE = 0x33;
const B_PARAMETER_STATUS = 0x53;
const B_ERROR = 0x45;
const B_READY = 0x5a;

/** A Close of this statement name is answered CloseComplete and touches nothing (no such statement). */
const NO_STATEMENT = Buffer.from("iamdb_none", "latin1");
/** The body of a Parse of an empty statement, used to make the server report a duplicate name itself. */
const EMPTY_STATEMENT = Buffer.from([0x3b, 0, 0, 0]);
const STATEMENT_TARGET = 0x53; // 'S'
/** Client bytes held while waiting for a backend before the client is no longer read. */
const INBOX_LIMIT = 64 * 1024;
const READY_IDLE = Buffer.from([B_READY, 0, 0, 0, 5, 0x49]);

/** The client's session as the pool carries it from backend to backend. */
export interface TxClientState {
  /**
   * The latest ParameterStatus the client was told per parameter (raw). At login: the startup
   * values (as ParameterStatus messages) for parameters the pool re-applies.
   */
  readonly parameters: Map<string, Buffer>;
  /** Tracked `SET` statements (parameter → text) in effect for the client. */
  readonly sets: Map<string, string>;
  /** The client's named prepared statements: its name → the server-side name and Parse body after the name. */
  readonly statements: Map<string, { readonly server: Buffer; readonly rest: Buffer }>;
}

/** The server-side name for a Parse body (query text and parameter types): the same on every backend. */
export function serverStatementName(rest: Buffer): Buffer {
  return Buffer.from(`iamdb_${createHash("sha256").update(rest).digest("hex").slice(0, 40)}`, "latin1");
}

/** The value of a raw ParameterStatus message, as bytes. */
export function parameterValue(raw: Buffer): Buffer {
  const nameEnd = raw.indexOf(0, 5);
  const end = raw.indexOf(0, nameEnd + 1);
  return raw.subarray(nameEnd + 1, end < 0 ? raw.length : end);
}

/** `SET name = 'value'` with the value's bytes as they were reported (in the client's encoding). */
function setStatement(name: string, value: Buffer): Buffer {
  const quoted: number[] = [];
  for (const b of value) {
    if (b === 0x27) quoted.push(0x27);
    quoted.push(b);
  }
  return Buffer.concat([
    Buffer.from(`SET ${name} = '`, "latin1"),
    Buffer.from(quoted),
    Buffer.from("'", "latin1"),
  ]);
}

/** A request's effects, with the text of a tracked SET. */
type CycleEffects = SqlEffects & { readonly text?: string };

interface ParseExpectation {
  /** The client did not send this Parse (re-prepared for a Bind or Describe): its ParseComplete is not relayed. */
  readonly swallow: boolean;
  /** The server-side statement it makes, forgotten if the Parse fails. */
  readonly server: string | undefined;
  readonly cycle: number;
}

interface CloseExpectation {
  /** Answer the client with this instead (a ParseComplete for a statement the backend already has). */
  readonly replace: Buffer | undefined;
  readonly swallow: boolean;
  readonly cycle: number;
}

export interface TransactionRelayOptions {
  readonly client: Socket;
  readonly state: TxClientState;
  readonly maxPreparedStatements: number;
  /** Borrows a backend for the next transaction. */
  readonly borrow: () => Borrow;
  /** An idle backend now, if the pool has one (no wait, no promise). */
  readonly takeIdle: () => TxBackend | undefined;
  /** Gives a backend back: `reusable` when idle and clean, else it is closed. */
  readonly release: (backend: TxBackend, reusable: boolean) => void;
  /** The session is pinned to its backend from now on (called once). */
  readonly onPin: (reason: PinReason) => void;
  /** A borrow failed (timeout, the backend refused a new login): the FATAL to send the client. */
  readonly borrowFailed: (err: Error) => Buffer;
  /** Called once when the session ends. */
  readonly onEnd: () => void;
  readonly audit?: SessionAudit | undefined;
}

/**
 * Relays one client's session in transaction mode: the client holds a backend connection
 * only from the first message of a transaction (or of a simple query outside one) to the
 * ReadyForQuery 'I' that ends it, with nothing else in flight. Messages are handled whole
 * (so the client only ever sees whole messages, whichever backend they came from):
 *
 * - named prepared statements are renamed to a server-side name per Parse body
 *   ({@link serverStatementName}) and prepared again on a backend that lacks them before a
 *   Bind or Describe needs them (ParseComplete swallowed), pgbouncer ≥ 1.21's way; each
 *   backend keeps at most `maxPreparedStatements`, the least recently used closed first;
 * - the client's reported parameters (TimeZone, DateStyle, …) and tracked SETs are applied
 *   to a backend whose values differ before the client's messages reach it;
 * - what cannot be carried between backends pins the session (see sql-effects.ts).
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-EXT-QUERY
 */
export class TransactionRelay {
  readonly #fromClient = new MessageSplitter();
  #fromBackend = new MessageSplitter();
  /** Client messages not yet handled (no backend yet, or one being prepared). */
  readonly #inbox: Buffer[] = [];
  #backend: TxBackend | undefined;
  #borrow: Borrow | undefined;
  /** A restore (SETs) runs on the backend: its answers are not relayed. */
  #restoring = false;
  #restoreFailed = false;
  /** The login's first restore: the client is told its parameters once it completes. */
  #greeting: ((parameters: Buffer[]) => Buffer[]) | undefined;
  /** Requests (Query, Sync, FunctionCall) sent to the backend, and ReadyForQuery received, since it was attached. */
  #cyclesSent = 0;
  #cyclesDone = 0;
  /** The effects of each request's SQL, applied when its ReadyForQuery comes without an error. */
  readonly #cycleEffects: Array<CycleEffects | undefined> = [];
  #cycleFailed = false;
  readonly #parses: ParseExpectation[] = [];
  readonly #closes: CloseExpectation[] = [];
  /** An extended-query message was sent since the last Sync. */
  #extended = false;
  /** The client's transaction status from the last ReadyForQuery: 'I', 'T' or 'E'. */
  #status = 0x49;
  #pinned: PinReason | undefined;
  #ended = false;
  /** Effects of Parse texts, applied at the next Sync's ReadyForQuery. */
  #pendingParseEffects: SqlEffects | undefined;
  readonly #clientListener: (chunk: Buffer) => void;

  constructor(private readonly o: TransactionRelayOptions) {
    const audit = o.audit;
    if (audit === undefined) {
      this.#clientListener = this.#onClientData;
    } else {
      const reader = new StatementReader(audit.maxTextBytes);
      const statement = (s: StatementText) => audit.postgres(s, o.state.parameters.get("client_encoding"));
      this.#clientListener = (chunk: Buffer) => {
        reader.scan(chunk, statement);
        this.#onClientData(chunk);
      };
    }
  }

  /** The backend serving the client now, for cancel requests. */
  get backend(): TxBackend | undefined {
    return this.#restoring ? undefined : this.#backend;
  }

  get pinned(): PinReason | undefined {
    return this.#pinned;
  }

  /**
   * Starts the session on `first`, the backend the login borrowed: the client's startup
   * parameters are applied to it, then `greeting(parameters)` (AuthenticationOk, the
   * ParameterStatus messages, BackendKeyData, ReadyForQuery) is sent, and the backend goes back.
   */
  start(first: TxBackend | undefined, greeting: (parameters: Buffer[]) => Buffer[]): void {
    const { client } = this.o;
    client.on("data", this.#clientListener);
    client.on("end", this.#onClientGone);
    client.on("close", this.#onClientGone);
    client.on("error", this.#onClientGone);
    if (first === undefined) {
      // No backend free now: the client is greeted from a fresh login's values with its
      // startup parameters in place (as pgbouncer does); its first transaction applies them.
      client.write(Buffer.concat(greeting([...this.o.state.parameters.values()])));
    } else {
      this.#greeting = greeting;
      this.#attach(first);
    }
    client.resume();
  }

  // ---- attaching and detaching a backend ----

  #attach(backend: TxBackend): void {
    this.#backend = backend;
    this.#borrow = undefined;
    this.#fromBackend = new MessageSplitter();
    this.#cyclesSent = 0;
    this.#cyclesDone = 0;
    this.#cycleEffects.length = 0;
    this.#parses.length = 0;
    this.#closes.length = 0;
    this.#cycleFailed = false;
    const { socket } = backend;
    socket.on("data", this.#onBackendData);
    socket.on("end", this.#onBackendGone);
    socket.on("close", this.#onBackendGone);
    socket.on("error", this.#onBackendGone);
    socket.resume();
    const restore = this.#restoreStatement(backend);
    if (restore !== undefined) {
      this.#restoring = true;
      this.#restoreFailed = false;
      socket.write(restore);
      return;
    }
    this.#restored();
    if (this.#readyToDetach && this.#idle()) {
      this.#readyToDetach = false;
      this.#detach(true);
    }
  }

  /** The SQL that makes `backend` match the client's session, or undefined when it does. */
  #restoreStatement(backend: TxBackend): Buffer | undefined {
    const { state } = this.o;
    const parts: Buffer[] = [];
    for (const [name, raw] of state.parameters) {
      if (!REAPPLIED_REPORTED.has(name.toLowerCase())) continue;
      const theirs = backend.parameters.get(name);
      if (theirs?.equals(raw)) continue;
      parts.push(setStatement(name, parameterValue(raw)));
    }
    for (const name of backend.sets.keys())
      if (!state.sets.has(name)) parts.push(Buffer.from(`RESET ${name}`, "latin1"));
    for (const [name, text] of state.sets)
      if (backend.sets.get(name) !== text) parts.push(Buffer.from(text, "utf8"));
    if (backend.invalidated) {
      parts.push(Buffer.from("DEALLOCATE ALL", "latin1"));
      backend.prepared.clear();
    }
    if (parts.length === 0) return undefined;
    const sql = Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [p] : [Buffer.from(";"), p])));
    // query() takes a string; the bytes are kept as they are (values follow client_encoding).
    const message = Buffer.allocUnsafe(sql.length + 6);
    message[0] = F_QUERY;
    message.writeInt32BE(sql.length + 5, 1);
    sql.copy(message, 5);
    message[sql.length + 5] = 0;
    return message;
  }

  /** The backend matches the client's session: the client's messages flow. */
  #restored(): void {
    const backend = this.#backend as TxBackend;
    this.#restoring = false;
    backend.invalidated = false;
    backend.sets.clear();
    for (const [name, text] of this.o.state.sets) backend.sets.set(name, text);
    if (this.#greeting !== undefined) {
      // The login: the client learns the values its startup parameters produced.
      const { state } = this.o;
      state.parameters.clear();
      for (const [name, raw] of backend.parameters) state.parameters.set(name, raw);
      const greeting = this.#greeting;
      this.#greeting = undefined;
      this.o.client.write(Buffer.concat(greeting([...state.parameters.values()])));
    }
    this.#readyToDetach = true;
    this.#pump();
  }

  /** Whether the backend can go back: idle, nothing in flight either way, not pinned. */
  #idle(): boolean {
    const b = this.#backend;
    return (
      b !== undefined &&
      !this.#restoring &&
      this.#pinned === undefined &&
      this.#status === 0x49 &&
      this.#cyclesSent === this.#cyclesDone &&
      !this.#extended &&
      this.#inbox.length === 0 &&
      this.#fromClient.atBoundary &&
      this.#fromBackend.atBoundary &&
      b.socket.writableLength === 0
    );
  }

  #detach(reusable: boolean): void {
    const backend = this.#backend;
    if (backend === undefined) return;
    this.#backend = undefined;
    const { socket } = backend;
    socket.off("data", this.#onBackendData);
    socket.off("end", this.#onBackendGone);
    socket.off("close", this.#onBackendGone);
    socket.off("error", this.#onBackendGone);
    socket.off("drain", this.#resumeClient);
    // Parses not confirmed (an error skipped them) made no statement.
    for (const p of this.#parses) if (p.server !== undefined) backend.prepared.delete(p.server);
    this.o.release(backend, reusable);
  }

  // ---- the client's messages ----

  readonly #onClientData = (chunk: Buffer) => {
    if (!this.#fromClient.push(chunk, this.#takeClientMessage)) {
      this.#fatal(
        SqlState.ProtocolViolation,
        "invalid message from the client (message length out of range)",
      );
      return;
    }
    if (this.#borrow !== undefined && this.#inboxBytes > INBOX_LIMIT) this.o.client.pause();
    this.#pump();
  };

  readonly #takeClientMessage = (_type: number, message: Buffer) => {
    this.#inbox.push(message);
    this.#inboxBytes += message.length;
  };

  /** Bytes in the inbox: while a borrow waits the client is read on until this passes INBOX_LIMIT. */
  #inboxBytes = 0;

  /** Handles the inbox when a backend is ready for it; borrows one when none is attached. */
  #pump(): void {
    if (this.#ended || this.#inbox.length === 0) return;
    const backend = this.#backend;
    if (backend === undefined) {
      if ((this.#inbox[0] as Buffer)[0] === F_TERMINATE) {
        this.#finish();
        return;
      }
      if (this.#borrow !== undefined) return;
      if (this.#answerParsesHere()) {
        this.#pump();
        return;
      }
      const idle = this.o.takeIdle();
      if (idle !== undefined) {
        this.#attach(idle);
        return;
      }
      // Not paused for a short wait (pause and resume cost a system call each): only when
      // the client keeps sending past INBOX_LIMIT meanwhile (see #onClientData).
      const borrow = this.o.borrow();
      this.#borrow = borrow;
      borrow.backend.then(
        (b) => {
          if (this.#ended) {
            this.o.release(b, true);
            return;
          }
          this.o.client.resume();
          this.#attach(b);
        },
        (err: Error) => {
          if (this.#ended) return;
          this.#borrow = undefined;
          this.#endWith(this.o.borrowFailed(err));
        },
      );
      return;
    }
    if (this.#restoring) return;
    this.#inboxBytes = 0;
    const out: Buffer[] = [];
    while (this.#inbox.length > 0) {
      const message = this.#inbox.shift() as Buffer;
      if (message[0] === F_TERMINATE) {
        if (out.length > 0) backend.socket.write(Buffer.concat(out));
        this.#finish();
        return;
      }
      this.#forward(message, backend, out);
    }
    if (out.length === 0) return;
    if (!backend.socket.write(out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out))) {
      this.o.client.pause();
      backend.socket.once("drain", this.#resumeClient);
    }
  }

  /**
   * A cycle of named Parse messages and its Sync outside a transaction is answered without a
   * backend (ParseComplete for each, ReadyForQuery 'I'): the statements are prepared on the
   * backend that first needs them, by a Bind or Describe. A client library that prepares
   * synchronously (pgbench -M prepared, per connection) therefore never waits for a backend
   * held by a sibling connection's open transaction. The price: a statement's own errors
   * (syntax, unknown table) are reported at its first Bind or Describe, not at Parse.
   * True when the inbox's first cycle was answered.
   */
  #answerParsesHere(): boolean {
    if (this.#status !== 0x49) return false;
    const sync = this.#inbox.findIndex((m) => m[0] !== F_PARSE);
    if (sync <= 0 || (this.#inbox[sync] as Buffer)[0] !== F_SYNC) return false;
    const parses = this.#inbox.slice(0, sync).map((m) => {
      const name = cstringAt(m, 5);
      const text = name && cstringAt(m, name.next);
      return { m, name, text };
    });
    for (const { name, text } of parses) {
      if (!name || !text || name.value.length === 0) return false;
      const e = sqlEffects(text.value.toString("utf8"), false);
      if (e.pin || e.set || e.reset || e.deallocateAll || e.discardAll) return false;
    }
    this.#inbox.splice(0, sync + 1);
    const out: Buffer[] = [];
    const { statements } = this.o.state;
    for (const { m, name } of parses) {
      const key = (name as { value: Buffer }).value.toString("latin1");
      if (statements.has(key)) {
        out.push(
          errorResponse({
            severity: "ERROR",
            code: SqlState.DuplicatePreparedStatement,
            message: `prepared statement "${key}" already exists`,
          }),
        );
        break;
      }
      const rest = Buffer.from(m.subarray((name as { next: number }).next));
      statements.set(key, { server: serverStatementName(rest), rest });
      out.push(PARSE_COMPLETE);
    }
    out.push(READY_IDLE);
    this.o.client.write(Buffer.concat(out));
    return true;
  }

  readonly #resumeClient = () => {
    if (!this.#ended) this.o.client.resume();
  };

  #pin(reason: PinReason): void {
    if (this.#pinned !== undefined) return;
    this.#pinned = reason;
    this.o.onPin(reason);
  }

  /** Adds what `message` becomes on `backend` to `out`, and what its answers will need. */
  #forward(message: Buffer, backend: TxBackend, out: Buffer[]): void {
    const type = message[0] as number;
    switch (type) {
      case F_QUERY: {
        const text = message.toString("utf8", 5, message.length - 1);
        const effects = sqlEffects(text, this.#status !== 0x49);
        if (effects.pin) this.#pin(effects.pin);
        this.#cycleEffects.push(effects.set === undefined ? effects : { ...effects, text });
        this.#cyclesSent++;
        out.push(message);
        return;
      }
      case F_SYNC:
        this.#extended = false;
        this.#cycleEffects.push(this.#pendingParseEffects);
        this.#pendingParseEffects = undefined;
        this.#cyclesSent++;
        out.push(message);
        return;
      case F_FUNCTION_CALL:
        this.#cycleEffects.push(undefined);
        this.#cyclesSent++;
        out.push(message);
        return;
      case F_PARSE:
        this.#extended = true;
        this.#parse(message, backend, out);
        return;
      case F_BIND: {
        this.#extended = true;
        const portal = cstringAt(message, 5);
        const statement = portal && cstringAt(message, portal.next);
        const known = statement && statement.value.length > 0 ? this.#statement(statement.value) : undefined;
        if (!portal || !statement || !known) {
          out.push(message);
          return;
        }
        this.#ensurePrepared(known, backend, out);
        out.push(bindMessage(portal.value, known.server, message.subarray(statement.next)));
        return;
      }
      case F_DESCRIBE:
      case F_CLOSE: {
        this.#extended = true;
        const target = message[5];
        const name = cstringAt(message, 6);
        const known =
          target === STATEMENT_TARGET && name && name.value.length > 0
            ? this.#statement(name.value)
            : undefined;
        if (type === F_CLOSE) {
          this.#closes.push({ replace: undefined, swallow: false, cycle: this.#cyclesSent });
          if (known && name) {
            // The client's name goes; the server's statement stays for others (closed by the LRU).
            this.o.state.statements.delete(name.value.toString("latin1"));
            out.push(targetMessage(F_CLOSE, STATEMENT_TARGET, NO_STATEMENT));
            return;
          }
          out.push(message);
          return;
        }
        if (!known) {
          out.push(message);
          return;
        }
        this.#ensurePrepared(known, backend, out);
        out.push(targetMessage(F_DESCRIBE, STATEMENT_TARGET, known.server));
        return;
      }
      case F_EXECUTE:
      case F_FLUSH:
        this.#extended = true;
        out.push(message);
        return;
      default:
        // CopyData, CopyDone, CopyFail and anything else: as sent.
        out.push(message);
    }
  }

  #statement(name: Buffer): { server: Buffer; rest: Buffer } | undefined {
    return this.o.state.statements.get(name.toString("latin1"));
  }

  #parse(message: Buffer, backend: TxBackend, out: Buffer[]): void {
    const name = cstringAt(message, 5);
    if (!name) {
      out.push(message);
      this.#parses.push({ swallow: false, server: undefined, cycle: this.#cyclesSent });
      return;
    }
    const rest = message.subarray(name.next);
    const text = cstringAt(message, name.next);
    if (text) {
      const effects = sqlEffects(text.value.toString("utf8"), this.#status !== 0x49);
      if (effects.pin) this.#pin(effects.pin);
      // A SET or RESET through Parse: its outcome is not followed (conservative).
      else if (effects.set !== undefined || effects.reset !== undefined) this.#pin("set-untracked");
      else if (effects.deallocateAll || effects.discardAll)
        this.#pendingParseEffects = { ...this.#pendingParseEffects, ...effects };
    }
    if (name.value.length === 0) {
      // The unnamed statement lives within the transaction (or Sync cycle) that made it.
      out.push(message);
      this.#parses.push({ swallow: false, server: undefined, cycle: this.#cyclesSent });
      return;
    }
    const key = name.value.toString("latin1");
    const statements = this.o.state.statements;
    if (statements.has(key)) {
      // As PostgreSQL: 42P05 "prepared statement … already exists", said by the server itself
      // for the client's own name (an empty statement is made under it, then made again).
      this.#closes.push({ replace: undefined, swallow: true, cycle: this.#cyclesSent });
      out.push(targetMessage(F_CLOSE, STATEMENT_TARGET, name.value));
      this.#parses.push({ swallow: true, server: undefined, cycle: this.#cyclesSent });
      out.push(parseMessage(name.value, EMPTY_STATEMENT), parseMessage(name.value, EMPTY_STATEMENT));
      return;
    }
    const entry = { server: serverStatementName(rest), rest: Buffer.from(rest) };
    statements.set(key, entry);
    const server = entry.server.toString("latin1");
    if (backend.prepared.has(server)) {
      backend.prepared.delete(server);
      backend.prepared.set(server, true);
      // Answered in its place: a Close of no statement is, with CloseComplete.
      this.#closes.push({ replace: PARSE_COMPLETE, swallow: false, cycle: this.#cyclesSent });
      out.push(targetMessage(F_CLOSE, STATEMENT_TARGET, NO_STATEMENT));
      return;
    }
    this.#makeRoom(backend, out);
    backend.prepared.set(server, true);
    this.#parses.push({ swallow: false, server, cycle: this.#cyclesSent });
    out.push(parseMessage(entry.server, entry.rest));
  }

  /** Prepares the client's statement on `backend` if it lacks it (the ParseComplete is not relayed). */
  #ensurePrepared(entry: { server: Buffer; rest: Buffer }, backend: TxBackend, out: Buffer[]): void {
    const server = entry.server.toString("latin1");
    if (backend.prepared.has(server)) {
      backend.prepared.delete(server);
      backend.prepared.set(server, true);
      return;
    }
    this.#makeRoom(backend, out);
    backend.prepared.set(server, true);
    this.#parses.push({ swallow: true, server, cycle: this.#cyclesSent });
    out.push(parseMessage(entry.server, entry.rest));
  }

  /** Closes the backend's least recently used statements beyond maxPreparedStatements − 1. */
  #makeRoom(backend: TxBackend, out: Buffer[]): void {
    while (backend.prepared.size >= this.o.maxPreparedStatements) {
      const oldest = backend.prepared.keys().next().value as string;
      backend.prepared.delete(oldest);
      this.#closes.push({ replace: undefined, swallow: true, cycle: this.#cyclesSent });
      out.push(targetMessage(F_CLOSE, STATEMENT_TARGET, Buffer.from(oldest, "latin1")));
    }
  }

  // ---- the backend's messages ----

  readonly #onBackendData = (chunk: Buffer) => {
    const out: Buffer[] = [];
    const ok = this.#fromBackend.push(chunk, (type, message) => this.#fromBackendMessage(type, message, out));
    if (this.#ended) return;
    if (out.length > 0) {
      const data = out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
      const backend = this.#backend;
      if (!this.o.client.write(data) && backend) {
        backend.socket.pause();
        this.o.client.once("drain", this.#resumeBackend);
      }
    }
    if (!ok) {
      this.#backend?.socket.destroy();
      return;
    }
    if (this.#restoreFailed) {
      this.#fatal(
        SqlState.ConnectionFailure,
        "could not apply the session's settings to a backend connection",
      );
      return;
    }
    if (this.#restoring) return;
    if (this.#backend && this.#readyToDetach) {
      this.#readyToDetach = false;
      if (this.#idle()) this.#detach(true);
    }
    if (this.#backend && !this.#restoring && this.#inbox.length > 0) this.#pump();
  };

  /** A ReadyForQuery came: the backend may go back once this chunk is relayed. */
  #readyToDetach = false;

  readonly #resumeBackend = () => {
    if (!this.#ended) this.#backend?.socket.resume();
  };

  #fromBackendMessage(type: number, message: Buffer, out: Buffer[]): void {
    const backend = this.#backend as TxBackend;
    if (this.#restoring) {
      if (type === B_PARAMETER_STATUS) {
        const name = parameterName(message);
        const shared = sharedParameterStatus(message);
        backend.parameters.set(name, shared);
        // The server's spelling of a value the client gave at startup (ISO → ISO, MDY): the
        // client is told, as a server may report a parameter at any time.
        const known = this.o.state.parameters.get(name);
        if (this.#greeting === undefined && known !== undefined && !known.equals(shared)) {
          this.o.state.parameters.set(name, shared);
          out.push(shared);
        }
      } else if (type === B_ERROR) {
        this.#restoreFailed = true;
      } else if (type === B_READY) {
        if (!this.#restoreFailed) this.#restored();
      }
      return;
    }
    switch (type) {
      case B_PARSE_COMPLETE: {
        const e = this.#parses.shift();
        if (e?.swallow) return;
        break;
      }
      case B_CLOSE_COMPLETE: {
        const e = this.#closes.shift();
        if (e?.swallow) return;
        if (e?.replace) {
          out.push(e.replace);
          return;
        }
        break;
      }
      case B_PARAMETER_STATUS: {
        const shared = sharedParameterStatus(message);
        const name = parameterName(message);
        backend.parameters.set(name, shared);
        this.o.state.parameters.set(name, shared);
        break;
      }
      case B_ERROR: {
        this.#cycleFailed = true;
        const fields = responseFields(message);
        if (
          fields.C === SqlState.FeatureNotSupported &&
          /cached plan must not change result type/.test(fields.M ?? "")
        )
          backend.invalidated = true;
        break;
      }
      case B_READY: {
        const cycle = this.#cyclesDone++;
        // What an error made the server skip in this cycle gets no answer.
        while (this.#parses.length > 0 && (this.#parses[0] as ParseExpectation).cycle <= cycle) {
          const p = this.#parses.shift() as ParseExpectation;
          if (p.server !== undefined) backend.prepared.delete(p.server);
        }
        while (this.#closes.length > 0 && (this.#closes[0] as CloseExpectation).cycle <= cycle)
          this.#closes.shift();
        const effects = this.#cycleEffects.shift();
        this.#status = message[5] ?? 0x49;
        if (effects && !this.#cycleFailed) this.#apply(effects, backend);
        this.#cycleFailed = false;
        this.#readyToDetach = true;
        break;
      }
    }
    out.push(message);
  }

  /** A request's SQL succeeded: what it did to the session is recorded. */
  #apply(effects: CycleEffects, backend: TxBackend): void {
    const { state } = this.o;
    if (effects.discardAll || effects.deallocateAll) {
      state.statements.clear();
      backend.prepared.clear();
    }
    if (effects.discardAll || effects.reset === "all") {
      state.sets.clear();
      backend.sets.clear();
    } else if (effects.reset !== undefined) {
      state.sets.delete(effects.reset);
      backend.sets.delete(effects.reset);
    }
    if (effects.set !== undefined && effects.text !== undefined && this.#status === 0x49) {
      // Kept only for a SET that ended outside a transaction (sqlEffects pinned the others).
      state.sets.set(effects.set, effects.text);
      backend.sets.set(effects.set, effects.text);
    }
  }

  // ---- ending ----

  readonly #onClientGone = () => this.#finish();

  readonly #onBackendGone = () => {
    if (this.#ended) return;
    this.#fatal(
      SqlState.ConnectionFailure,
      "the backend connection serving this session closed unexpectedly",
    );
  };

  /** The client left (Terminate or hang-up): an idle backend goes back, any other is closed. */
  #finish(): void {
    if (this.#ended) return;
    const reusable = this.#idle();
    this.#stop();
    this.o.client.destroy();
    this.#detach(reusable);
    this.o.onEnd();
  }

  /** Ends the session with a FATAL ErrorResponse (the client only ever sees whole messages). */
  #fatal(code: string, message: string): void {
    this.#endWith(errorResponse({ severity: "FATAL", code, message }));
  }

  /**
   * Ends the session from iamdb's side (revocation, an administrator, a failed borrow):
   * `error` is sent at once (whatever the client received so far ended at a message
   * boundary), the client closed, and a backend it held closed, never handed over.
   */
  terminate(error: Buffer): void {
    this.#endWith(error);
  }

  #endWith(error: Buffer): void {
    if (this.#ended) return;
    this.#stop();
    const { client } = this.o;
    client.end(error);
    setTimeout(() => client.destroy(), 1000).unref();
    this.#detach(false);
    this.o.onEnd();
  }

  #stop(): void {
    this.#ended = true;
    const { client } = this.o;
    this.#borrow?.cancel();
    this.#borrow = undefined;
    client.off("data", this.#clientListener);
    client.off("end", this.#onClientGone);
    client.off("close", this.#onClientGone);
    client.off("error", this.#onClientGone);
    client.off("drain", this.#resumeBackend);
    client.on("error", destroySelf);
  }
}

/** A ParameterStatus message for `name` = `value`, for the client's startup values. */
export function startupParameterStatus(name: string, value: string | Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(`${name}\0`, "utf8"), Buffer.from(value), Buffer.of(0)]);
  const out = Buffer.allocUnsafe(body.length + 5);
  out[0] = B_PARAMETER_STATUS;
  out.writeInt32BE(body.length + 4, 1);
  body.copy(out, 5);
  return out;
}
