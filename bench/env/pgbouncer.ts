// Debian's pgbouncer in session mode (or transaction mode), TLS to clients with the certificate iamdb serves,
// plaintext to the loopback backend (as iamdb's backend link), trust auth (see postgres.ts).
// Run in the foreground as the postgres OS user so the bench can read its /proc entries.
import type { ChildProcess } from "node:child_process";
import { chownSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureCommand, freePort, postgresIds, sleep, spawnTracked, stopChild } from "./proc.js";

export interface Pgbouncer {
  readonly port: number;
  readonly pid: number;
  stop(): Promise<void>;
}

const canConnect = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });

export async function startPgbouncer(options: {
  backendPort: number;
  database: string;
  users: string[];
  certFile: string;
  keyFile: string;
  maxClients: number;
  /** Transaction mode with this many server connections (session mode, one per client, when absent). */
  transactionPoolSize?: number;
}): Promise<Pgbouncer> {
  ensureCommand("pgbouncer", "pgbouncer");
  const ids = postgresIds();
  const dir = mkdtempSync(join(tmpdir(), "iamdb-bench-pgb-"));
  chownSync(dir, ids.uid, ids.gid);
  for (const [from, to] of [
    [options.certFile, "server.crt"],
    [options.keyFile, "server.key"],
  ] as const) {
    copyFileSync(from, join(dir, to));
    chownSync(join(dir, to), ids.uid, ids.gid);
  }
  const port = await freePort();
  const ini = [
    "[databases]",
    `${options.database} = host=127.0.0.1 port=${options.backendPort} dbname=${options.database}`,
    "[pgbouncer]",
    "listen_addr = 127.0.0.1",
    `listen_port = ${port}`,
    `unix_socket_dir = ${dir}`,
    `pool_mode = ${options.transactionPoolSize === undefined ? "session" : "transaction"}`,
    "auth_type = trust",
    `auth_file = ${join(dir, "users.txt")}`,
    // Session mode holds one server connection per client: size the pool for every client.
    `max_client_conn = ${options.maxClients + 100}`,
    `default_pool_size = ${options.transactionPoolSize ?? options.maxClients + 20}`,
    "client_tls_sslmode = require",
    `client_tls_cert_file = ${join(dir, "server.crt")}`,
    `client_tls_key_file = ${join(dir, "server.key")}`,
    "client_tls_protocols = tlsv1.2,tlsv1.3",
    "server_tls_sslmode = disable",
    "log_connections = 0",
    "log_disconnections = 0",
    "log_stats = 0",
    "ignore_startup_parameters = extra_float_digits",
    "",
  ].join("\n");
  writeFileSync(join(dir, "pgbouncer.ini"), ini);
  writeFileSync(join(dir, "users.txt"), options.users.map((u) => `"${u}" ""\n`).join(""));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) await stopChild(child, "SIGINT");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    child = spawnTracked("pgbouncer", [join(dir, "pgbouncer.ini")], {
      name: "pgbouncer",
      uid: ids.uid,
      gid: ids.gid,
      stdio: ["ignore", "ignore", "pipe"],
    });
    for (let i = 0; !(await canConnect(port)); i++) {
      if (i > 100 || child.exitCode !== null)
        throw new Error("pgbouncer did not start; see its output above");
      await sleep(100);
    }
    return { port, pid: child.pid ?? 0, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
