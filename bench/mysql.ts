// iamdb's MySQL gateway against direct connections to MariaDB, both over TLS with the same ECDSA
// P-256 certificate, paths interleaved round by round (the order alternating each round):
//   point selects    sysbench oltp_point_select, 8 threads    queries/s, CPU µs per query
//   new connections  mariadb-slap --detach=1, 8 threads:      connections/s, CPU µs per connection
//                    connect (TLS), SELECT 1, close
// Point selects also run through a third path, "node relay" (bench/bare-mysql-relay.ts): the
// least a Node process does in the gateway's place (TLS in, plaintext TCP out, chunks relayed),
// a ceiling for any relay written in Node on this machine.
// The bench starts its own mariadbd (the machine's has TLS off) and one iamdb gateway process.
// The load generators are C programs on libmariadb, the same one for both paths of a workload,
// on the same cores as MariaDB and the gateway: their CPU per unit and the machine's busy share
// are reported next to the gateway's, so a saturated client or a noisy neighbour is visible.
import { type ChildProcess, execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ensureListenerTls, TLS_FILES } from "../src/tls/index.js";
import { type GatewayProcess, startGatewayProcess } from "./env/gateway.js";
import { type Mariadb, startMariadb } from "./env/mariadb.js";
import { cpuSeconds, ensureCommand, execFileP, spawnTracked, stopChild } from "./env/proc.js";
import { type Stat, summarize } from "./harness.js";
import { type ProfileSummary, summarizeProfile } from "./profile.js";

const DB = "sbtest";
const DB_USER = "bench";
/** The direct path's account: a password MariaDB checks (mysql_native_password), as the gateway's login does. */
const DIRECT_USER = "direct";
const INSTANCE = "my1";
/** The name of the bare Node relay's path (point selects only). */
export const NODE_RELAY = "node relay";
const THREADS = 8;
/** Rows in sbtest1: ~25 MB, well inside the buffer pool, so every point select is a memory lookup. */
const TABLE_SIZE = 100_000;

export interface MysqlBenchOptions {
  rounds: number;
  /** Seconds per run (each workload, each path, each round). */
  seconds: number;
  /** Where CPU profiles of the gateway are written. */
  profileDir: string;
}

export interface MysqlPathStats {
  name: string;
  /** Queries/s or connections/s. */
  value: Stat;
  /** Gateway CPU µs per query or connection (iamdb and the node relay: the relaying process's). */
  gatewayCpu?: Stat;
  /** The load generator's (sysbench's, mariadb-slap's) CPU µs per unit: the same client on both paths. */
  clientCpu: Stat;
  /** mariadbd's CPU µs per unit. */
  serverCpu: Stat;
  /** Share of the machine's CPU (all cores) busy during the runs, in %. */
  machineBusy: Stat;
  /** The part of machineBusy that was neither the load generator, the gateway nor mariadbd, in %. */
  othersBusy: Stat;
}

export interface MysqlResults {
  setup: {
    server: string;
    /** sysbench (point selects) and mariadb-slap (new connections), as `--version` prints them. */
    loadGenerators: string[];
    threads: number;
    tableSize: number;
    seconds: number;
    rounds: number;
    cores: number;
    /** Direct connections that completed a TLS handshake at MariaDB, per connection (1 = all). */
    directTlsShare: number;
  };
  pointSelect: MysqlPathStats[];
  connect: MysqlPathStats[];
  profiles: { pointSelect: ProfileSummary; connect: ProfileSummary };
}

interface Target {
  name: string;
  port: number;
  user: string;
  /** The relaying process whose CPU is charged; none for direct. */
  pid?: number;
  password: () => Promise<string>;
}

interface Run {
  perSec: number;
  units: number;
  gatewayCpu: number;
  clientCpu: number;
  serverCpu: number;
  machineBusy: number;
  othersBusy: number;
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. @see proc(5) */
function machineTicks(): { busy: number; total: number } {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - (v[3] ?? 0) - (v[4] ?? 0), total };
}

/** CPU seconds of a shell's children, from the second line `times` prints ("0m1.23s 0m0.45s"). */
function childrenCpu(timesOutput: string): number {
  const lines = timesOutput.trim().split("\n");
  const m = [...(lines[lines.length - 1] ?? "").matchAll(/(\d+)m([\d.]+)s/g)];
  return m.reduce((a, x) => a + Number(x[1]) * 60 + Number(x[2]), 0);
}

/** A load generator's command: its stdout gives the units done and the seconds they took. */
interface ClientCommand {
  what: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  parse(stdout: string): { units: number; seconds: number } | undefined;
}

/**
 * Runs a load generator under `sh`, whose `times` reports the generator's CPU, and charges the
 * gateway, mariadbd and the whole machine for the same interval. Errors carry the tool's output
 * but never its command line (a token may be on it).
 */
async function measure(cwd: string, t: Target, mariadb: Mariadb, c: ClientCommand): Promise<Run> {
  const gw0 = t.pid ? cpuSeconds(t.pid) : 0;
  const db0 = cpuSeconds(mariadb.pid);
  const m0 = machineTicks();
  const start = performance.now();
  const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
    execFile(
      "sh",
      ["-c", '"$@"; s=$?; times >&2; exit $s', "sh", c.command, ...c.args],
      { cwd, maxBuffer: 1 << 20, env: { ...process.env, ...c.env } },
      (err, out, errOut) =>
        err
          ? reject(new Error(`${c.what} through ${t.name} failed (exit ${err.code}):\n${out}${errOut}`))
          : resolve({ stdout: out, stderr: errOut }),
    );
  });
  const wall = (performance.now() - start) / 1000;
  const m1 = machineTicks();
  const gatewayCpu = t.pid ? cpuSeconds(t.pid) - gw0 : 0;
  const serverCpu = cpuSeconds(mariadb.pid) - db0;
  const clientCpu = childrenCpu(stderr);
  const done = c.parse(stdout);
  if (!done?.units || !(done.seconds > 0))
    throw new Error(`${c.what} through ${t.name}: no result\n${stdout}`);
  const ticks = m1.total - m0.total;
  const busy = ticks > 0 ? (m1.busy - m0.busy) / ticks : Number.NaN;
  const ours = (gatewayCpu + serverCpu + clientCpu) / (wall * cpus().length);
  return {
    perSec: done.units / done.seconds,
    units: done.units,
    gatewayCpu,
    clientCpu,
    serverCpu,
    machineBusy: 100 * busy,
    othersBusy: 100 * Math.max(0, busy - ours),
  };
}

/**
 * sysbench oltp_point_select for `seconds` with THREADS connections (server-side prepared
 * statements, `SELECT c FROM sbtest1 WHERE id=?`), run in `cwd` where its TLS files are (see
 * `sysbenchTlsDir`). The password is on sysbench's command line: it has no other way in (its
 * --config-file cuts lines at 256 bytes, shorter than a token). Both passwords are throwaways:
 * the token's key lives in an IAM store deleted with the gateway at the end of the run, the
 * direct account in a server deleted with it.
 */
const pointSelects = async (t: Target, seconds: number): Promise<ClientCommand> => ({
  what: "sysbench oltp_point_select",
  command: "sysbench",
  args: [
    "oltp_point_select",
    "--db-driver=mysql",
    "--mysql-host=127.0.0.1",
    `--mysql-port=${t.port}`,
    `--mysql-user=${t.user}`,
    `--mysql-password=${await t.password()}`,
    `--mysql-db=${DB}`,
    "--mysql-ssl=on",
    `--table-size=${TABLE_SIZE}`,
    `--threads=${THREADS}`,
    `--time=${seconds}`,
    "run",
  ],
  parse(stdout) {
    const queries = Number(/^\s+queries:\s+(\d+)\s/m.exec(stdout)?.[1]);
    const seconds = Number(/^\s+total time:\s+([\d.]+)s/m.exec(stdout)?.[1]);
    return { units: queries, seconds };
  },
});

/**
 * THREADS loops of: new connection (TLS verified against the bench CA; through iamdb the
 * token as the password), `SELECT 1`, close (`mariadb-slap --detach=1`). mariadb-slap, not
 * sysbench: sysbench 1.0 always presents a client certificate, which MariaDB then verifies
 * (~0.5 ms of server CPU per connection that no ordinary client causes) and the gateway does
 * not ask for. It runs a count, not a time: `queries` comes from the path's last rate. The
 * password goes through MYSQL_PWD, off the command line.
 */
const newConnections =
  (caFile: string) =>
  async (t: Target, queries: number): Promise<ClientCommand> => ({
    what: "mariadb-slap --detach=1",
    command: "mariadb-slap",
    args: [
      "--no-defaults",
      "--protocol=TCP",
      "--host=127.0.0.1",
      `--port=${t.port}`,
      `--user=${t.user}`,
      `--ssl-ca=${caFile}`,
      "--ssl-verify-server-cert",
      `--create-schema=${DB}`,
      "--no-drop",
      `--concurrency=${THREADS}`,
      "--iterations=1",
      `--number-of-queries=${queries}`,
      "--detach=1",
      "--query=SELECT 1",
    ],
    env: { MYSQL_PWD: await t.password() },
    parse(stdout) {
      const seconds = Number(/Average number of seconds to run all queries: ([\d.]+)/.exec(stdout)?.[1]);
      const clients = Number(/Number of clients running queries: (\d+)/.exec(stdout)?.[1]);
      const perClient = Number(/Average number of queries per client: (\d+)/.exec(stdout)?.[1]);
      return { units: clients * perClient, seconds };
    },
  });

/** Starts bench/bare-mysql-relay.ts in front of MariaDB; resolves once it listens. */
async function startNodeRelay(
  backendPort: number,
  certFile: string,
  keyFile: string,
): Promise<{ pid: number; port: number; stop: () => Promise<void> }> {
  const entry = join(dirname(fileURLToPath(import.meta.url)), "bare-mysql-relay.ts");
  const child: ChildProcess = spawnTracked(
    process.execPath,
    ["--import", "tsx", entry, JSON.stringify({ backendPort, certFile, keyFile })],
    { name: "node relay", stdio: ["pipe", "pipe", "pipe"] },
  );
  const stop = async () => {
    child.stdin?.end();
    await stopChild(child, "SIGTERM", 5_000);
  };
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", resolve);
    child.once("exit", (code) => reject(new Error(`the node relay exited (${code}) before it was ready`)));
  }).catch(async (err: Error) => {
    await stop();
    throw err;
  });
  return { pid: child.pid ?? 0, port: (JSON.parse(line) as { port: number }).port, stop };
}

/**
 * sysbench 1.0's --mysql-ssl=on passes fixed file names in its working directory to
 * mysql_ssl_set: cacert.pem, client-cert.pem, client-key.pem. The client certificate is only
 * ever asked for by mariadbd (which then verifies it against the bench CA, hence a real one,
 * signed here with openssl); the gateway asks for none.
 */
async function sysbenchTlsDir(dir: string, tlsDir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "cacert.pem"), readFileSync(join(tlsDir, TLS_FILES.caCert)));
  const key = join(dir, "client-key.pem");
  const csr = join(dir, "client.csr");
  await execFileP("openssl", [
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    "/CN=iamdb-bench-sysbench",
    "-keyout",
    key,
    "-out",
    csr,
  ]);
  await execFileP("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    join(tlsDir, TLS_FILES.caCert),
    "-CAkey",
    join(tlsDir, TLS_FILES.caKey),
    "-set_serial",
    String(Date.now()),
    "-days",
    "2",
    "-out",
    join(dir, "client-cert.pem"),
  ]);
}

export async function benchMysql(
  options: MysqlBenchOptions,
  log: (s: string) => void,
): Promise<MysqlResults> {
  const { rounds, seconds } = options;
  ensureCommand("sysbench", "sysbench");
  ensureCommand("mariadb-slap", "mariadb-client");
  const scratch = mkdtempSync(join(tmpdir(), "iamdb-bench-mysql-"));
  const stops: Array<() => Promise<void>> = [];
  try {
    const tlsDir = join(scratch, "tls");
    await ensureListenerTls({ dir: tlsDir, names: ["localhost", "127.0.0.1"] });
    const certFile = join(tlsDir, TLS_FILES.serverCert);
    const keyFile = join(tlsDir, TLS_FILES.serverKey);
    const cwd = join(scratch, "sysbench");
    await sysbenchTlsDir(cwd, tlsDir);

    log("MySQL: starting MariaDB (own mariadbd, TLS on), loading sbtest1 ...");
    const mariadb = await startMariadb({
      certFile,
      keyFile,
      caFile: join(tlsDir, TLS_FILES.caCert),
      maxConnections: 500,
    });
    stops.push(() => mariadb.stop());
    await mariadb.sql(`CREATE DATABASE ${DB}`);
    const directPassword = randomBytes(18).toString("base64url");
    await mariadb.sql("CREATE USER ?@'%' IDENTIFIED BY ?", [DIRECT_USER, directPassword]);
    await mariadb.sql(`GRANT SELECT ON ${DB}.* TO ?@'%'`, [DIRECT_USER]);
    await execFileP("sysbench", [
      "oltp_point_select",
      "--db-driver=mysql",
      "--mysql-host=127.0.0.1",
      `--mysql-port=${mariadb.port}`,
      "--mysql-user=root",
      `--mysql-db=${DB}`,
      `--table-size=${TABLE_SIZE}`,
      "prepare",
    ]);
    const versions = await Promise.all(
      [
        ["sysbench", "--version"],
        ["mariadb-slap", "--version"],
      ].map(async ([cmd, arg]) =>
        (await execFileP(cmd as string, [arg as string])).stdout.trim().replace(/\s+/g, " "),
      ),
    );

    log("MySQL: starting the iamdb gateway (child process, MariaDB engine) ...");
    const gw: GatewayProcess = await startGatewayProcess({
      engine: "mariadb",
      backend: { port: mariadb.port, database: DB, adminUser: "root" },
      dbUser: DB_USER,
      instances: [{ identifier: INSTANCE, certFile, keyFile }],
    });
    stops.push(() => gw.stop());
    // The gateway created the DB user at '%' (and at any host an anonymous account names).
    for (const row of await mariadb.sql("SELECT Host FROM mysql.user WHERE User = ?", [DB_USER]))
      await mariadb.sql(`GRANT SELECT ON ${DB}.* TO ?@?`, [DB_USER, row.Host]);

    const iamdb: Target = {
      name: "iamdb",
      port: gw.ports[INSTANCE] ?? 0,
      user: DB_USER,
      pid: gw.pid,
      password: () => gw.token(INSTANCE),
    };
    const direct: Target = {
      name: "direct",
      port: mariadb.port,
      user: DIRECT_USER,
      password: async () => directPassword,
    };
    const bare = await startNodeRelay(mariadb.port, certFile, keyFile);
    stops.push(bare.stop);
    const nodeRelay: Target = {
      name: NODE_RELAY,
      port: bare.port,
      user: DIRECT_USER,
      pid: bare.pid,
      password: async () => directPassword,
    };
    const paths = [iamdb, direct];
    const selectPaths = [iamdb, direct, nodeRelay];
    const pointSelect = async (t: Target, s: number) => measure(cwd, t, mariadb, await pointSelects(t, s));
    // mariadb-slap runs a count: aim each run at `s` seconds from the path's last rate.
    const slap = newConnections(join(tlsDir, TLS_FILES.caCert));
    const rate = new Map<string, number>();
    const connect = async (t: Target, s: number) => {
      const n = Math.max(THREADS * 10, THREADS * Math.round(((rate.get(t.name) ?? 100) * s) / THREADS));
      const run = await measure(cwd, t, mariadb, await slap(t, n));
      rate.set(t.name, run.perSec);
      return run;
    };

    // Warm-up (JIT in the gateway, InnoDB's buffer pool, MariaDB's thread cache, the rate
    // estimate for mariadb-slap), and a check that direct connections really are TLS: MariaDB
    // counts completed TLS handshakes.
    for (const t of selectPaths) await pointSelect(t, 1);
    await connect(iamdb, 0.5);
    await connect(direct, 0.5);
    const tls0 = await mariadb.status("Ssl_finished_accepts");
    const conn0 = await mariadb.status("Connections");
    await connect(direct, 1);
    const directTlsShare =
      ((await mariadb.status("Ssl_finished_accepts")) - tls0) /
      ((await mariadb.status("Connections")) - conn0);
    if (directTlsShare < 0.99)
      throw new Error(`only ${(100 * directTlsShare).toFixed(0)}% of direct connections used TLS`);
    await connect(iamdb, 1);

    const samples = (list: Target[]) => new Map(list.map((t) => [t.name, [] as Run[]]));
    const selects = samples(selectPaths);
    const connects = samples(paths);
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? paths : [...paths].reverse();
      log(`MySQL round ${r + 1}/${rounds}: point selects ...`);
      for (const t of r % 2 === 0 ? selectPaths : [...selectPaths].reverse())
        selects.get(t.name)?.push(await pointSelect(t, seconds));
      log(`MySQL round ${r + 1}/${rounds}: new connections ...`);
      for (const t of order) connects.get(t.name)?.push(await connect(t, seconds));
    }

    log("MySQL: profiling the gateway (V8 CPU profiler, 200 µs sampling) ...");
    mkdirSync(options.profileDir, { recursive: true });
    const profile = async (file: string, run: () => Promise<Run>) => {
      const path = join(options.profileDir, file);
      await gw.profileStart();
      await run();
      await gw.profileStop(path);
      return summarizeProfile(JSON.parse(readFileSync(path, "utf8")));
    };
    const profiles = {
      pointSelect: await profile("mysql-point-select.cpuprofile", () => pointSelect(iamdb, seconds)),
      connect: await profile("mysql-connect.cpuprofile", () => connect(iamdb, seconds)),
    };

    const perUnitUs = (runs: Run[], f: (r: Run) => number) =>
      summarize(runs.map((r) => (f(r) * 1e6) / r.units));
    const stats = (m: Map<string, Run[]>): MysqlPathStats[] =>
      [...m].map(([name, runs]) => ({
        name,
        value: summarize(runs.map((r) => r.perSec)),
        ...(name !== direct.name ? { gatewayCpu: perUnitUs(runs, (r) => r.gatewayCpu) } : {}),
        clientCpu: perUnitUs(runs, (r) => r.clientCpu),
        serverCpu: perUnitUs(runs, (r) => r.serverCpu),
        machineBusy: summarize(runs.map((r) => r.machineBusy)),
        othersBusy: summarize(runs.map((r) => r.othersBusy)),
      }));
    return {
      setup: {
        server: `MariaDB ${mariadb.version}`,
        loadGenerators: versions,
        threads: THREADS,
        tableSize: TABLE_SIZE,
        seconds,
        rounds,
        cores: cpus().length,
        directTlsShare,
      },
      pointSelect: stats(selects),
      connect: stats(connects),
      profiles,
    };
  } finally {
    for (const stop of stops.reverse())
      await stop().catch((err: Error) => console.error(`bench: ${err.message}`));
    rmSync(scratch, { recursive: true, force: true });
  }
}
