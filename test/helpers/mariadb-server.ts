// A throwaway MariaDB server in a temp dir (Debian's mariadb-install-db and mariadbd), for what
// the machine's shared server cannot be asked to change: here, performance_schema on.
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./pg-cluster.js";

const run = promisify(execFile);

export interface MariadbServer {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

/** Starts mariadbd on a free port below 32768 (root, empty password), with `options` as extra flags. */
export async function startMariadbServer(options: string[] = []): Promise<MariadbServer> {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-mariadb-"));
  const data = join(dir, "data");
  const asRoot = process.getuid?.() === 0 ? ["--user=root"] : [];
  await run("mariadb-install-db", [
    "--no-defaults",
    `--datadir=${data}`,
    ...asRoot,
    "--auth-root-authentication-method=normal",
    "--skip-test-db",
  ]);
  const port = await freePort();
  const child = spawn(
    "mariadbd",
    [
      "--no-defaults",
      `--datadir=${data}`,
      `--port=${port}`,
      `--socket=${join(dir, "sock")}`,
      "--bind-address=127.0.0.1",
      ...asRoot,
      "--skip-log-bin",
      "--innodb-buffer-pool-size=16M",
      `--log-error=${join(dir, "error.log")}`,
      ...options,
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    rmSync(dir, { recursive: true, force: true });
  };
  for (let i = 0; i < 100; i++) {
    try {
      await run("mariadb-admin", [
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        String(port),
        "-u",
        "root",
        "ping",
      ]);
      await run("mariadb", [
        "--no-defaults",
        "-h",
        "127.0.0.1",
        "-P",
        String(port),
        "-u",
        "root",
        "-e",
        "CREATE DATABASE test",
      ]);
      return { port, dir, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  await stop();
  throw new Error(`mariadbd did not start on port ${port}; see ${join(dir, "error.log")}`);
}
