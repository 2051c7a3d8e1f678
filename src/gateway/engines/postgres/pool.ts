import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import type { BackendSpec } from "../../../instances/types.js";
import { BackendParser, query, terminate } from "../../../wire/postgres/index.js";

/**
 * A backend connection that is logged in and idle: what a new session needs to start on it
 * without a login of its own.
 */
export interface PooledBackend {
  readonly socket: Socket;
  /** The backend's own BackendKeyData (the client is given a key of ours). */
  readonly processId: number;
  readonly secretKey: Buffer;
  /**
   * The latest ParameterStatus message per parameter, raw (values follow client_encoding), in
   * the order the backend first reported them. Kept current while sessions run on it.
   */
  readonly parameters: Map<string, Buffer>;
  /** When the backend login happened (performance.now()). */
  readonly createdAt: number;
}

export interface BackendPoolOptions {
  /** Idle connections kept per key; 0 keeps none. */
  readonly maxIdle: number;
  readonly idleTimeoutMs: number;
  readonly lifetimeMs: number;
  /** How long the reset (DISCARD ALL) may take before the connection is dropped. */
  readonly resetTimeoutMs: number;
}

/**
 * What decides that a pooled connection fits a new session: the backend, the login user with
 * the password it was logged in with (a rotated password never reuses a connection of the old
 * one), the database and every other startup parameter, so the session starts exactly as a
 * fresh login with the same startup packet would.
 */
export function poolKey(spec: BackendSpec, parameters: Record<string, string>, password: string): string {
  const h = createHash("sha256");
  h.update(`${spec.host}\0${spec.port}\0${spec.tls}\0${password}\0`);
  for (const name of Object.keys(parameters).sort()) h.update(`${name}\0${parameters[name]}\0`);
  return h.digest("base64");
}

/** Distinct ParameterStatus messages (and names) shared by every session that reports them, up to this many. */
const MAX_SHARED_STATUS = 4096;
const sharedStatus = new Map<string, Buffer>();
const sharedNames = new Map<string, string>();

/** The parameter name of a raw ParameterStatus message (type, length, name\0value\0). */
export function parameterName(raw: Buffer): string {
  const end = raw.indexOf(0, 5);
  return sharedName(raw.toString("latin1", 5, end < 0 ? raw.length : end));
}

/** One copy of each parameter name for every session's map (bounded, as the messages are). */
export function sharedName(name: string): string {
  const known = sharedNames.get(name);
  if (known !== undefined) return known;
  if (sharedNames.size < MAX_SHARED_STATUS) sharedNames.set(name, name);
  return name;
}

/**
 * A copy of a ParameterStatus message that sessions share: most values (server_version,
 * DateStyle, …) are the same on every backend, so a thousand idle sessions need not hold a
 * thousand copies of each. Never mutated by anyone.
 */
export function sharedParameterStatus(raw: Buffer): Buffer {
  const text = raw.toString("latin1");
  const known = sharedStatus.get(text);
  if (known) return known;
  const copy = Buffer.from(raw);
  if (sharedStatus.size < MAX_SHARED_STATUS) sharedStatus.set(text, copy);
  return copy;
}

interface Idle {
  readonly backend: PooledBackend;
  readonly since: number;
  /** Its 'data' and 'close' listener while it waits: anything from an idle backend ends it. */
  readonly drop: () => void;
}

/** Runs only outside a transaction block: a session is pooled only when its backend is idle. */
const RESET = query("DISCARD ALL");
const TERMINATE = terminate();

/** Ends a backend connection politely (Terminate, so the server logs no EOF), or at once if it cannot be written. */
function retire(socket: Socket): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(TERMINATE);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * Logged-in PostgreSQL backend connections, per {@link poolKey}, for pgbouncer-style session
 * pooling: when a client ends its session while the backend is idle (no transaction, no
 * message in flight), the connection is reset with DISCARD ALL (prepared statements,
 * cursors, temporary tables, session settings, LISTENs and advisory locks go) and the next
 * authenticated client with the same key starts on it without a backend login. Every client
 * is still authenticated and authorized on its own; only the backend login is shared.
 */
export class BackendPool {
  readonly #idle = new Map<string, Idle[]>();
  readonly #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(private readonly options: BackendPoolOptions) {
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

  /** An idle connection for `key`, most recently used first, or undefined. */
  take(key: string): PooledBackend | undefined {
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      const idle = list.pop() as Idle;
      if (list.length === 0) this.#idle.delete(key);
      const { socket } = idle.backend;
      socket.off("data", idle.drop);
      socket.off("close", idle.drop);
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
   * Takes back a backend whose session ended with the backend idle: resets it and keeps it,
   * or closes it when the pool is full, closed, or the connection is too old or misbehaves.
   * The caller has removed its own listeners from the socket.
   */
  release(key: string, backend: PooledBackend): void {
    const { socket } = backend;
    if (
      !this.enabled ||
      performance.now() - backend.createdAt > this.options.lifetimeMs ||
      (this.#idle.get(key)?.length ?? 0) >= this.options.maxIdle
    ) {
      retire(socket);
      return;
    }
    const parser = new BackendParser();
    let completed = false;
    const fail = () => {
      cleanup();
      socket.destroy();
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", fail);
    };
    const onData = (chunk: Buffer) => {
      let messages: ReturnType<BackendParser["push"]>;
      try {
        messages = parser.push(chunk);
      } catch {
        return fail();
      }
      for (const m of messages) {
        switch (m.kind) {
          case "ParameterStatus":
            backend.parameters.set(sharedName(m.name), sharedParameterStatus(m.raw));
            break;
          case "NoticeResponse":
            break;
          case "Other":
            // CommandComplete; a NotificationResponse that was on its way before UNLISTEN.
            if (m.type === "C") completed = true;
            else if (m.type !== "A") return fail();
            break;
          case "ReadyForQuery":
            cleanup();
            if (!completed || m.status !== "I" || parser.takeRemainder().length > 0) return fail();
            return this.#park(key, backend);
          default:
            return fail();
        }
      }
    };
    const timer = setTimeout(fail, this.options.resetTimeoutMs);
    socket.on("data", onData);
    socket.once("close", fail);
    socket.resume();
    socket.write(RESET);
  }

  #park(key: string, backend: PooledBackend): void {
    const { socket } = backend;
    let list = this.#idle.get(key);
    if (!this.enabled || (list?.length ?? 0) >= this.options.maxIdle) {
      retire(socket);
      return;
    }
    if (!list) {
      list = [];
      this.#idle.set(key, list);
    }
    const drop = () => {
      this.#remove(key, idle);
      socket.destroy();
    };
    // An idle backend says something only when it is about to go (a FATAL on terminate or shutdown).
    const idle: Idle = { backend, since: performance.now(), drop };
    socket.on("data", drop);
    socket.once("close", drop);
    // A pooled connection never keeps the process alive.
    socket.unref();
    list.push(idle);
  }

  #remove(key: string, idle: Idle): void {
    const list = this.#idle.get(key);
    const at = list?.indexOf(idle) ?? -1;
    if (!list || at < 0) return;
    list.splice(at, 1);
    if (list.length === 0) this.#idle.delete(key);
  }

  #sweep(): void {
    const now = performance.now();
    for (const [key, list] of [...this.#idle]) {
      for (const idle of [...list]) {
        if (
          now - idle.since > this.options.idleTimeoutMs ||
          now - idle.backend.createdAt > this.options.lifetimeMs
        ) {
          this.#remove(key, idle);
          retire(idle.backend.socket);
        }
      }
    }
  }

  /** Closes every idle connection and keeps none from now on. */
  close(): void {
    this.#closed = true;
    if (this.#sweeper) clearInterval(this.#sweeper);
    for (const list of this.#idle.values()) for (const idle of list) retire(idle.backend.socket);
    this.#idle.clear();
  }
}
