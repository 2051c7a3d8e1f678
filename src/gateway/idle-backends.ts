import type { Socket } from "node:net";
import type { GatewayLimits } from "./limits.js";

/** What the store needs of a logged-in backend connection, whatever its engine. */
export interface IdleBackend {
  readonly socket: Socket;
  /** When the backend login happened (performance.now()). */
  readonly createdAt: number;
  /** The server (`host:port`): the bound on idle connections is per server, in total. */
  readonly server: string;
}

/** The bounds on idle backend connections, the same for every engine. */
export interface IdleBackendsOptions {
  /** Idle connections kept per key; 0 keeps none. */
  readonly maxIdle: number;
  /**
   * Idle connections kept per server, all keys together; "auto": half the connections the
   * server allows ordinary roles, read from the server by the engine's probe when the first
   * connection is pooled (see {@link IdleBackends.beginProbe}).
   */
  readonly maxIdleTotal: number | "auto";
  readonly idleTimeoutMs: number;
  readonly lifetimeMs: number;
}

/** An engine's pool: the store's bounds, and how long its reset may take. */
export interface BackendPoolOptions extends IdleBackendsOptions {
  /** How long the reset (DISCARD ALL, COM_RESET_CONNECTION …) may take before the connection is dropped. */
  readonly resetTimeoutMs: number;
}

/** The pool options the gateway's limits give, the same for every engine. */
export function backendPoolOptions(limits: GatewayLimits): BackendPoolOptions {
  return {
    maxIdle: limits.backendPoolMaxIdle,
    maxIdleTotal: limits.backendPoolMaxIdleTotal,
    idleTimeoutMs: limits.backendPoolIdleTimeoutMs,
    lifetimeMs: limits.backendPoolLifetimeMs,
    resetTimeoutMs: limits.backendConnectTimeoutMs,
  };
}

/** What an engine's pool gives the store besides the bounds. */
export interface IdleBackendsEngine {
  /** Ends a connection the store lets go (politely where it can still be written). */
  readonly retire: (socket: Socket) => void;
  /** The bound for an "auto" server whose probe was refused or has not answered yet. */
  readonly fallbackMaxIdleTotal: number;
  /** The clock of idle timeouts and lifetimes, in the unit of `createdAt`; performance.now() by default. */
  readonly now?: () => number;
}

interface Idle<B> {
  readonly backend: B;
  readonly since: number;
  /** Its 'data', 'close' and 'error' listener while it waits: anything from an idle backend ends it. */
  readonly drop: () => void;
}

/** What the store knows of one server: its bound and its idle connections, least recently used first. */
interface ServerIdle<B> {
  limit: number | undefined;
  probing: boolean;
  readonly lru: Map<Idle<B>, string>;
}

/**
 * The idle half of a backend pool, engine-neutral: logged-in connections per key (most
 * recently used first), bounded per key (`maxIdle`) and per server in total (`maxIdleTotal`),
 * so that however many keys clients make the pool never holds more than its share of the
 * server's connection slots: a connection parked on a full server takes the place of that
 * server's least recently used idle one. Idle connections go after `idleTimeoutMs` idle or
 * `lifetimeMs` since their login, and at once when the backend says anything or closes.
 *
 * The engine's pool keeps what is its own: the key, the reset exchange before {@link park},
 * the probe that reads an "auto" bound, and `retire` (how its protocol says goodbye).
 */
export class IdleBackends<B extends IdleBackend> {
  readonly #idle = new Map<string, Idle<B>[]>();
  readonly #servers = new Map<string, ServerIdle<B>>();
  readonly #sweeper: NodeJS.Timeout | undefined;
  readonly #retire: (socket: Socket) => void;
  readonly #fallbackMaxIdleTotal: number;
  readonly #now: () => number;
  #closed = false;

  constructor(
    private readonly options: IdleBackendsOptions,
    engine: IdleBackendsEngine,
  ) {
    this.#retire = engine.retire;
    this.#fallbackMaxIdleTotal = engine.fallbackMaxIdleTotal;
    this.#now = engine.now ?? (() => performance.now());
    if (options.maxIdle > 0) {
      this.#sweeper = setInterval(
        () => this.#sweep(),
        Math.max(50, Math.min(options.idleTimeoutMs / 2, 10_000)),
      );
      this.#sweeper.unref();
    }
  }

  get enabled(): boolean {
    return this.options.maxIdle > 0 && !this.#closed;
  }

  /** Idle connections held now, for one server or all. */
  idleCount(server?: string): number {
    if (server !== undefined) return this.#servers.get(server)?.lru.size ?? 0;
    let n = 0;
    for (const s of this.#servers.values()) n += s.lru.size;
    return n;
  }

  /** The bound on idle connections to `server` (undefined while "auto" has not read it yet). */
  limitFor(server: string): number | undefined {
    return typeof this.options.maxIdleTotal === "number"
      ? this.options.maxIdleTotal
      : this.#servers.get(server)?.limit;
  }

  /**
   * Whether a backend coming back for `key` may be reset and parked: the store is open, the
   * connection within its lifetime, the key below `maxIdle` and the server's bound not 0.
   */
  accepts(key: string, backend: B): boolean {
    return (
      this.enabled &&
      this.#now() - backend.createdAt <= this.options.lifetimeMs &&
      (this.#idle.get(key)?.length ?? 0) < this.options.maxIdle &&
      this.limitFor(backend.server) !== 0
    );
  }

  #server(server: string): ServerIdle<B> {
    let s = this.#servers.get(server);
    if (!s) {
      const limit = typeof this.options.maxIdleTotal === "number" ? this.options.maxIdleTotal : undefined;
      s = { limit, probing: false, lru: new Map() };
      this.#servers.set(server, s);
    }
    return s;
  }

  /**
   * Whether the caller should read `server`'s connection limit with this reset: true once
   * while an "auto" bound is unknown and no other probe is under way; the caller then
   * reports with {@link endProbe}.
   */
  beginProbe(server: string): boolean {
    const s = this.#server(server);
    if (s.limit !== undefined || s.probing) return false;
    s.probing = true;
    return true;
  }

  /**
   * The end of a probe: `connections` is what the server allows ordinary sessions (the bound
   * becomes half of it), undefined when it was not read; `refused` when the server refused
   * the question (a look-alike of the engine): the fallback bound applies. Neither (the
   * connection failed): the next reset asks again.
   */
  endProbe(server: string, connections: number | undefined, refused: boolean): void {
    const s = this.#servers.get(server);
    if (!s) return;
    s.probing = false;
    if (connections !== undefined) s.limit = Math.max(0, Math.floor(connections / 2));
    else if (refused) s.limit = this.#fallbackMaxIdleTotal;
  }

  /** An idle connection for `key`, most recently used first, or undefined. */
  take(key: string): B | undefined {
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      const idle = list.pop() as Idle<B>;
      if (list.length === 0) this.#idle.delete(key);
      this.#servers.get(idle.backend.server)?.lru.delete(idle);
      const { socket } = idle.backend;
      unwatch(socket, idle.drop);
      if (socket.destroyed || !socket.readable || !socket.writable) {
        socket.destroy();
        continue;
      }
      socket.ref();
      return idle.backend;
    }
    return undefined;
  }

  /**
   * Keeps a reset backend for `key`, or retires it when the store is closed, the key full or
   * the server's bound 0; a full server first retires its least recently used idle one. The
   * caller has removed its own listeners from the socket.
   */
  park(key: string, backend: B): void {
    const { socket } = backend;
    const server = this.#server(backend.server);
    const limit = this.limitFor(backend.server) ?? this.#fallbackMaxIdleTotal;
    if (!this.enabled || (this.#idle.get(key)?.length ?? 0) >= this.options.maxIdle || limit === 0) {
      this.#retire(socket);
      return;
    }
    // A full server makes room: its least recently used idle connection goes.
    while (server.lru.size >= limit) {
      const oldest = server.lru.entries().next().value;
      if (!oldest) break;
      this.#remove(oldest[1], oldest[0]);
      this.#retire(oldest[0].backend.socket);
    }
    let list = this.#idle.get(key);
    if (!list) {
      list = [];
      this.#idle.set(key, list);
    }
    const drop = () => {
      this.#remove(key, idle);
      socket.destroy();
    };
    // An idle backend says something only when it is about to go (a FATAL on terminate or
    // shutdown, wait_timeout, KILL).
    const idle: Idle<B> = { backend, since: this.#now(), drop };
    socket.on("data", drop);
    socket.once("close", drop);
    socket.on("error", drop);
    // A pooled connection never keeps the process alive.
    socket.unref();
    list.push(idle);
    server.lru.set(idle, key);
  }

  /**
   * Closes the least recently used idle connection to `server`, to free a slot the server
   * refused a new login for; resolves once it is closed, false when there was none.
   */
  evictOne(server: string): Promise<boolean> {
    const oldest = this.#servers.get(server)?.lru.entries().next().value;
    if (!oldest) return Promise.resolve(false);
    const [idle, key] = oldest;
    this.#remove(key, idle);
    const { socket } = idle.backend;
    return new Promise((resolve) => {
      if (socket.destroyed) return resolve(true);
      socket.once("close", () => resolve(true));
      this.#retire(socket);
    });
  }

  #remove(key: string, idle: Idle<B>): void {
    this.#servers.get(idle.backend.server)?.lru.delete(idle);
    const list = this.#idle.get(key);
    const at = list?.indexOf(idle) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) this.#idle.delete(key);
    unwatch(idle.backend.socket, idle.drop);
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, list] of [...this.#idle]) {
      for (const idle of [...list]) {
        if (
          now - idle.since > this.options.idleTimeoutMs ||
          now - idle.backend.createdAt > this.options.lifetimeMs
        ) {
          this.#remove(key, idle);
          this.#retire(idle.backend.socket);
        }
      }
    }
  }

  /** Closes every idle connection and keeps none from now on. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const list of this.#idle.values()) for (const idle of list) this.#retire(idle.backend.socket);
    this.#idle.clear();
    this.#servers.clear();
  }
}

function unwatch(socket: Socket, drop: () => void): void {
  socket.off("data", drop);
  socket.off("close", drop);
  socket.off("error", drop);
}
