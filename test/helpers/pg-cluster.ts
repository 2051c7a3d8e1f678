import { execFile } from "node:child_process";
import {
  chownSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * A throwaway PostgreSQL cluster that checks passwords (scram-sha-256), for the tests that must
 * prove a login really happens: the machine's PostgreSQL trusts everyone. Made with initdb in
 * a temp dir, on a free port below the ephemeral range, and deleted by stop().
 */
export interface PgCluster {
  readonly port: number;
  readonly dir: string;
  readonly superuserPassword: string;
  readonly bin: (name: string) => string;
  /** Runs SQL statements as the superuser. */
  sql(statements: string[]): Promise<void>;
  stop(): Promise<void>;
}

function findBinDir(): string {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)) : [];
  const dir = versions
    .sort((a, b) => Number(b) - Number(a))
    .map((v) => join(root, v, "bin"))
    .find((d) => existsSync(join(d, "initdb")));
  // Every machine this project runs on has PostgreSQL's server binaries; fail rather than skip.
  if (!dir)
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql: install postgresql");
  return dir;
}

/** initdb refuses to run as root: switch to the postgres OS user. */
function asPostgres(command: string, args: string[]): Promise<unknown> {
  if (userInfo().username === "postgres") return run(command, args);
  if (process.getuid?.() !== 0)
    throw new Error("run the tests as root or as the postgres user (initdb refuses root)");
  return run("runuser", ["-u", "postgres", "--", command, ...args]);
}

function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = (line ?? "").split(":");
  if (uid === undefined || gid === undefined) throw new Error("no postgres user in /etc/passwd");
  return { uid: Number(uid), gid: Number(gid) };
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free port below 32768 after 50 attempts");
}

export async function startPgCluster(
  options: {
    hbaPrefix?: string /** Server settings (-c name=value), e.g. a small max_connections. */;
    settings?: Record<string, string>;
  } = {},
): Promise<PgCluster> {
  const binDir = findBinDir();
  const bin = (name: string) => join(binDir, name);
  const superuserPassword = "super-secret-pw";
  const dir = mkdtempSync(join(tmpdir(), "iamdb-pg-"));
  const { uid, gid } = postgresIds();
  chownSync(dir, uid, gid);
  const pwfile = join(dir, "pwfile");
  writeFileSync(pwfile, `${superuserPassword}\n`, { mode: 0o600 });
  chownSync(pwfile, uid, gid);
  const data = join(dir, "data");
  let started = false;
  const stop = async () => {
    if (started)
      await asPostgres(bin("pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    started = false;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await asPostgres(bin("initdb"), [
      "-D",
      data,
      "-U",
      "postgres",
      "-E",
      "UTF8",
      "--auth=scram-sha-256",
      `--pwfile=${pwfile}`,
      "--no-sync",
    ]);
    if (options.hbaPrefix) {
      const hba = join(data, "pg_hba.conf");
      writeFileSync(hba, `${options.hbaPrefix}${readFileSync(hba, "utf8")}`);
    }
    const port = await freePort();
    await asPostgres(bin("pg_ctl"), [
      "-D",
      data,
      "-w",
      "-t",
      "20",
      "-l",
      join(dir, "server.log"),
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off${Object.entries(options.settings ?? {})
        .map(([k, v]) => ` -c ${k}=${v}`)
        .join("")}`,
      "start",
    ]);
    started = true;
    return {
      port,
      dir,
      superuserPassword,
      bin,
      async sql(statements) {
        await run(
          bin("psql"),
          [
            "-h",
            "127.0.0.1",
            "-p",
            String(port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            ...statements.flatMap((s) => ["-c", s]),
          ],
          { env: { ...process.env, PGPASSWORD: superuserPassword } },
        );
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
