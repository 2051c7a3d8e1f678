import { type PooledBackend, retire } from "./pool.js";

/**
 * A backend connection of a transaction pool: what it has been told, so that the next client
 * to land on it gets only the differences.
 */
export interface TxBackend extends PooledBackend {
  /** The transaction pool key (backend, password, startup parameters that are not re-applied). */
  readonly key: string;
  /** The reported parameters right after the backend login: what a fresh login of a client with this key gets. */
  readonly initial: ReadonlyMap<string, Buffer>;
  /** Server-side prepared statement names, least recently used first. */
  readonly prepared: Map<string, true>;
  /** Settings applied as SET text (parameter → statement), see TRACKED_BY_TEXT. */
  readonly sets: Map<string, string>;
  /** A statement failed with "cached plan must not change result type": DEALLOCATE ALL before the next client. */
  invalidated: boolean;
}

/** No backend connection came free within the borrow timeout. */
export class BorrowTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    readonly max: number,
  ) {
    super(
      `no backend connection came free within the borrow timeout (pool.borrowTimeoutMs = ${timeoutMs} ms; all ${max} of pool.maxBackendConnections are in use): retry, make transactions shorter, or raise pool.maxBackendConnections`,
    );
    this.name = "BorrowTimeoutError";
  }
}

/** The pool was closed (the gateway stops) while a client waited. */
export class PoolClosedError extends Error {
  constructor() {
    super("the gateway is shutting down");
    this.name = "PoolClosedError";
  }
}

interface Waiter {
  readonly key: string;
  readonly principal: string;
  readonly open: () => Promise<TxBackend>;
  readonly resolve: (b: TxBackend) => void;
  readonly reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** A pending borrow: `backend` settles once a connection is the caller's; `cancel` gives up its place. */
export interface Borrow {
  readonly backend: Promise<TxBackend>;
  cancel(): void;
}

export interface TransactionPoolOptions {
  readonly maxBackendConnections: number;
  readonly borrowTimeoutMs: number;
  /** Idle connections older than this (since their last use) are closed. */
  readonly idleTimeoutMs: number;
  readonly lifetimeMs: number;
  /** Called with the wait in seconds of each borrow, or `timedOut`. */
  readonly onBorrow?: (seconds: number, timedOut: boolean) => void;
}

/**
 * The backend connections of one instance in transaction mode, at most
 * `maxBackendConnections` open (or opening) at once, every DB user together. A client borrows
 * one for a transaction and gives it back at ReadyForQuery 'I'. When none is free, clients
 * wait in one FIFO per principal, served round robin, so one principal's burst cannot starve
 * another's; a wait longer than `borrowTimeoutMs` is refused with {@link BorrowTimeoutError}.
 * A connection freed for a waiter of another key (another DB user or startup parameters) is
 * closed and a new one logged in for the waiter.
 */
export class TransactionPool {
  /** Connections open, logging in, or lent out. */
  #total = 0;
  /** Idle connections, least recently used first. */
  readonly #idle: TxBackend[] = [];
  /** When each idle connection was parked, and its listener that drops it when it speaks or closes. */
  readonly #parked = new Map<TxBackend, { since: number; drop: () => void }>();
  readonly #waiters = new Map<string, Waiter[]>();
  /** Principals with waiters, in the order they are served next. */
  readonly #turns: string[] = [];
  #waiting = 0;
  #closed = false;
  /** Sessions pinned to a backend now (kept by the engine, read by the metrics). */
  pinned = 0;
  /** The reported parameters of a fresh backend login, per key (the latest login's). */
  readonly #initial = new Map<string, ReadonlyMap<string, Buffer>>();
  readonly #sweeper: NodeJS.Timeout;

  constructor(private readonly options: TransactionPoolOptions) {
    this.#sweeper = setInterval(
      () => this.#sweep(),
      Math.max(50, Math.min(options.idleTimeoutMs / 2, 10_000)),
    );
    this.#sweeper.unref();
  }

  get stats(): { inUse: number; idle: number; waiting: number; total: number } {
    return {
      inUse: this.#total - this.#idle.length,
      idle: this.#idle.length,
      waiting: this.#waiting,
      total: this.#total,
    };
  }

  /**
   * Whether a borrow for `key` would be served at once (an idle connection, or room for a
   * new one): a login that would wait greets its client from {@link initialParameters}
   * instead, so that logins never queue behind open transactions.
   */
  lendsNow(key: string): boolean {
    if (this.#idle.some((b) => b.key === key)) return true;
    const room = this.#total < this.options.maxBackendConnections || this.#idle.length > 0;
    return !this.#closed && this.#waiting === 0 && room;
  }

  /** What a fresh backend login for `key` reported, once one has happened. */
  initialParameters(key: string): ReadonlyMap<string, Buffer> | undefined {
    return this.#initial.get(key);
  }

  /** A connection for `key`: an idle one, a new one within the bound, or the next one freed. */
  borrow(key: string, principal: string, open: () => Promise<TxBackend>): Borrow {
    const started = performance.now();
    let waiter: Waiter | undefined;
    const backend = new Promise<TxBackend>((resolve, reject) => {
      if (this.#closed) return reject(new PoolClosedError());
      const idle = this.#takeIdle(key);
      if (idle) return resolve(idle);
      if (this.#total < this.options.maxBackendConnections) {
        this.#total++;
        return this.#open(open, resolve, reject);
      }
      const oldest = this.#idle[0];
      if (oldest) {
        // Full of idle connections of other keys: one gives its place to this client.
        this.#dropIdle(oldest);
        retire(oldest.socket);
        return this.#open(open, resolve, reject);
      }
      const w: Waiter = { key, principal, open, resolve, reject, timer: undefined };
      waiter = w;
      w.timer = setTimeout(() => {
        if (this.#removeWaiter(w))
          reject(new BorrowTimeoutError(this.options.borrowTimeoutMs, this.options.maxBackendConnections));
      }, this.options.borrowTimeoutMs);
      w.timer.unref();
      let queue = this.#waiters.get(principal);
      if (!queue) {
        queue = [];
        this.#waiters.set(principal, queue);
        this.#turns.push(principal);
      }
      queue.push(w);
      this.#waiting++;
    });
    backend.then(
      (b) => {
        this.options.onBorrow?.((performance.now() - started) / 1000, false);
        return b;
      },
      (err) => {
        if (err instanceof BorrowTimeoutError) this.options.onBorrow?.(0, true);
      },
    );
    return {
      backend,
      cancel: () => {
        if (waiter && this.#removeWaiter(waiter)) waiter.reject(new PoolClosedError());
      },
    };
  }

  /**
   * Takes back a lent connection: `reusable` when it is idle (ReadyForQuery 'I', nothing in
   * flight) and carries nothing another client must not see; otherwise it is closed. The
   * caller has removed its own listeners.
   */
  release(backend: TxBackend, reusable: boolean): void {
    const { socket } = backend;
    if (
      !reusable ||
      this.#closed ||
      socket.destroyed ||
      !socket.writable ||
      performance.now() - backend.createdAt > this.options.lifetimeMs
    ) {
      if (reusable) retire(socket);
      else socket.destroy();
      this.#total--;
      this.#serveNext();
      return;
    }
    const next = this.#nextWaiter();
    if (next) {
      if (next.key === backend.key) {
        next.resolve(backend);
        return;
      }
      retire(socket);
      this.#open(next.open, next.resolve, next.reject);
      return;
    }
    this.#park(backend);
  }

  #open(open: () => Promise<TxBackend>, resolve: (b: TxBackend) => void, reject: (e: Error) => void): void {
    open().then(
      (b) => {
        this.#initial.set(b.key, b.initial);
        if (this.#closed) {
          b.socket.destroy();
          this.#total--;
          return reject(new PoolClosedError());
        }
        resolve(b);
      },
      (err: Error) => {
        this.#total--;
        this.#serveNext();
        reject(err);
      },
    );
  }

  /** A slot came free: the next waiter gets a new connection. */
  #serveNext(): void {
    if (this.#closed || this.#total >= this.options.maxBackendConnections) return;
    const next = this.#nextWaiter();
    if (!next) return;
    this.#total++;
    this.#open(next.open, next.resolve, next.reject);
  }

  /** The oldest waiter of the principal whose turn it is. */
  #nextWaiter(): Waiter | undefined {
    const principal = this.#turns.shift();
    if (principal === undefined) return undefined;
    const queue = this.#waiters.get(principal) as Waiter[];
    const w = queue.shift() as Waiter;
    if (queue.length === 0) this.#waiters.delete(principal);
    else this.#turns.push(principal);
    this.#waiting--;
    clearTimeout(w.timer);
    return w;
  }

  #removeWaiter(w: Waiter): boolean {
    const queue = this.#waiters.get(w.principal);
    const at = queue?.indexOf(w) ?? -1;
    if (!queue || at < 0) return false;
    queue.splice(at, 1);
    this.#waiting--;
    clearTimeout(w.timer);
    if (queue.length === 0) {
      this.#waiters.delete(w.principal);
      this.#turns.splice(this.#turns.indexOf(w.principal), 1);
    }
    return true;
  }

  #park(backend: TxBackend): void {
    const { socket } = backend;
    const drop = () => {
      if (!this.#parked.has(backend)) return;
      this.#dropIdle(backend);
      socket.destroy();
      this.#total--;
      this.#serveNext();
    };
    // Anything from an idle backend (a FATAL from pg_terminate_backend, a shutdown) ends it.
    socket.on("data", drop);
    socket.on("close", drop);
    socket.resume();
    socket.unref();
    this.#idle.push(backend);
    this.#parked.set(backend, { since: performance.now(), drop });
  }

  /**
   * An idle connection for `key` now, or undefined: the relay's fast path, no promise and no
   * pause. The caller attaches its listeners before returning to the event loop.
   */
  takeIdle(key: string): TxBackend | undefined {
    if (this.#closed) return undefined;
    const b = this.#takeIdle(key, false);
    if (b) this.options.onBorrow?.(0, false);
    return b;
  }

  #takeIdle(key: string, pause = true): TxBackend | undefined {
    for (let i = this.#idle.length - 1; i >= 0; i--) {
      const b = this.#idle[i] as TxBackend;
      if (b.key !== key) continue;
      this.#dropIdle(b, pause);
      if (b.socket.destroyed || !b.socket.readable || !b.socket.writable) {
        b.socket.destroy();
        this.#total--;
        continue;
      }
      b.socket.ref();
      return b;
    }
    return undefined;
  }

  #dropIdle(b: TxBackend, pause = true): void {
    const at = this.#idle.indexOf(b);
    if (at >= 0) this.#idle.splice(at, 1);
    const parked = this.#parked.get(b);
    this.#parked.delete(b);
    if (parked) {
      b.socket.off("data", parked.drop);
      b.socket.off("close", parked.drop);
    }
    if (pause) b.socket.pause();
  }

  #sweep(): void {
    const now = performance.now();
    for (const b of [...this.#idle]) {
      const since = this.#parked.get(b)?.since ?? now;
      if (now - since > this.options.idleTimeoutMs || now - b.createdAt > this.options.lifetimeMs) {
        this.#dropIdle(b);
        retire(b.socket);
        this.#total--;
      }
    }
    this.#serveNext();
  }

  /** Closes idle connections and refuses waiters; lent ones close when their sessions end. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const b of [...this.#idle]) {
      this.#dropIdle(b);
      retire(b.socket);
    }
    for (;;) {
      const w = this.#nextWaiter();
      if (!w) break;
      w.reject(new PoolClosedError());
    }
  }
}
