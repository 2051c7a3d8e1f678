import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import { type BackendPoolOptions, IdleBackends } from "../../gateway/idle-backends.js";
import type { BackendSpec } from "../../instances/types.js";
import {
  Capability,
  Command,
  encodePacket,
  PacketParser,
  SESSION_CAPABILITIES,
} from "../../wire/mysql/index.js";

/** A logged-in MySQL backend connection, in a session or waiting in the pool. */
export interface MysqlPooledBackend {
  readonly socket: Socket;
  /** The OK packet's payload that ended its login: what a client that reuses it is sent. */
  readonly ok: Buffer;
  /** The backend's own connection id (CONNECTION_ID()); clients see the gateway's. */
  readonly connectionId: number;
  /** When the backend login happened (performance.now()). */
  readonly createdAt: number;
  /** The server (`host:port`): the bound on idle connections is per server, in total. */
  readonly server: string;
  /** The database it was logged in to; COM_INIT_DB brings it back there before it is pooled. */
  readonly database: string;
  /** The session's capability flags (CLIENT_DEPRECATE_EOF shapes the probe's answer). */
  readonly capabilities: number;
}

/** What a session's backend login was made of, for {@link mysqlPoolKey}. */
export interface MysqlPoolKeyParts {
  readonly username: string;
  /** The gateway-held password it was logged in with: a rotated one never reuses a connection of the old. */
  readonly password: string;
  readonly database: string;
  readonly charset: number;
  readonly capabilities: number;
  /**
   * The principal behind the session: the backend's `iamdb.principal_arn` connection
   * attribute, set at its login, is then true for every session it serves.
   */
  readonly principalArn: string;
}

/**
 * What decides that a pooled connection fits a new session: the backend, the DB user with the
 * gateway-held password, the database, the character set, the session capability flags (they
 * frame every packet the client reads) and the principal (see {@link MysqlPoolKeyParts}).
 */
export function mysqlPoolKey(spec: BackendSpec, parts: MysqlPoolKeyParts): string {
  return createHash("sha256")
    .update(
      [
        spec.host,
        spec.port,
        spec.tls,
        parts.username,
        parts.password,
        parts.database,
        parts.charset,
        parts.capabilities & SESSION_CAPABILITIES,
        parts.principalArn,
      ].join("\0"),
    )
    .digest("base64");
}

/** The bound per server when "auto" could not read the server's max_connections. */
export const MYSQL_FALLBACK_MAX_IDLE_TOTAL = 16;

const QUIT = encodePacket(0, Buffer.of(Command.QUIT));
const RESET = encodePacket(0, Buffer.of(Command.RESET_CONNECTION));
const PROBE = encodePacket(0, Buffer.from("\x03SELECT @@max_connections", "latin1"));
const CURRENT_ROLE = encodePacket(0, Buffer.from("\x03SELECT CURRENT_ROLE()", "latin1"));
const IGNORE_SPACE = encodePacket(
  0,
  Buffer.from("\x03SET SESSION sql_mode = CONCAT_WS(',', @@session.sql_mode, 'IGNORE_SPACE')", "latin1"),
);

/** Ends a backend connection politely (COM_QUIT, so the server counts no aborted connection), or at once. */
export function retireMysql(socket: Socket): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(QUIT);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * The value of a one-column, one-row text result's row: a length-encoded string of at most 250
 * bytes, or undefined for NULL (0xFB) or anything else.
 */
function textValue(row: Buffer | undefined): string | undefined {
  const n = row?.[0];
  if (row === undefined || n === undefined || n > 250 || 1 + n > row.length) return undefined;
  return row.toString("latin1", 1, 1 + n);
}

/**
 * What one command of the reset must be answered with: an OK packet, or a one-row, one-column
 * text result whose value `value` accepts (false: the connection goes), or an ERR, which
 * `onError` takes (a server without the feature asked about).
 */
type ResetStep =
  | typeof OK_STEP
  | { readonly value: (v: string | undefined) => boolean; readonly onError: () => void };
const OK_STEP = { ok: true } as const;

/**
 * Logged-in MySQL / MariaDB backend connections, per {@link mysqlPoolKey}, reused as the
 * PostgreSQL engine's {@link import("../postgres/pool.js").BackendPool} reuses its own: when a
 * client leaves with the backend idle (every command answered, no transaction open), the
 * connection is reset with COM_RESET_CONNECTION (user variables, temporary tables, prepared
 * statements, table locks and GET_LOCK locks, session variables and the transaction go) and
 * COM_INIT_DB back to its database (IGNORE_SPACE put back in sql_mode for a client that asked
 * for it, and a connection with a role still active closed: the reset keeps `SET ROLE`), and
 * the next authenticated client with the same key
 * starts on it without a backend login. Every client is still authenticated and authorized on
 * its own. The same bounds: `maxIdle` per key, `maxIdleTotal` per server ("auto": half the
 * server's max_connections, read with the first reset), idle timeout, lifetime, kept by the
 * same {@link IdleBackends}; this class adds the key, the reset and the max_connections probe.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_reset_connection.html
 */
export class MysqlBackendPool {
  readonly #idle: IdleBackends<MysqlPooledBackend>;

  constructor(private readonly options: BackendPoolOptions) {
    this.#idle = new IdleBackends(options, {
      retire: retireMysql,
      fallbackMaxIdleTotal: MYSQL_FALLBACK_MAX_IDLE_TOTAL,
    });
  }

  get enabled(): boolean {
    return this.#idle.enabled;
  }

  /** An idle connection for `key`, most recently used first, or undefined. */
  take(key: string): MysqlPooledBackend | undefined {
    return this.#idle.take(key);
  }

  /**
   * Takes back a backend whose session ended with the backend idle: resets it and keeps it,
   * or closes it when the pool is full or closed, the connection too old, or the reset not
   * answered as expected (OKs, no role active, nothing unasked) within `resetTimeoutMs`. The
   * caller has removed its own listeners from the socket.
   */
  release(key: string, backend: MysqlPooledBackend): void {
    const { socket } = backend;
    if (!this.#idle.accepts(key, backend)) {
      retireMysql(socket);
      return;
    }
    const probe = this.#idle.beginProbe(backend.server);
    let available: number | undefined;
    let probeRefused = false;
    // The answers due, in order: a step per command sent below.
    const steps: ResetStep[] = [OK_STEP, OK_STEP];
    const commands: Buffer[] = [
      RESET,
      encodePacket(0, Buffer.concat([Buffer.of(Command.INIT_DB), Buffer.from(backend.database)])),
    ];
    if (backend.capabilities & Capability.IGNORE_SPACE) {
      // The server adds IGNORE_SPACE to sql_mode at a login with CLIENT_IGNORE_SPACE; the reset
      // brings back the global sql_mode without it.
      commands.push(IGNORE_SPACE);
      steps.push(OK_STEP);
    }
    // COM_RESET_CONNECTION keeps a role set with SET ROLE (MariaDB 10.11): a connection with a
    // role still active is closed, never handed on (CURRENT_ROLE() is NULL on MariaDB, 'NONE'
    // on MySQL without one; a server without roles answers ERR, and has none).
    commands.push(CURRENT_ROLE);
    steps.push({ value: (v) => v === undefined || v === "NONE", onError: () => {} });
    if (probe) {
      commands.push(PROBE);
      steps.push({
        value: (v) => {
          const n = Number(v);
          if (v !== undefined && Number.isInteger(n) && n >= 0) available = n;
          else probeRefused = true;
          return true;
        },
        onError: () => {
          probeRefused = true;
        },
      });
    }
    const resultPackets = backend.capabilities & Capability.DEPRECATE_EOF ? 4 : 5;
    const parser = new PacketParser(1 << 16);
    let step = 0;
    let rows: Buffer[] = [];
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", fail);
      socket.off("error", fail);
      if (probe) this.#idle.endProbe(backend.server, available, probeRefused);
    };
    const fail = (): void => {
      cleanup();
      socket.destroy();
    };
    /** One answer's packet; false when the connection must go. */
    const take = (payload: Buffer): boolean => {
      const s = steps[step] as ResetStep;
      if ("ok" in s) {
        // Anything but OK (an ERR: the reset or the database failed) and the connection goes.
        if (payload[0] !== 0x00) return false;
        step++;
        return true;
      }
      if (payload[0] === 0xff && rows.length === 0) {
        s.onError();
        step++;
        return true;
      }
      rows.push(payload);
      if (rows.length < resultPackets) return true;
      const ok = s.value(textValue(rows[resultPackets - 2]));
      rows = [];
      step++;
      return ok;
    };
    const onData = (chunk: Buffer) => {
      for (const e of parser.push(chunk)) {
        // A packet after the last answer is one nobody asked for: the stream is not ours to trust.
        if (e.kind === "error" || step >= steps.length || !take(e.payload)) return fail();
      }
      if (step < steps.length) return;
      cleanup();
      if (parser.buffered > 0) socket.destroy();
      else this.#idle.park(key, backend);
    };
    const timer = setTimeout(fail, this.options.resetTimeoutMs);
    socket.on("data", onData);
    socket.once("close", fail);
    socket.on("error", fail);
    socket.resume();
    socket.write(Buffer.concat(commands));
  }

  /** Closes every idle connection and keeps none from now on. */
  close(): void {
    this.#idle.close();
  }
}
