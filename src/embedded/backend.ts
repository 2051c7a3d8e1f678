import type { PGlite } from "@electric-sql/pglite";
import { copyFail, MessageFramer, query, responseFields, SYNC } from "../wire/postgres/index.js";

/** The superuser initdb creates; PGlite's single session starts authenticated as it. */
export const BOOTSTRAP_USER = "postgres";

/** Whoever may hold the backend: a client session, or the front end itself (as {@link BOOTSTRAP_USER}). */
export interface Holder {
  readonly user: string;
}

/** The backend was shut down while a holder waited for it or used it. */
export class BackendClosedError extends Error {
  constructor() {
    super("the embedded PostgreSQL server is shutting down");
    this.name = new.target.name;
  }
}

/** The holder stopped waiting for the backend (its client went away). */
export class WaitAbandonedError extends Error {
  constructor() {
    super("stopped waiting for the embedded PostgreSQL server");
    this.name = new.target.name;
  }
}

/** SET SESSION AUTHORIZATION failed for a holder, typically because its role was dropped. */
export class AuthorizationSwitchError extends Error {
  constructor(
    readonly user: string,
    readonly reason: string,
  ) {
    super(`cannot act as role "${user}": ${reason}`);
    this.name = new.target.name;
  }
}

const READY_FOR_QUERY = 0x5a; // 'Z'
const ERROR_RESPONSE = 0x45; // 'E'
const COPY_IN_RESPONSE = 0x47; // 'G'
const COPY_BOTH_RESPONSE = 0x57; // 'W'
const IDLE = 0x49; // 'I'

/**
 * Follows the backend's output stream message by message (chunks may split messages) to tell
 * when the backend is idle: the last complete message is ReadyForQuery with status 'I'.
 * Anything else — mid extended-protocol sequence, in a transaction, in COPY — means the session
 * that sent the input still owns the backend.
 */
export class BackendStreamTracker {
  readonly #framer: MessageFramer;
  #readyIdle = true;
  /** Type byte of the last message seen (at its header; ReadyForQuery and ErrorResponse once complete). */
  lastType = 0;
  /** With `errors`: the fields of the first ErrorResponse seen since {@link reset}. */
  firstError: Record<string, string> | undefined;

  /**
   * @param errors also read ErrorResponses (for the front end's own short statements; a
   *   client's may be long, and only whether the backend is idle matters there)
   */
  constructor(errors = false) {
    this.#framer = new MessageFramer(errors ? [READY_FOR_QUERY, ERROR_RESPONSE] : [READY_FOR_QUERY]);
  }

  /** True when the last complete message was ReadyForQuery('I') and nothing follows it. */
  get idle(): boolean {
    return this.#readyIdle && this.#framer.atBoundary;
  }

  /** True when the output was not a message sequence (or held an ErrorResponse too long to read). */
  get broken(): boolean {
    return this.#framer.broken;
  }

  /** Call before sending input: until output says otherwise, the backend is busy. */
  reset(): void {
    this.#readyIdle = false;
    this.firstError = undefined;
  }

  /** The backend was brought back to idle by other means (see SharedBackend's settle). */
  markIdle(): void {
    this.#readyIdle = true;
  }

  push(chunk: Uint8Array): void {
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.#framer.scan(bytes, (type, _offset, whole) => {
      this.lastType = type;
      this.#readyIdle = type === READY_FOR_QUERY && whole?.[5] === IDLE;
      if (type === ERROR_RESPONSE && whole !== undefined && this.firstError === undefined) {
        this.firstError = responseFields(whole);
      }
      return undefined;
    });
  }
}

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * PGlite is one PostgreSQL backend in single-user mode: one session, one transaction at a time.
 * This hands it to one holder at a time, the way a transaction-mode pooler hands out a server
 * connection, except that there is only ever one:
 *
 * - A holder owns the backend from its first message until the backend next reports
 *   ReadyForQuery('I'). So a transaction, an extended-protocol sequence up to Sync, and a COPY
 *   stay with the session that began them, however the client's bytes were split on the wire.
 *   (pglite-socket's own multiplexer switches between connections after any single message
 *   outside an explicit transaction block, so a Parse from one client could be followed by a
 *   Bind from another.)
 * - Waiting holders are served first come, first served.
 * - When ownership passes to a different holder, `SET SESSION AUTHORIZATION <its user>` runs first,
 *   so privileges are checked as the role the client logged in as. That also resets SET ROLE.
 *   Every other piece of session state (GUCs set with SET, prepared statements, temporary
 *   tables, LISTEN) is shared by all sessions.
 */
export class SharedBackend {
  private owner: Holder | undefined;
  /** The holder whose SET SESSION AUTHORIZATION is in effect. */
  private authorizedFor: Holder | undefined;
  private readonly waiters: { holder: Holder; resolve: () => void; reject: (e: Error) => void }[] = [];
  private readonly tracker = new BackendStreamTracker();
  private running: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(readonly db: PGlite) {}

  /** Resolves once `holder` owns the backend (at once if it already does). */
  acquire(holder: Holder): Promise<void> {
    if (this.closed) return Promise.reject(new BackendClosedError());
    if (this.owner === holder) return Promise.resolve();
    if (this.owner === undefined && this.waiters.length === 0) {
      this.owner = holder;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiters.push({ holder, resolve, reject }));
  }

  /** Gives the backend up; only its owner may, and only while the backend is idle. */
  release(holder: Holder): void {
    if (this.owner !== holder) return;
    this.owner = undefined;
    const next = this.waiters.shift();
    if (next !== undefined) {
      this.owner = next.holder;
      next.resolve();
    }
  }

  /** Drops a holder that went away while still queued; its pending acquire() rejects. */
  forget(holder: Holder): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (w?.holder !== holder) continue;
      this.waiters.splice(i, 1);
      w.reject(new WaitAbandonedError());
    }
  }

  /**
   * Runs protocol messages for the owner, streaming the backend's replies to `onData`.
   * Returns whether the backend is idle afterwards (the owner should then release it).
   */
  async execute(holder: Holder, messages: Uint8Array, onData: (data: Uint8Array) => void): Promise<boolean> {
    this.assertOwner(holder);
    await this.authorize(holder);
    this.tracker.reset();
    await this.raw(messages, (data) => {
      this.tracker.push(data);
      onData(data);
    });
    return this.tracker.idle;
  }

  /** A query of the front end's own, run as `holder` through PGlite's query API. */
  async query<T>(holder: Holder, sql: string, params: unknown[]): Promise<T[]> {
    this.assertOwner(holder);
    await this.authorize(holder);
    return (await this.serial(() => this.db.query<T>(sql, params))).rows;
  }

  /**
   * Leaves the backend idle after its owner disconnected mid-conversation (see {@link settle}),
   * then releases it; a holder still queued is just dropped.
   */
  async abandon(holder: Holder): Promise<void> {
    this.forget(holder);
    if (this.owner !== holder || this.closed) return;
    try {
      await this.settle();
    } finally {
      this.release(holder);
    }
  }

  /** Rejects everyone waiting, lets the running call finish, settles the owner's state, closes PGlite. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new BackendClosedError());
    await this.running;
    // An open transaction would be lost anyway; ending it cleanly keeps shutdown quiet.
    await this.settle().catch(() => {});
    this.owner = undefined;
    await this.db.close();
  }

  /** Aborts a COPY FROM STDIN, ends an extended-protocol sequence, rolls back an open transaction. */
  private async settle(): Promise<void> {
    if (this.tracker.idle) return;
    // Only CopyFail gets the backend out of COPY. What PGlite answers is nobody's to read.
    const ignore = () => {};
    if (this.tracker.lastType === COPY_IN_RESPONSE || this.tracker.lastType === COPY_BOTH_RESPONSE) {
      await this.raw(copyFail("client disconnected"), ignore);
    }
    await this.raw(SYNC, ignore);
    if (this.db.isInTransaction()) await this.rawQuery("ROLLBACK");
    this.tracker.markIdle();
  }

  private assertOwner(holder: Holder): void {
    if (this.closed) throw new BackendClosedError();
    if (this.owner !== holder)
      throw new Error("internal error: backend used by a holder that does not own it");
  }

  private async authorize(holder: Holder): Promise<void> {
    if (this.authorizedFor === holder) return;
    const error = await this.rawQuery(`SET SESSION AUTHORIZATION ${quoteIdent(holder.user)}`);
    if (error !== undefined) throw new AuthorizationSwitchError(holder.user, error);
    this.authorizedFor = holder;
  }

  /** Runs one statement of the front end's own; its error message, or undefined when it succeeded. */
  private async rawQuery(sql: string): Promise<string | undefined> {
    const t = new BackendStreamTracker(true);
    t.reset();
    await this.raw(query(sql), (d) => t.push(d));
    if (t.broken) return "the embedded PostgreSQL server sent a reply that could not be read";
    return t.firstError === undefined ? undefined : (t.firstError.M ?? "unknown error");
  }

  private raw(message: Uint8Array, onRawData: (data: Uint8Array) => void): Promise<void> {
    return this.serial(() => this.db.execProtocolRawStream(message, { onRawData }));
  }

  /** All access to PGlite goes through here, one call at a time. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.running.then(fn);
    this.running = run.catch(() => {});
    return run;
  }
}
