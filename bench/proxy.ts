// iamdb's PostgreSQL gateway against pgbouncer (session mode) and direct connections, all
// over TLS with the same ECDSA P-256 certificate, paths interleaved round by round:
//   relay       pgbench -S -c 8 -j 2            TPS, proxy CPU µs per transaction
//   connect     pgbench -C -S -c 8 -j 2         connections/s, proxy CPU µs per connection
//   idle        N authenticated idle sessions   proxy RSS per session
//   copy        COPY of 1M rows out             MB/s, proxy CPU s per GB
//   multiplex   pgbench -S -c MANY over 20 backends, transaction pooling (iamdb and pgbouncer)
//               vs direct: TPS, proxy CPU µs per transaction, proxy RSS, most backends seen
// Proxy CPU is utime+stime from /proc/PID/stat of the proxy process; pgbench, psql and
// PostgreSQL share the same 2 cores, so every figure is relative to this machine and run.
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { ensureListenerTls, TLS_FILES } from "../src/tls/index.js";
import { type GatewayProcess, startGatewayProcess } from "./env/gateway.js";
import { type Pgbouncer, startPgbouncer } from "./env/pgbouncer.js";
import { type Postgres, startPostgres } from "./env/postgres.js";
import { cpuSeconds, execFileP, rssBytes, sleep } from "./env/proc.js";
import { type Stat, summarize } from "./harness.js";
import { type ProfileSummary, summarizeProfile } from "./profile.js";

const DB = "bench";
const DB_USER = "bench";
/** pgbench scale 10 = 1,000,000 rows in pgbench_accounts, the COPY source. */
const SCALE = 10;

export interface ProxyBenchOptions {
  rounds: number;
  /** Seconds per pgbench run. */
  seconds: number;
  idleSessions: number;
  /** Where CPU profiles of the gateway are written. */
  profileDir: string;
  /** pgbench clients of the transaction-pooling runs (0 skips them), over MULTIPLEX_BACKENDS backends. */
  multiplexClients: number;
}

/** Backend connections of the transaction-pooling paths (iamdb's pool.maxBackendConnections, pgbouncer's pool size). */
const MULTIPLEX_BACKENDS = 20;

interface Target {
  name: string;
  port: number;
  /** The proxy process whose CPU and memory are charged; none for direct. */
  pid?: number;
  password?: () => Promise<string>;
}

export interface PathStats {
  name: string;
  /** The headline figure (TPS, connections/s, bytes per session, MB/s). */
  value: Stat;
  /** Proxy CPU per unit (µs per transaction or connection, s per GB), when there is a proxy. */
  cpu?: Stat;
}

/** Transaction pooling: many clients over few backends. */
export interface MultiplexStats extends PathStats {
  /** Proxy RSS at the end of the run, bytes. */
  rss?: Stat;
  /** The most backend connections of the bench user seen in pg_stat_activity during the runs. */
  maxBackends: number;
  errors: number;
}

export interface ProxyResults {
  setup: { scale: number; copyBytes: number; idleSessions: number; seconds: number; rounds: number };
  relay: PathStats[];
  connect: PathStats[];
  idle: PathStats[];
  copy: PathStats[];
  /** Transaction pooling, when run: `clients` over `backends` backend connections. */
  multiplex?: { clients: number; backends: number; paths: MultiplexStats[] };
  profiles: { relay: ProfileSummary; connect: ProfileSummary };
}

function pgEnv(t: Target, password: string | undefined): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PGHOST: "127.0.0.1",
    PGPORT: String(t.port),
    PGUSER: DB_USER,
    PGDATABASE: DB,
    PGSSLMODE: "require",
    // libpq tries GSSAPI encryption before TLS by default; no path here offers it.
    PGGSSENCMODE: "disable",
    PGCONNECT_TIMEOUT: "10",
    ...(password === undefined ? {} : { PGPASSWORD: password }),
  };
}

interface PgbenchRun {
  tps: number;
  transactions: number;
  cpuSeconds: number;
}

async function pgbench(
  pgBin: (n: string) => string,
  t: Target,
  args: string[],
  seconds: number,
  clients = 8,
  appName?: string,
): Promise<PgbenchRun & { failed: number }> {
  const password = await t.password?.();
  const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
  const { stdout } = await execFileP(
    pgBin("pgbench"),
    ["-n", "-S", "-c", String(clients), "-j", "2", "-T", String(seconds), ...args],
    {
      env: { ...pgEnv(t, password), ...(appName === undefined ? {} : { PGAPPNAME: appName }) },
      maxBuffer: 1 << 20,
    },
  );
  const cpu1 = t.pid ? cpuSeconds(t.pid) : 0;
  const tps = Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1]);
  const transactions = Number(/actually processed: (\d+)/.exec(stdout)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
  if (!Number.isFinite(tps) || !transactions) throw new Error(`pgbench through ${t.name} failed:\n${stdout}`);
  return { tps, transactions, cpuSeconds: cpu1 - cpu0, failed };
}

/** Bytes a COPY TO STDOUT delivered through `t`, with the wall time and proxy CPU. */
async function copyOut(pgBin: (n: string) => string, t: Target) {
  const password = await t.password?.();
  const cpu0 = t.pid ? cpuSeconds(t.pid) : 0;
  const start = performance.now();
  const bytes = await new Promise<number>((resolve, reject) => {
    const child = spawn(pgBin("psql"), ["-X", "-q", "-c", "COPY pgbench_accounts TO STDOUT"], {
      env: pgEnv(t, password),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let n = 0;
    let err = "";
    child.stdout.on("data", (d: Buffer) => {
      n += d.length;
    });
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
    });
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(n) : reject(new Error(`COPY through ${t.name} failed: ${err}`)),
    );
  });
  const seconds = (performance.now() - start) / 1000;
  return { bytes, seconds, cpuSeconds: t.pid ? cpuSeconds(t.pid) - cpu0 : 0 };
}

/**
 * Opens `n` TLS sessions through a freshly started proxy (each runs one query, so pgbouncer in
 * session mode binds a server connection to it as iamdb does) and returns the proxy's RSS
 * growth per session. A fresh process per round: a Node process keeps freed heap and malloc
 * arenas, so a second round in the same process would measure mostly reused memory.
 */
async function idleSessions(t: Target, n: number, measure: () => Promise<number>): Promise<number> {
  const password = await t.password?.();
  const client = () =>
    new pg.Client({
      host: "127.0.0.1",
      port: t.port,
      user: DB_USER,
      database: DB,
      ...(password === undefined ? {} : { password }),
      ssl: { rejectUnauthorized: false },
    });
  // One session first, so the baseline includes what any first session initializes once.
  const first = client();
  const clients: pg.Client[] = [first];
  try {
    await first.connect();
    await first.query("SELECT 1");
    await sleep(200);
    const before = await measure();
    for (let i = 0; i < n; i += 50) {
      const batch = Array.from({ length: Math.min(50, n - i) }, client);
      clients.push(...batch);
      await Promise.all(batch.map(async (c) => c.connect().then(() => c.query("SELECT 1"))));
    }
    await sleep(300);
    return ((await measure()) - before) / n;
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
}

const backendCount = async (postgres: Postgres) =>
  Number(await postgres.psql(`SELECT count(*) FROM pg_stat_activity WHERE usename = '${DB_USER}'`));

async function waitForBackends(postgres: Postgres, atMost: number): Promise<void> {
  for (let i = 0; i < 200 && (await backendCount(postgres)) > atMost; i++) await sleep(100);
}

const perUnit = (cpu: number, units: number, scale: number) =>
  units > 0 ? (cpu * scale) / units : Number.NaN;

/**
 * The most backend connections serving one path at once while `running` settles, sampled every
 * 250 ms: those whose application_name is the path's own (both poolers set the client's
 * application_name on the backend they lend; direct backends carry it from the login).
 */
async function mostBackends(postgres: Postgres, appName: string, running: Promise<unknown>): Promise<number> {
  const c = new pg.Client({ host: "127.0.0.1", port: postgres.port, user: "postgres", database: DB });
  await c.connect();
  let done = false;
  const finished = running.finally(() => {
    done = true;
  });
  let most = 0;
  try {
    while (!done) {
      const r = await c.query(
        "SELECT count(*)::int n FROM pg_stat_activity WHERE usename = $1 AND application_name = $2",
        [DB_USER, appName],
      );
      most = Math.max(most, Number(r.rows[0].n));
      await Promise.race([sleep(250), finished.catch(() => undefined)]);
    }
  } finally {
    await c.end();
  }
  return most;
}

/**
 * Transaction pooling: `clients` pgbench connections (-S, -j 2) over MULTIPLEX_BACKENDS backend
 * connections, iamdb (-M prepared and -M extended) vs pgbouncer in transaction mode (-M
 * extended: Debian's pgbouncer 1.18 predates max_prepared_statements, so -M prepared would
 * fail there) vs direct (-M prepared, one backend per client), interleaved.
 */
async function benchMultiplex(
  env: {
    gw: GatewayProcess;
    postgres: Postgres;
    bouncerConfig: Parameters<typeof startPgbouncer>[0];
    direct: Target;
    pgBin: (n: string) => string;
    rounds: number;
    seconds: number;
    stops: Array<() => Promise<void>>;
  },
  clients: number,
  log: (s: string) => void,
): Promise<NonNullable<ProxyResults["multiplex"]>> {
  const { gw, postgres, pgBin, seconds } = env;
  const bouncer = await startPgbouncer({
    ...env.bouncerConfig,
    maxClients: Math.max(env.bouncerConfig.maxClients, clients),
    transactionPoolSize: MULTIPLEX_BACKENDS,
  });
  env.stops.push(() => bouncer.stop());
  const iamdbTx: Target = {
    name: "iamdb transaction mode",
    port: gw.ports["pg-tx"] ?? 0,
    pid: gw.pid,
    password: () => gw.token("pg-tx"),
  };
  const bouncerTx: Target = { name: "pgbouncer transaction mode", port: bouncer.port, pid: bouncer.pid };
  const paths = [
    { name: "iamdb transaction mode, -M prepared", t: iamdbTx, mode: "prepared" },
    { name: "iamdb transaction mode, -M extended", t: iamdbTx, mode: "extended" },
    { name: "pgbouncer 1.18 transaction mode, -M extended", t: bouncerTx, mode: "extended" },
    { name: "direct, -M prepared", t: env.direct, mode: "prepared" },
  ];
  const got = new Map(
    paths.map((p) => [
      p.name,
      { v: [] as number[], c: [] as number[], rss: [] as number[], most: 0, errors: 0 },
    ]),
  );
  for (const p of paths) await pgbench(pgBin, p.t, ["-M", p.mode], 1, clients).catch(() => undefined);
  for (let r = 0; r < env.rounds; r++) {
    log(
      `transaction pooling round ${r + 1}/${env.rounds}: ${clients} clients over ${MULTIPLEX_BACKENDS} backends ...`,
    );
    for (let i = 0; i < paths.length; i++) {
      const p = paths[(i + r) % paths.length] as (typeof paths)[number];
      const s = got.get(p.name) as NonNullable<ReturnType<typeof got.get>>;
      const appName = `txbench-${(i + r) % paths.length}`;
      const run = pgbench(pgBin, p.t, ["-M", p.mode], seconds, clients, appName);
      const most = await mostBackends(postgres, appName, run);
      try {
        const result = await run;
        s.v.push(result.tps);
        s.errors += result.failed;
        if (p.t.pid) {
          s.c.push(perUnit(result.cpuSeconds, result.transactions, 1e6));
          s.rss.push(rssBytes(p.t.pid));
        }
      } catch (err) {
        s.errors++;
        log(`${p.name}: ${(err as Error).message.split("\n")[0]}`);
      }
      s.most = Math.max(s.most, most);
      await waitForBackends(postgres, 2 * MULTIPLEX_BACKENDS + 60);
    }
  }
  return {
    clients,
    backends: MULTIPLEX_BACKENDS,
    paths: [...got].map(([name, s]) => ({
      name,
      value: summarize(s.v),
      ...(s.c.length > 0 ? { cpu: summarize(s.c) } : {}),
      ...(s.rss.length > 0 ? { rss: summarize(s.rss) } : {}),
      maxBackends: s.most,
      errors: s.errors,
    })),
  };
}

export async function benchProxies(
  options: ProxyBenchOptions,
  log: (s: string) => void,
): Promise<ProxyResults> {
  const { rounds, seconds, idleSessions: idleN } = options;
  const scratch = mkdtempSync(join(tmpdir(), "iamdb-bench-tls-"));
  const stops: Array<() => Promise<void>> = [];
  try {
    await ensureListenerTls({ dir: join(scratch, "ecdsa"), names: ["localhost", "127.0.0.1"] });
    await ensureListenerTls({
      dir: join(scratch, "rsa"),
      names: ["localhost", "127.0.0.1"],
      algorithm: "RSA-2048",
    });
    const tlsFiles = (d: string) => ({
      certFile: join(scratch, d, TLS_FILES.serverCert),
      keyFile: join(scratch, d, TLS_FILES.serverKey),
    });

    log("starting PostgreSQL, loading pgbench data (scale 10 = 1M rows) ...");
    const postgres = await startPostgres({ ...tlsFiles("ecdsa"), maxConnections: idleN + 300 });
    stops.push(() => postgres.stop());
    await postgres.psql(`CREATE DATABASE ${DB}`);
    await execFileP(
      postgres.bin("pgbench"),
      ["-i", "-q", "-s", String(SCALE), "-h", "127.0.0.1", "-p", String(postgres.port), "-U", "postgres", DB],
      { env: { ...process.env, PGSSLMODE: "disable" } },
    );

    log("starting the iamdb gateway (child process) and pgbouncer ...");
    const gatewayConfig = {
      backend: { port: postgres.port, database: DB },
      dbUser: DB_USER,
      instances: [
        { identifier: "pg1", ...tlsFiles("ecdsa") },
        { identifier: "pg-rsa", ...tlsFiles("rsa") },
        { identifier: "pg-audit", ...tlsFiles("ecdsa"), audit: true },
        {
          identifier: "pg-tx",
          ...tlsFiles("ecdsa"),
          pool: {
            mode: "transaction" as const,
            maxBackendConnections: MULTIPLEX_BACKENDS,
            borrowTimeoutMs: 120_000,
            maxPreparedStatements: 200,
          },
        },
      ],
    };
    const gw: GatewayProcess = await startGatewayProcess(gatewayConfig);
    stops.push(() => gw.stop());
    // The gateway created the DB user; it reads the pgbench tables (GRANT runs in the bench database).
    await execFileP(postgres.bin("psql"), [
      "-h",
      "127.0.0.1",
      "-p",
      String(postgres.port),
      "-U",
      "postgres",
      "-d",
      DB,
      "-Xq",
      "-c",
      `GRANT SELECT ON ALL TABLES IN SCHEMA public TO ${DB_USER}`,
    ]);
    const bouncerConfig = {
      backendPort: postgres.port,
      database: DB,
      users: [DB_USER],
      ...tlsFiles("ecdsa"),
      maxClients: idleN,
    };
    const bouncer: Pgbouncer = await startPgbouncer(bouncerConfig);
    stops.push(() => bouncer.stop());

    const iamdb: Target = {
      name: "iamdb",
      port: gw.ports.pg1 ?? 0,
      pid: gw.pid,
      password: () => gw.token("pg1"),
    };
    const iamdbRsa: Target = {
      name: "iamdb (RSA-2048)",
      port: gw.ports["pg-rsa"] ?? 0,
      pid: gw.pid,
      password: () => gw.token("pg-rsa"),
    };
    /** The statement audit on: a JSON line per statement to a file (relay runs only). */
    const iamdbAudit: Target = {
      name: "iamdb (statement audit)",
      port: gw.ports["pg-audit"] ?? 0,
      pid: gw.pid,
      password: () => gw.token("pg-audit"),
    };
    const bouncerT: Target = { name: "pgbouncer", port: bouncer.port, pid: bouncer.pid };
    const direct: Target = { name: "direct", port: postgres.port };
    const paths = [iamdb, bouncerT, direct];
    const pgBin = postgres.bin;

    // Warm-up: JIT in the gateway, pgbouncer's pool, PostgreSQL's buffers.
    for (const t of [...paths, iamdbRsa]) await pgbench(pgBin, t, ["-C"], 1);
    for (const t of [...paths, iamdbAudit]) await pgbench(pgBin, t, [], 1);

    const relay = new Map(
      [...paths, iamdbAudit].map((t) => [t.name, { v: [] as number[], c: [] as number[] }]),
    );
    const connect = new Map(
      [...paths, iamdbRsa].map((t) => [t.name, { v: [] as number[], c: [] as number[] }]),
    );
    const copy = new Map(paths.map((t) => [t.name, { v: [] as number[], c: [] as number[] }]));
    const idle = new Map([iamdb, bouncerT].map((t) => [t.name, { v: [] as number[], c: [] as number[] }]));
    let copyBytes = 0;

    // Each round starts with a different path, so no path always runs right after the same neighbour.
    const rotated = <T>(list: T[], r: number) => list.map((_, i) => list[(i + r) % list.length] as T);
    for (let r = 0; r < rounds; r++) {
      log(`round ${r + 1}/${rounds}: relay ...`);
      for (const t of rotated([...paths, iamdbAudit], r)) {
        const run = await pgbench(pgBin, t, [], seconds);
        relay.get(t.name)?.v.push(run.tps);
        if (t.pid) relay.get(t.name)?.c.push(perUnit(run.cpuSeconds, run.transactions, 1e6));
      }
      log(`round ${r + 1}/${rounds}: new connections ...`);
      for (const t of rotated([...paths, iamdbRsa], r)) {
        const run = await pgbench(pgBin, t, ["-C"], seconds);
        connect.get(t.name)?.v.push(run.tps);
        if (t.pid) connect.get(t.name)?.c.push(perUnit(run.cpuSeconds, run.transactions, 1e6));
      }
      log(`round ${r + 1}/${rounds}: COPY ...`);
      for (const t of rotated(paths, r)) {
        const run = await copyOut(pgBin, t);
        copyBytes = run.bytes;
        copy.get(t.name)?.v.push(run.bytes / 1e6 / run.seconds);
        if (t.pid) copy.get(t.name)?.c.push(perUnit(run.cpuSeconds, run.bytes, 1e9));
      }
      // Idle sessions take the longest (thousands of backend forks per path): three rounds at most.
      if (r >= 3) continue;
      log(`round ${r + 1}/${rounds}: ${idleN} idle sessions ...`);
      // The main pgbouncer keeps its pooled server connections: wait for the count it leaves.
      const pooled = await backendCount(postgres);
      const idleGw = await startGatewayProcess(gatewayConfig);
      try {
        const target = { ...iamdb, port: idleGw.ports.pg1 ?? 0, password: () => idleGw.token("pg1") };
        idle.get("iamdb")?.v.push(await idleSessions(target, idleN, async () => (await idleGw.memory()).rss));
      } finally {
        await idleGw.stop();
      }
      await waitForBackends(postgres, pooled);
      const idleBouncer = await startPgbouncer(bouncerConfig);
      try {
        const target = { ...bouncerT, port: idleBouncer.port };
        idle
          .get("pgbouncer")
          ?.v.push(await idleSessions(target, idleN, async () => rssBytes(idleBouncer.pid)));
      } finally {
        await idleBouncer.stop();
      }
      await waitForBackends(postgres, pooled);
    }

    const multiplex =
      options.multiplexClients > 0
        ? await benchMultiplex(
            { gw, postgres, bouncerConfig, direct, pgBin, rounds: Math.min(rounds, 3), seconds, stops },
            options.multiplexClients,
            log,
          )
        : undefined;

    log("profiling the gateway (V8 CPU profiler, 200 µs sampling) ...");
    mkdirSync(options.profileDir, { recursive: true });
    const relayProfile = join(options.profileDir, "relay.cpuprofile");
    const connectProfile = join(options.profileDir, "connect.cpuprofile");
    await gw.profileStart();
    await pgbench(pgBin, iamdb, [], seconds);
    await gw.profileStop(relayProfile);
    await gw.profileStart();
    await pgbench(pgBin, iamdb, ["-C"], seconds);
    await gw.profileStop(connectProfile);

    const stats = (m: Map<string, { v: number[]; c: number[] }>): PathStats[] =>
      [...m].map(([name, s]) => ({
        name,
        value: summarize(s.v),
        ...(s.c.length > 0 ? { cpu: summarize(s.c) } : {}),
      }));
    return {
      setup: { scale: SCALE, copyBytes, idleSessions: idleN, seconds, rounds },
      relay: stats(relay),
      connect: stats(connect),
      idle: stats(idle),
      copy: stats(copy),
      ...(multiplex ? { multiplex } : {}),
      profiles: {
        relay: summarizeProfile(JSON.parse(readFileSync(relayProfile, "utf8"))),
        connect: summarizeProfile(JSON.parse(readFileSync(connectProfile, "utf8"))),
      },
    };
  } finally {
    for (const stop of stops.reverse())
      await stop().catch((err: Error) => console.error(`bench: ${err.message}`));
    rmSync(scratch, { recursive: true, force: true });
  }
}
