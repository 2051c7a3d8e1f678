// Revocation of live sessions (issue 14): how long from a change to IAM made through one
// gateway to the end of a session another gateway holds (two gateways on one PostgreSQL
// store, LISTEN/NOTIFY between them), and what one re-evaluation pass costs with 10,000 live
// sessions. `npm run bench -- --only revocation`.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type RunningIamdb, startIamdb } from "../src/app/start.js";
import { parseConfig } from "../src/config/load.js";
import { postgresAccounts } from "../src/engines/postgres/provision.js";
import { Authenticator, RecheckPass } from "../src/gateway/authenticate.js";
import { SecretBox } from "../src/iam/secret-box.js";
import { createIamService } from "../src/iam/service.js";
import { generateAuthToken } from "../src/index.js";
import { DbAccountStore, newDbPassword } from "../src/instances/accounts.js";
import { StoreInstanceRegistry } from "../src/instances/registry.js";
import type { DbInstance } from "../src/instances/types.js";
import { LiveSessions } from "../src/sessions/live.js";
import { SessionRevoker } from "../src/sessions/revocation.js";
import { openSqliteStore } from "../src/store/sqlite/open.js";

const PG = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };

export interface RevocationResults {
  /** Milliseconds from the IAM call's start to the client's error, for a session on the other gateway. */
  readonly fleetMs: { median: number; p90: number; worst: number; tries: number };
  /** One re-evaluation pass over this many sessions (of `principals` principals), ms. */
  readonly pass: { sessions: number; principals: number; medianMs: number; worstMs: number; passes: number };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
}

async function fleetLatency(tries: number): Promise<RevocationResults["fleetMs"]> {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-bench-rev-"));
  const schema = `iamdb_bench_rev_${randomBytes(4).toString("hex")}`;
  const user = "iamdb_bench_rev";
  const masterKey = process.env.IAMDB_MASTER_KEY;
  process.env.IAMDB_MASTER_KEY = randomBytes(32).toString("base64");
  const start = (name: string) =>
    startIamdb(
      parseConfig({
        dataDir: join(dir, name),
        authLog: join(dir, `${name}.log`),
        api: { port: 0 },
        ops: { port: 0 },
        store: { type: "postgres", ...PG, schema },
        instances: [
          {
            identifier: "pg1",
            listen: { port: 0 },
            port: 0,
            backend: { host: "127.0.0.1", port: 5432, database: "test", adminUser: "postgres" },
          },
        ],
      }),
    );
  const gateways: RunningIamdb[] = [];
  try {
    const a = await start("a");
    gateways.push(a);
    const b = await start("b");
    gateways.push(b);
    const spec = a.backends.get("pg1");
    if (!spec) throw new Error("no backend");
    const password = newDbPassword();
    await postgresAccounts.drop(spec, user);
    await postgresAccounts.create(spec, user, password);
    await a.accounts.put("pg1", user, password);
    await a.iam.createUser({ userName: "rev" });
    const key = await a.iam.createAccessKey({ userName: "rev" });
    await a.iam.putUserPolicy({
      userName: "rev",
      policyName: "connect",
      policyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: "*" }],
      }),
    });
    const port = b.gateway.listeners.get("pg1")?.port ?? 0;
    const ca = b.status.instances[0]?.caFile as string;
    const { readFileSync } = await import("node:fs");
    const caPem = readFileSync(ca, "utf8");
    const times: number[] = [];
    for (let i = 0; i < tries; i++) {
      const client = new pg.Client({
        host: "localhost",
        port,
        user,
        database: "test",
        ssl: { ca: caPem },
        password: generateAuthToken({
          hostname: "localhost",
          port,
          username: user,
          region: "us-east-1",
          credentials: key,
        }) as string,
      });
      await client.connect();
      await client.query("select 1");
      const ended = new Promise<number>((resolve) => client.on("error", () => resolve(performance.now())));
      const t0 = performance.now();
      await a.iam.updateAccessKey({ userName: "rev", accessKeyId: key.accessKeyId, status: "Inactive" });
      times.push((await ended) - t0);
      await client.end().catch(() => undefined);
      await a.iam.updateAccessKey({ userName: "rev", accessKeyId: key.accessKeyId, status: "Active" });
    }
    await postgresAccounts.drop(spec, user);
    return { median: quantile(times, 0.5), p90: quantile(times, 0.9), worst: Math.max(...times), tries };
  } finally {
    for (const g of gateways) await g.stop().catch(() => undefined);
    const c = new pg.Client(PG);
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await c.end();
    if (masterKey === undefined) delete process.env.IAMDB_MASTER_KEY;
    else process.env.IAMDB_MASTER_KEY = masterKey;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Re-evaluation passes over `sessions` synthetic sessions of `principals` users, through the real IAM store and Authenticator. */
async function passCost(
  sessions: number,
  principals: number,
  passes: number,
): Promise<RevocationResults["pass"]> {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-bench-pass-"));
  const store = openSqliteStore({ dataDir: dir });
  const masterKey = randomBytes(32);
  const iam = createIamService({ repository: store, masterKey, accountId: "123456789012" });
  try {
    const instance: DbInstance = {
      identifier: "pg1",
      engine: "postgres",
      region: "us-east-1",
      dbiResourceId: "",
      listen: { host: "127.0.0.1", port: 0 },
      endpoints: ["localhost"],
      port: 5432,
      iamAuthEnabled: true,
      tags: [],
      backend: { host: "127.0.0.1", port: 5432, database: "test", tls: "disable", adminUser: "postgres" },
      createdAt: new Date(),
    };
    const registry = await StoreInstanceRegistry.open({
      repo: store,
      changes: store.changes,
      configured: [instance],
      accountId: "123456789012",
    });
    const accounts = new DbAccountStore(store, store.changes, new SecretBox(masterKey));
    await accounts.put("pg1", "app", newDbPassword());
    const authenticator = new Authenticator({ iam, accounts, instances: registry, clockSkewSeconds: 60 });
    const keys: string[] = [];
    for (let i = 0; i < principals; i++) {
      await iam.createUser({ userName: `u${i}` });
      keys.push((await iam.createAccessKey({ userName: `u${i}` })).accessKeyId);
      await iam.putUserPolicy({
        userName: `u${i}`,
        policyName: "connect",
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Allow",
              Action: "rds-db:connect",
              Resource: "*",
              Condition: { IpAddress: { "aws:SourceIp": "10.0.0.0/8" } },
            },
          ],
        }),
      });
    }
    const live = new LiveSessions();
    const current = registry.get("pg1") as DbInstance;
    const durations: number[] = [];
    let checked = 0;
    const revoker = new SessionRevoker({
      sessions: live,
      changes: store.changes,
      begin: () => {
        const pass = new RecheckPass();
        return (s) =>
          authenticator.recheck(
            {
              instance: current,
              dbUser: s.record.dbUser,
              accessKeyId: s.record.accessKeyId,
              sourceIp: s.sourceIp,
              secureTransport: s.secureTransport,
            },
            pass,
          );
      },
      mode: "terminate",
      followCredentialExpiry: false,
      onPass: (n, _ended, ms) => {
        checked = n;
        durations.push(ms);
      },
    });
    for (let i = 0; i < sessions; i++) {
      const k = keys[i % principals] as string;
      live.add({
        record: {
          sessionId: `s${i}`,
          memberId: "",
          instance: "pg1",
          engine: "postgres",
          dbUser: "app",
          database: "test",
          principalArn: `arn:aws:iam::123456789012:user/u${i % principals}`,
          accessKeyId: k,
          temporary: false,
          client: "10.0.0.1:1",
          started: new Date(),
          backendReused: false,
        },
        // Each session its own client address: the decision is not shared between sessions.
        sourceIp: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        secureTransport: true,
        terminate: () => {
          throw new Error("a session was ended: the bench's policies allow them all");
        },
      });
    }
    for (let p = 0; p < passes; p++) {
      // An unrelated change: the caches are dropped ("all") and every session is checked.
      await iam.createUser({ userName: `unrelated${p}` });
      await revoker.run();
    }
    revoker.close();
    registry.close();
    return {
      sessions: checked,
      principals,
      medianMs: quantile(durations, 0.5),
      worstMs: Math.max(...durations),
      passes: durations.length,
    };
  } finally {
    await iam.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchRevocation(quick: boolean): Promise<RevocationResults> {
  const fleetMs = await fleetLatency(quick ? 10 : 50);
  const pass = await passCost(10_000, 1_000, quick ? 3 : 10);
  return { fleetMs, pass };
}

export function revocationSection(r: RevocationResults): string {
  const f = r.fleetMs;
  const p = r.pass;
  return [
    "## Revocation of live sessions",
    "",
    `A key deactivated through gateway A ends a session held by gateway B (two gateways on one PostgreSQL store), from the start of the IAM call to the client's error, over ${f.tries} tries: median ${f.median.toFixed(1)} ms, p90 ${f.p90.toFixed(1)} ms, worst ${f.worst.toFixed(1)} ms (target: 1 s).`,
    "",
    `One re-evaluation pass after a change that drops the IAM caches, over ${p.sessions} live sessions of ${p.principals} principals (each session its own client address, so no decision is shared): median ${p.medianMs.toFixed(0)} ms, worst ${p.worstMs.toFixed(0)} ms over ${p.passes} passes (${((p.medianMs * 1000) / p.sessions).toFixed(1)} µs per session). Passes run in slices of 500 sessions, yielding to the relays between slices.`,
    "",
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = await benchRevocation(process.argv.includes("--quick"));
  console.log(revocationSection(r));
}
