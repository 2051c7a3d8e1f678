import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import { type BackendPoolOptions, IdleBackends } from "../../gateway/idle-backends.js";
import type { BackendSpec } from "../../instances/types.js";
import { BackendParser, query, terminate } from "../../wire/postgres/index.js";

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
  /** The server (`host:port`): the bound on idle connections is per server, in total. */
  readonly server: string;
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
  for (const name of Object.keys(parameters).sort()) {
    // A printable-ASCII application_name is set after reuse (see settableApplicationName):
    // such clients share connections whatever name they give.
    const value =
      name === "application_name" && settableApplicationName(parameters) ? "\u0001" : parameters[name];
    h.update(`${name}\0${value}\0`);
  }
  return h.digest("base64");
}

/**
 * The client's application_name when the gateway may apply it to a reused connection with
 * SET (as pgbouncer does) instead of keeping connections apart by it: printable ASCII only
 * (PostgreSQL itself turns anything else into '?', and the SET's bytes must not depend on
 * client_encoding). A client without one never shares with clients that have one: a fresh
 * login would get the role's or server's default, which a SET cannot restore.
 */
export function settableApplicationName(parameters: Record<string, string>): string | undefined {
  const name = parameters.application_name;
  return name !== undefined && /^[\x20-\x7e]*$/.test(name) ? name : undefined;
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

/** Runs only outside a transaction block: a session is pooled only when its backend is idle. */
const RESET = query("DISCARD ALL");
/** How many connections ordinary roles may open on the server (PostgreSQL 16 added reserved_connections). */
const PROBE = query(
  "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int - coalesce(current_setting('reserved_connections', true)::int, 0)",
);
/** The bound per server when "auto" could not read the server's settings. */
export const FALLBACK_MAX_IDLE_TOTAL = 16;

/** The single text value of a DataRow message (type, length, column count, length, bytes). */
function dataRowValue(raw: Buffer): string | undefined {
  if (raw.length < 11 || raw.readInt16BE(5) !== 1) return undefined;
  const length = raw.readInt32BE(7);
  return length < 0 || 11 + length > raw.length ? undefined : raw.toString("latin1", 11, 11 + length);
}

/**
 * Sets `name` as the application_name of an idle backend connection about to start a session
 * (a reused one whose current value differs), and records the ParameterStatus it reports, so
 * the client is told its own name as a fresh login would. Resolves false (the caller closes
 * the connection) on anything unexpected or after `timeoutMs`.
 */
export function applyApplicationName(
  backend: PooledBackend,
  name: string,
  timeoutMs: number,
): Promise<boolean> {
  const { socket } = backend;
  const literal = `E'${name.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`;
  return new Promise((resolve) => {
    const parser = new BackendParser();
    let completed = false;
    const done = (ok: boolean) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.pause();
      resolve(ok);
    };
    const onClose = () => done(false);
    const onData = (chunk: Buffer) => {
      let messages: ReturnType<BackendParser["push"]>;
      try {
        messages = parser.push(chunk);
      } catch {
        return done(false);
      }
      for (const m of messages) {
        if (m.kind === "ParameterStatus")
          backend.parameters.set(sharedName(m.name), sharedParameterStatus(m.raw));
        else if (m.kind === "Other" && m.type === "C") completed = true;
        else if (m.kind === "ReadyForQuery")
          return done(completed && m.status === "I" && parser.takeRemainder().length === 0);
        else if (m.kind !== "NoticeResponse") return done(false);
      }
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.resume();
    socket.write(query(`SET application_name = ${literal}`));
  });
}
const TERMINATE = terminate();

/** Ends a backend connection politely (Terminate, so the server logs no EOF), or at once if it cannot be written. */
export function retire(socket: Socket): void {
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
 *
 * Idle connections are bounded per key (`maxIdle`) and per server in total (`maxIdleTotal`),
 * so that however many keys clients make (one per startup-parameter combination), the pool
 * never holds more than its share of the server's connection slots: a connection coming back
 * to a full pool takes the place of the server's least recently used idle one. The idle
 * connections and those bounds are kept by {@link IdleBackends}; this class adds the key, the
 * reset and the "auto" probe.
 */
export class BackendPool {
  readonly #idle: IdleBackends<PooledBackend>;

  constructor(private readonly options: BackendPoolOptions) {
    this.#idle = new IdleBackends(options, { retire, fallbackMaxIdleTotal: FALLBACK_MAX_IDLE_TOTAL });
  }

  get enabled(): boolean {
    return this.#idle.enabled;
  }

  /** An idle connection for `key`, most recently used first, or undefined. */
  take(key: string): PooledBackend | undefined {
    return this.#idle.take(key);
  }

  /**
   * Closes the least recently used idle connection to `server`, to free a slot the server
   * refused a new login for (53300); resolves once it is closed, false when there was none.
   */
  evictOne(server: string): Promise<boolean> {
    return this.#idle.evictOne(server);
  }

  /**
   * Takes back a backend whose session ended with the backend idle: resets it and keeps it,
   * or closes it when the pool is full, closed, or the connection is too old or misbehaves.
   * The first connection pooled for a server with "auto" bounds also reads the server's
   * connection limit. The caller has removed its own listeners from the socket.
   */
  release(key: string, backend: PooledBackend): void {
    const { socket } = backend;
    if (!this.#idle.accepts(key, backend)) {
      retire(socket);
      return;
    }
    const probe = this.#idle.beginProbe(backend.server);
    let parser = new BackendParser();
    /** ReadyForQuery messages still due: the probe's (if any), then the reset's. */
    let due = probe ? 2 : 1;
    let completed = false;
    let available: number | undefined;
    /** The server refused the probe (a PostgreSQL look-alike): the fallback bound applies. */
    let probeRefused = false;
    const fail = () => {
      cleanup();
      socket.destroy();
    };
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", fail);
      if (probe) this.#idle.endProbe(backend.server, available, probeRefused);
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
          case "ErrorResponse":
            if (due !== 2) return fail();
            probeRefused = true;
            completed = true;
            break;
          case "Other":
            // CommandComplete; the probe's row; a NotificationResponse that was on its way before UNLISTEN.
            if (m.type === "C") completed = true;
            else if (m.type === "D" && due === 2) available = Number(dataRowValue(m.raw));
            else if (m.type !== "A" && !(m.type === "T" && due === 2)) return fail();
            break;
          case "ReadyForQuery": {
            if (!completed || m.status !== "I") return fail();
            due--;
            const rest = parser.takeRemainder();
            if (due > 0) {
              // The probe is answered: the reset's answer follows (this parser stops at a ReadyForQuery).
              if (!Number.isInteger(available)) available = undefined;
              completed = false;
              parser = new BackendParser();
              if (rest.length > 0) onData(rest);
              return;
            }
            cleanup();
            if (rest.length > 0) return socket.destroy();
            return this.#idle.park(key, backend);
          }
          default:
            return fail();
        }
      }
    };
    const timer = setTimeout(fail, this.options.resetTimeoutMs);
    socket.on("data", onData);
    socket.once("close", fail);
    socket.resume();
    socket.write(probe ? Buffer.concat([PROBE, RESET]) : RESET);
  }

  /** Closes every idle connection and keeps none from now on. */
  close(): void {
    this.#idle.close();
  }
}
