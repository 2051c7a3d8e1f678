// The bench's own PostgreSQL: initdb in a temp dir, run in the foreground as the postgres OS
// user (so the bench owns its process and can stop it), TLS on with the same certificate the
// proxies serve. Trust authentication on loopback for every path: the baselines do no auth
// work at all, so iamdb's token check is measured against the cheapest possible login.
import type { ChildProcess } from "node:child_process";
import {
  chownSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileP, freePort, postgresIds, sleep, spawnTracked, stopChild } from "./proc.js";

export interface Postgres {
  readonly port: number;
  readonly pid: number;
  readonly bin: (name: string) => string;
  /** Runs SQL as the superuser through psql over the Unix socket. */
  psql(sql: string): Promise<string>;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = "/usr/lib/postgresql";
  const dir = (existsSync(root) ? readdirSync(root) : [])
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, "bin"))
    .find((d) => existsSync(join(d, "initdb")));
  if (!dir)
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql: install postgresql");
  return dir;
}

export async function startPostgres(options: {
  certFile: string;
  keyFile: string;
  maxConnections: number;
}): Promise<Postgres> {
  const dir = binDir();
  const bin = (name: string) => join(dir, name);
  const ids = postgresIds();
  const root = mkdtempSync(join(tmpdir(), "iamdb-bench-pg-"));
  chownSync(root, ids.uid, ids.gid);
  const data = join(root, "data");
  let child: ChildProcess | undefined;
  const stop = async () => {
    // SIGINT is PostgreSQL's fast shutdown: roll back, disconnect, exit.
    if (child) await stopChild(child, "SIGINT");
    rmSync(root, { recursive: true, force: true });
  };
  try {
    await execFileP(
      bin("initdb"),
      ["-D", data, "-U", "postgres", "-E", "UTF8", "--auth=trust", "--no-sync", "--no-instructions"],
      { uid: ids.uid, gid: ids.gid },
    );
    // The server key must belong to the server's user and be private (PostgreSQL checks).
    for (const [from, to] of [
      [options.certFile, "server.crt"],
      [options.keyFile, "server.key"],
    ] as const) {
      copyFileSync(from, join(data, to));
      chownSync(join(data, to), ids.uid, ids.gid);
    }
    writeFileSync(join(data, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\n");
    const port = await freePort();
    child = spawnTracked(
      bin("postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        root,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        `max_connections=${options.maxConnections}`,
        "-c",
        "shared_buffers=256MB",
        "-c",
        "ssl=on",
        "-c",
        "ssl_min_protocol_version=TLSv1.2",
      ],
      { name: "postgres", uid: ids.uid, gid: ids.gid, stdio: ["ignore", "ignore", "pipe"] },
    );
    const psql = async (sql: string) =>
      (
        await execFileP(
          bin("psql"),
          [
            "-h",
            root,
            "-p",
            String(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-XAtq",
            "-v",
            "ON_ERROR_STOP=1",
            "-c",
            sql,
          ],
          {
            maxBuffer: 1 << 20,
          },
        )
      ).stdout;
    for (let i = 0; ; i++) {
      try {
        await psql("SELECT 1");
        break;
      } catch (err) {
        if (i > 200 || child.exitCode !== null)
          throw new Error(`PostgreSQL did not start: ${(err as Error).message}`);
        await sleep(100);
      }
    }
    const pid = child.pid ?? 0;
    return { port, pid, bin, psql, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
