import { mkdir, open, readdir, readFile, rm } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { resolve } from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { BOOTSTRAP_USER, SharedBackend } from "./backend.js";
import { EmbeddedPostgresError } from "./errors.js";
import { ClientSession } from "./session.js";

/**
 * The embedded backend behind `iamdb up`: PGlite (PostgreSQL 18 compiled to WASM, one backend in
 * single-user mode) with its data in a directory, served over the PostgreSQL wire protocol.
 *
 * What we found in @electric-sql/pglite 0.5 / pglite-socket 0.2, and why this module does not
 * use pglite-socket's server (see the findings in backend.ts and session.ts for detail):
 *
 * - Concurrency: PGlite has exactly one session. pglite-socket accepts `maxConnections`
 *   connections (default 1; the next one gets the text "Too many connections", not a protocol
 *   error) and interleaves their messages, switching clients after any single message unless
 *   an explicit transaction block is open. A Parse from one client can be followed by another
 *   client's Parse before the first client's Bind, which then binds the wrong statement
 *   (reproduced whenever a client's messages arrive in separate TCP segments, as they do
 *   through a relay). {@link SharedBackend} instead keeps the backend with one
 *   session until it is idle (ReadyForQuery 'I'). Sessions therefore run one transaction at a
 *   time: a session idle in a transaction holds everyone else, new logins included.
 * - Authentication: pglite-socket does none. Any user name, any password, any database name is
 *   accepted, and every connection runs as the bootstrap superuser `postgres` (PGlite ignores
 *   the startup packet's user). Here the start-up is handled before PGlite sees anything:
 *   the role must exist and have LOGIN; a role with a password must prove it with
 *   SCRAM-SHA-256 against pg_authid (as PostgreSQL does with password_encryption =
 *   scram-sha-256, the default); a role without a password (such as `postgres`) is let in,
 *   like `trust` — which is why the listener is on loopback by default.
 * - Roles: `CREATE ROLE … LOGIN PASSWORD …`, `CREATE ROLE rds_iam`, `GRANT rds_iam TO …` work as
 *   in PostgreSQL. A session logged in as a role runs under `SET SESSION AUTHORIZATION <role>`,
 *   so privileges are enforced for ordinary SQL. It is not a security boundary: PGlite's
 *   authenticated user is always the superuser, so a client can run
 *   `SET SESSION AUTHORIZATION postgres`.
 * - Shared state: GUCs changed with SET, prepared statements, temporary tables and LISTEN belong
 *   to the one backend session and are visible to all clients. Start-up parameters other than
 *   user, database and application_name are ignored. CancelRequest is accepted and ignored.
 *   Only the database `postgres` can be connected to; no TLS on this port (answer 'N').
 * - A place for tables: since PostgreSQL 15 only the database owner may create in `public`,
 *   so an IAM DB user of the demo could not `CREATE TABLE`. Members of `rds_iam` (every IAM
 *   DB user `db-user` makes) get CREATE on `public` here; see {@link letIamUsersCreateTables}.
 * - Persistence: the data directory is a PostgreSQL data directory written through Node's fs;
 *   PGlite has no postmaster.pid, so this module keeps a lock file to stop two servers from
 *   opening the same directory.
 */
export interface EmbeddedPostgres {
  host: string;
  /** The port actually listened on (the one picked by the OS when 0 was asked for). */
  port: number;
  /** Superuser with no password; a client logging in as it is not asked for one. */
  adminUser: string;
  database: string;
  /** Stops listening, drops clients (rolling back what they left open) and closes PGlite. */
  close(): Promise<void>;
}

export interface StartEmbeddedPostgresOptions {
  /** PGlite's data directory; created (0700) on first start, reused afterwards. */
  dataDir: string;
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** TCP port; default 0, a free port picked by the OS. */
  port?: number;
}

const DATABASE = "postgres";
/** Lives in the data directory; PostgreSQL ignores files it does not know. */
const LOCK_FILE = "iamdb-embedded.lock";

/** Data directories opened by this process: a second start in-process has no other pid to tell apart. */
const openHere = new Set<string>();

/** Starts PGlite on `dataDir` and serves it on host:port. */
export async function startEmbeddedPostgres(
  options: StartEmbeddedPostgresOptions,
): Promise<EmbeddedPostgres> {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new EmbeddedPostgresError(`port ${port} is not a TCP port; pass 0 to 65535 (0 picks a free one)`);
  }
  const dataDir = resolve(options.dataDir);
  await prepareDataDir(dataDir);
  const unlock = await lockDataDir(dataDir);
  let db: PGlite | undefined;
  try {
    db = await openPglite(dataDir);
    await letIamUsersCreateTables(db);
    const parameters = startupParameters(await db.execProtocolRaw(startupPacket(BOOTSTRAP_USER, DATABASE)));
    const backend = new SharedBackend(db);
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      new ClientSession(socket, { backend, database: DATABASE, parameters });
    });
    const actualPort = await listen(server, host, port);
    let closing: Promise<void> | undefined;
    return {
      host,
      port: actualPort,
      adminUser: BOOTSTRAP_USER,
      database: DATABASE,
      close() {
        closing ??= (async () => {
          const stopped = new Promise<void>((done) => server.close(() => done()));
          for (const socket of sockets) socket.destroy();
          await stopped;
          try {
            await backend.close();
          } finally {
            await unlock();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    await db?.close().catch(() => {});
    await unlock();
    throw e;
  }
}

async function prepareDataDir(dataDir: string): Promise<void> {
  let entries: string[];
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    entries = await readdir(dataDir);
  } catch (e) {
    throw new EmbeddedPostgresError(
      `cannot use ${dataDir} as the embedded database directory: ${(e as Error).message}; pass a writable directory`,
      { cause: e },
    );
  }
  const foreign = entries.filter((name) => name !== LOCK_FILE);
  if (foreign.length > 0 && !entries.includes("PG_VERSION")) {
    throw new EmbeddedPostgresError(
      `${dataDir} is not empty and holds no PostgreSQL data (no PG_VERSION); pass an empty or new directory`,
    );
  }
}

/** Takes the directory's lock file, or says who holds it. Returns the release function. */
async function lockDataDir(dataDir: string): Promise<() => Promise<void>> {
  const path = `${dataDir}/${LOCK_FILE}`;
  const inUse = (pid: number | string) =>
    new EmbeddedPostgresError(
      `${dataDir} is in use by ${pid === process.pid ? "this process" : `process ${pid}`} (another iamdb up?); stop it first, or pass another data directory`,
    );
  if (openHere.has(dataDir)) throw inUse(process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      openHere.add(dataDir);
      return async () => {
        openHere.delete(dataDir);
        await rm(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new EmbeddedPostgresError(
          `cannot create ${path}: ${(e as Error).message}; make ${dataDir} writable`,
          {
            cause: e,
          },
        );
      }
      const pid = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      if (Number.isInteger(pid) && pid !== process.pid && isAlive(pid)) throw inUse(pid);
      // Left behind by a process that is gone (or by this one before a crash-free restart).
      await rm(path, { force: true });
    }
  }
  throw inUse("another process");
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The embedded database is for trying iamdb out, and the first thing a person tries is a
 * table: `rds_iam` (created NOLOGIN here if missing, as provisioning would) gets CREATE on
 * schema `public`, so every IAM DB user may create tables there, as everyone could before
 * PostgreSQL 15. Run at every start; GRANT is idempotent. A real backend is left to its
 * operator (docs/CONFIGURATION.md says what to grant).
 * @see https://www.postgresql.org/docs/15/release-15.html (public schema permissions)
 */
async function letIamUsersCreateTables(db: PGlite): Promise<void> {
  await db.exec(`
    DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_iam') THEN CREATE ROLE rds_iam NOLOGIN; END IF;
    END $$;
    GRANT CREATE ON SCHEMA public TO rds_iam;
  `);
}

async function openPglite(dataDir: string): Promise<PGlite> {
  try {
    return await PGlite.create({ dataDir });
  } catch (e) {
    const version = await readFile(`${dataDir}/PG_VERSION`, "utf8").catch(() => undefined);
    throw new EmbeddedPostgresError(
      `the embedded PostgreSQL could not open ${dataDir}: ${(e as Error).message}; ` +
        (version === undefined
          ? "remove the directory to start afresh"
          : `it holds PostgreSQL ${version.trim()} data, which may be from another PGlite version — move it away to start afresh`),
      { cause: e },
    );
  }
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((done, fail) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      const why =
        e.code === "EADDRINUSE"
          ? `port ${port} on ${host} is in use; pass another port, or 0 to pick a free one`
          : e.code === "EADDRNOTAVAIL"
            ? `${host} is not an address of this machine; pass one that is, such as 127.0.0.1`
            : `cannot listen on ${host}:${port}: ${e.message}`;
      fail(new EmbeddedPostgresError(why, { cause: e }));
    });
    server.listen(port, host, () => {
      const address = server.address();
      done(typeof address === "object" && address !== null ? address.port : port);
    });
  });
}

/** A StartupMessage, to have PGlite report its ParameterStatus values once. */
function startupPacket(user: string, database: string): Uint8Array {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`, "utf8");
  const head = Buffer.alloc(8);
  head.writeInt32BE(body.length + 8, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

/** The ParameterStatus ('S') name/value pairs in PGlite's reply to a StartupMessage. */
function startupParameters(reply: Uint8Array): [string, string][] {
  const buf = Buffer.from(reply);
  const out: [string, string][] = [];
  for (let at = 0; at + 5 <= buf.length; at += 1 + buf.readInt32BE(at + 1)) {
    if (buf[at] !== 0x53) continue;
    const [name = "", value = ""] = buf
      .subarray(at + 5, at + 1 + buf.readInt32BE(at + 1))
      .toString("utf8")
      .split("\0");
    out.push([name, value]);
  }
  return out;
}
