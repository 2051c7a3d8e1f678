// The iamdb gateway (PostgreSQL, or MySQL/MariaDB when `engine` says so) as a child process of
// the bench, so its CPU time and RSS can be read from /proc/PID without the load generator's.
// Assembled as src/app/start.ts does (IAM store in SQLite, auth log appended to a file), from a
// JSON config given as argv[2].
//
// Protocol on stdio, one JSON object per line: it prints {"ready":true,...} once listening,
// then answers commands read from stdin:
//   {"cmd":"token","instance":"pg1"}  -> {"token":"..."}   (signed here: the key never leaves)
//   {"cmd":"mem"}                     -> {"rss":..,"heapUsed":..,"sessions":..} after a full GC
//   {"cmd":"profile-start"} / {"cmd":"profile-stop","file":"x.cpuprofile"}  (V8 CPU profiler)
//   {"cmd":"soak-sample"}             -> event-loop delay since the last sample (ms), sessions, then RSS and heap after a full GC
// and stops the gateway when stdin closes, so it never outlives the bench.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { DEFAULTS } from "../src/config/load.js";
import type { TransactionPoolConfig } from "../src/config/types.js";
import { mysqlAccounts } from "../src/engines/mysql/provision.js";
import { postgresAccounts } from "../src/engines/postgres/provision.js";
import { gatewayEngines } from "../src/engines/registry.js";
import { AuthLog, authLogSink } from "../src/gateway/auth-log.js";
import { Authenticator } from "../src/gateway/authenticate.js";
import { startGateway } from "../src/gateway/gateway.js";
import { GatewayMetrics } from "../src/gateway/metrics.js";
import { SecretBox } from "../src/iam/secret-box.js";
import { createIamService } from "../src/iam/service.js";
import { DbAccountStore, newDbPassword } from "../src/instances/accounts.js";
import { StoreInstanceRegistry } from "../src/instances/registry.js";
import { newDbiResourceId } from "../src/instances/state.js";
import type { BackendSpec, DbInstance } from "../src/instances/types.js";
import { openSqliteStore } from "../src/store/sqlite/open.js";
import { generateAuthToken } from "../src/token/index.js";

export interface GatewayServerConfig {
  /** Scratch directory for the IAM store, account store and auth log (the parent deletes it). */
  dir: string;
  /** The engine of every instance; PostgreSQL when absent. */
  engine?: "postgres" | "mariadb";
  /** `adminUser` provisions the DB user (trust / empty password); `postgres` when absent. */
  backend: { port: number; database: string; adminUser?: string };
  /** DB user created on the backend and allowed by the bench user's policy. */
  dbUser: string;
  /** `audit`: the statement audit on (default settings, the file in `dir`); `pool`: transaction pooling. */
  instances: Array<{
    identifier: string;
    certFile: string;
    keyFile: string;
    audit?: boolean;
    pool?: TransactionPoolConfig;
  }>;
  /** False when the backend is the soak's stand-in, which has no roles to provision. */
  provision?: boolean;
}

const ACCOUNT = "123456789012";
const REGION = "us-east-1";
const config = JSON.parse(process.argv[2] ?? "{}") as GatewayServerConfig;
const send = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const masterKey = randomBytes(32);
const store = openSqliteStore({ dataDir: config.dir });
const iam = createIamService({
  repository: store,
  masterKey,
  accountId: ACCOUNT,
});
const backend: BackendSpec = {
  host: "127.0.0.1",
  port: config.backend.port,
  database: config.backend.database,
  tls: "disable",
  adminUser: config.backend.adminUser ?? "postgres",
};
const engine = config.engine ?? "postgres";
const instances: DbInstance[] = config.instances.map((i) => ({
  identifier: i.identifier,
  engine,
  region: REGION,
  dbiResourceId: newDbiResourceId(),
  listen: { host: "127.0.0.1", port: 0 },
  endpoints: ["localhost", "127.0.0.1"],
  port: 0,
  iamAuthEnabled: true,
  tags: [],
  backend,
  createdAt: new Date(),
}));
const registry = await StoreInstanceRegistry.open({
  repo: store,
  changes: store.changes,
  configured: instances,
  accountId: ACCOUNT,
});
const accounts = new DbAccountStore(store, store.changes, new SecretBox(masterKey));
const limits = { ...DEFAULTS.gateway, maxPendingLogins: 10_000, maxPendingLoginsPerSource: 10_000 };
const gateway = await startGateway({
  registry,
  engines: gatewayEngines(limits),
  tls: new Map(
    config.instances.map((i) => [
      i.identifier,
      { key: readFileSync(i.keyFile, "utf8"), cert: readFileSync(i.certFile, "utf8") },
    ]),
  ),
  plaintextAllowed: new Set(),
  limits,
  authenticator: new Authenticator({
    iam,
    accounts,
    instances: registry,
    clockSkewSeconds: limits.clockSkewSeconds,
  }),
  authLog: new AuthLog(authLogSink(join(config.dir, "auth.log"))),
  metrics: new GatewayMetrics(
    config.instances.map((i) => ({ identifier: i.identifier, engine: "postgres" })),
  ),
  transactionPools: new Map(
    config.instances.flatMap((i) => (i.pool ? [[i.identifier, i.pool] as const] : [])),
  ),
  audit: new Map(
    config.instances
      .filter((i) => i.audit)
      .map((i) => [
        i.identifier,
        { ...DEFAULTS.audit, file: join(config.dir, "audit", `${i.identifier}.jsonl`) },
      ]),
  ),
});
const ports: Record<string, number> = {};
for (const i of config.instances) {
  const port = gateway.listeners.get(i.identifier)?.port ?? 0;
  registry.setListen(i.identifier, { host: "127.0.0.1", port }, port);
  ports[i.identifier] = port;
}

// One IAM user whose inline policy allows rds-db:connect as the bench DB user on every instance.
await iam.createUser({ userName: "bench" });
const key = await iam.createAccessKey({ userName: "bench" });
await iam.putUserPolicy({
  userName: "bench",
  policyName: "connect",
  policyDocument: JSON.stringify({
    Version: "2012-10-17",
    Statement: [
      {
        Effect: "Allow",
        Action: "rds-db:connect",
        Resource: `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:*/${config.dbUser}`,
      },
    ],
  }),
});
const password = newDbPassword();
// A second gateway (the idle-session rounds start fresh ones) takes over the existing role.
const provision = engine === "postgres" ? postgresAccounts : mysqlAccounts;
if (config.provision !== false) {
  await provision
    .create(backend, config.dbUser, password)
    .catch(() => provision.enable(backend, config.dbUser, password));
}
for (const i of config.instances) await accounts.put(i.identifier, config.dbUser, password);

const profiler = new Session();
profiler.connect();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();

async function handle(msg: { cmd: string; instance?: string; file?: string }): Promise<object> {
  switch (msg.cmd) {
    case "token":
      return {
        token: generateAuthToken({
          hostname: "127.0.0.1",
          port: ports[msg.instance ?? ""] ?? 0,
          username: config.dbUser,
          region: REGION,
          credentials: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
        }),
      };
    case "mem": {
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      return { rss: m.rss, heapUsed: m.heapUsed, external: m.external, sessions: gateway.sessions.size };
    }
    case "profile-start":
      await profiler.post("Profiler.enable");
      await profiler.post("Profiler.setSamplingInterval", { interval: 200 });
      await profiler.post("Profiler.start");
      return {};
    case "profile-stop": {
      const { profile } = await profiler.post("Profiler.stop");
      writeFileSync(msg.file ?? "gateway.cpuprofile", JSON.stringify(profile));
      return {};
    }
    case "soak-sample": {
      const ms = (ns: number) => ns / 1e6;
      const sample = {
        loopDelayMs: {
          p50: ms(loopDelay.percentile(50)),
          p99: ms(loopDelay.percentile(99)),
          max: ms(loopDelay.max),
          mean: ms(loopDelay.mean),
        },
        sessions: gateway.sessions.size,
      };
      // Memory after a full GC (a leak shows there, not in the GC's sawtooth); the GC pause is
      // left out of the next delay window by the reset.
      (globalThis as { gc?: () => void }).gc?.();
      const m = process.memoryUsage();
      loopDelay.reset();
      return { ...sample, rssAfterGc: m.rss, heapUsed: m.heapUsed };
    }
    default:
      return { error: `unknown command ${msg.cmd}` };
  }
}

createInterface({ input: process.stdin })
  .on("line", (line) => {
    handle(JSON.parse(line) as { cmd: string })
      .then(send)
      .catch((err: Error) => send({ error: err.message }));
  })
  .on("close", () => {
    profiler.disconnect();
    void gateway
      .stop(0)
      .then(() => iam.close())
      .finally(() => process.exit(0));
  });
send({ ready: true, pid: process.pid, ports });
