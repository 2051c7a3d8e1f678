// The bench's own MariaDB: mariadb-install-db in a temp dir, mariadbd in the foreground as a
// child of the bench (so it owns the process, reads its /proc entries and stops it), TLS on with
// the certificate the iamdb listener serves. The machine's MariaDB (if any) is never touched: it
// runs without TLS, and direct connections must pay for TLS as the gateway's clients do.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { execFileP, freePort, sleep, spawnTracked, stopChild } from "./proc.js";

export interface Mariadb {
  readonly port: number;
  readonly pid: number;
  readonly version: string;
  /** Runs SQL as root over the Unix socket; returns the rows. */
  sql(sql: string, values?: unknown[]): Promise<Array<Record<string, unknown>>>;
  /** A counter of SHOW GLOBAL STATUS (e.g. Ssl_finished_accepts). */
  status(name: string): Promise<number>;
  stop(): Promise<void>;
}

const MARIADBD = "/usr/sbin/mariadbd";

export async function startMariadb(options: {
  certFile: string;
  keyFile: string;
  /**
   * The CA mariadbd checks client certificates against. MariaDB asks every TLS client for a
   * certificate and refuses one it cannot verify, and sysbench always sends one (see mysql.ts).
   */
  caFile: string;
  maxConnections: number;
}): Promise<Mariadb> {
  if (!existsSync(MARIADBD))
    throw new Error(`${MARIADBD} not found: install the MariaDB server (apt-get install mariadb-server)`);
  const root = mkdtempSync(join(tmpdir(), "iamdb-bench-my-"));
  const data = join(root, "data");
  const socketPath = join(root, "mysqld.sock");
  // mariadbd refuses to run as root unless told to; elsewhere it runs as the bench's user.
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  let child: ReturnType<typeof spawnTracked> | undefined;
  const stop = async () => {
    // SIGTERM is mariadbd's normal shutdown.
    if (child) await stopChild(child, "SIGTERM", 20_000);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    // root@localhost / root@127.0.0.1 with an empty password ("normal"), no test database.
    await execFileP("mariadb-install-db", [
      "--no-defaults",
      `--datadir=${data}`,
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
      ...asRoot,
    ]);
    const port = await freePort();
    child = spawnTracked(
      MARIADBD,
      [
        // Must come first: no /etc/mysql option files, so nothing of the machine's server leaks in.
        "--no-defaults",
        `--datadir=${data}`,
        `--socket=${socketPath}`,
        `--pid-file=${join(root, "mariadbd.pid")}`,
        `--port=${port}`,
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
        "--skip-log-bin",
        `--ssl-cert=${options.certFile}`,
        `--ssl-key=${options.keyFile}`,
        `--ssl-ca=${options.caFile}`,
        `--max-connections=${options.maxConnections}`,
        // A read-only load over a table that fits in memory; nothing here is worth an fsync.
        "--innodb-buffer-pool-size=256M",
        "--innodb-flush-log-at-trx-commit=0",
        "--innodb-doublewrite=0",
        ...asRoot,
      ],
      { name: "mariadbd", stdio: ["ignore", "ignore", "pipe"] },
    );
    const connect = () => mysql.createConnection({ socketPath, user: "root", multipleStatements: true });
    let admin: mysql.Connection | undefined;
    for (let i = 0; admin === undefined; i++) {
      try {
        admin = await connect();
      } catch (err) {
        if (i > 300 || child.exitCode !== null)
          throw new Error(`mariadbd did not start: ${(err as Error).message}`);
        await sleep(100);
      }
    }
    const conn = admin;
    const sql = async (text: string, values?: unknown[]) =>
      (await conn.query(text, values))[0] as Array<Record<string, unknown>>;
    const [row] = await sql("SELECT VERSION() AS v");
    return {
      port,
      pid: child.pid ?? 0,
      version: String(row?.v),
      sql,
      status: async (name) =>
        Number((await sql("SHOW GLOBAL STATUS LIKE ?", [name]))[0]?.Value ?? Number.NaN),
      async stop() {
        await conn.end().catch(() => undefined);
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
