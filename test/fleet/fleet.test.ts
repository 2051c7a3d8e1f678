// A fleet, with real parts: a PostgreSQL store (a schema of the machine's PostgreSQL), three
// `iamdb up` processes (the built bin) with the same instance and master key, and Debian's
// HAProxy in TCP mode in front of them, health-checking /readyz. Clients sign tokens for the
// load balancer's name and port. Measured figures (propagation, logins during the rolling
// restart) are printed with `# fleet:` for the closing note; nothing here asserts a duration.
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { peerCancelPacket, peerKey } from "../../src/fleet/peer-cancel.js";
import { generateAuthToken } from "../../src/index.js";
import { iamdb } from "../helpers/cli.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "iamdb.js");
const HAPROXY = ["/usr/sbin/haproxy", "/usr/bin/haproxy"].find((p) => spawnSync(p, ["-v"]).status === 0);
const ADMIN_PG = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };
const INSTANCE = "fleet-pg";
const DB_USER = "iamdb_fleet_jane";
const REGION = "us-east-1";
const ACCOUNT = "000000000000";

const suffix = randomBytes(4).toString("hex");
const SCHEMA = `iamdb_fleet_${suffix}`;
const masterKey = randomBytes(32);
let dir: string;

/** A free port below the ephemeral range (32768+), so a restarted gateway gets the same one back. */
async function freeLowPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (taken.has(port)) continue;
    const ok = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(true)));
    });
    if (ok) {
      taken.add(port);
      return port;
    }
  }
}

interface Member {
  n: number;
  dataDir: string;
  config: string;
  api: number;
  ops: number;
  listen: number;
  child?: ChildProcess;
  output: string;
}

const members: Member[] = [];
let lbPort = 0;
let haproxy: ChildProcess | undefined;
let haproxyOutput = "";
let credentials: { accessKeyId: string; secretAccessKey: string };

function env(m?: Member): Record<string, string> {
  return {
    IAMDB_MASTER_KEY: masterKey.toString("base64"),
    ...(m ? { HOME: m.dataDir } : {}),
  };
}

async function waitReady(m: Member, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (m.child?.exitCode !== null && m.child?.exitCode !== undefined) {
      throw new Error(`gateway ${m.n} exited (${m.child.exitCode}):\n${m.output}`);
    }
    try {
      const r = await fetch(`http://127.0.0.1:${m.ops}/readyz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`gateway ${m.n} not ready within ${timeoutMs} ms:\n${m.output}`);
}

function startMember(m: Member): ChildProcess {
  m.output = "";
  const child = spawn(process.execPath, [BIN, "up", "--config", m.config], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", AWS_EC2_METADATA_DISABLED: "true", ...env(m) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout?.on("data", (d) => {
    m.output += d;
  });
  child.stderr?.on("data", (d) => {
    m.output += d;
  });
  m.child = child;
  return child;
}

async function stopMember(m: Member, signal: NodeJS.Signals): Promise<void> {
  const child = m.child;
  if (!child || child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  await exited;
}

function token(port = lbPort): string {
  return generateAuthToken({ hostname: "localhost", port, username: DB_USER, region: REGION, credentials });
}

async function login(port: number, sql = "SELECT 1 AS one"): Promise<pg.QueryResult> {
  const client = new pg.Client({
    host: "127.0.0.1",
    port,
    user: DB_USER,
    database: "test",
    password: token(),
    ssl: {
      ca: readFileSync(join(members[0]?.dataDir ?? "", "tls", "ca.pem"), "utf8"),
      servername: "localhost",
    },
    connectionTimeoutMillis: 10_000,
  });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A test of the fleet fails at once, saying why, when the fleet could not start (no HAProxy). */
function requireFleet(): void {
  assert.ok(HAPROXY, "haproxy is not installed: apt-get install haproxy (.ci/run installs it)");
  assert.equal(members.length, 3, "the fleet did not start: see the first failure");
}

/** Logins through the load balancer in a loop (4 at a time) until stopped; counts outcomes. */
function loginLoop() {
  const stats = { ok: 0, failed: 0, errors: [] as string[] };
  let running = true;
  const workers = Array.from({ length: 4 }, async () => {
    while (running) {
      try {
        await login(lbPort);
        stats.ok++;
      } catch (err) {
        stats.failed++;
        stats.errors.push((err as Error).message);
        // A login that fails at once must not spin the event loop (timers would never run).
        await sleep(5);
      }
    }
  });
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(workers);
      return stats;
    },
  };
}

async function api(m: Member, args: string[]) {
  const r = await iamdb([...args, "--data-dir", m.dataDir], env(m));
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stderr}`);
  return r.stdout === "" ? {} : JSON.parse(r.stdout);
}

/** Jane's inline policy: rds-db:connect as DB_USER on the instance, put through gateway `m`. */
async function allowConnect(m: Member): Promise<void> {
  const d = (await api(m, ["rds", "describe-db-instances", "--db-instance-identifier", INSTANCE])) as {
    DBInstances: Array<{ DbiResourceId: string }>;
  };
  const dbi = d.DBInstances[0]?.DbiResourceId;
  const resource = `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${dbi}/${DB_USER}`;
  const policy = {
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: resource }],
  };
  await api(m, [
    "iam",
    "put-user-policy",
    "--user-name",
    "jane",
    "--policy-name",
    "connect",
    "--policy-document",
    JSON.stringify(policy),
  ]);
}

/** Time until `check` passes, polling every 20 ms, within a functional deadline. */
async function until(check: () => Promise<boolean>, what: string, deadlineMs = 10_000): Promise<number> {
  const start = performance.now();
  while (performance.now() - start < deadlineMs) {
    if (await check()) return performance.now() - start;
    await sleep(20);
  }
  throw new Error(`${what} did not happen within ${deadlineMs} ms`);
}

const loginWorks = (port: number) =>
  login(port).then(
    () => true,
    () => false,
  );

async function dropTestObjects(): Promise<void> {
  const admin = new pg.Client(ADMIN_PG);
  await admin.connect();
  try {
    await admin.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await admin.query(`DROP ROLE IF EXISTS ${DB_USER}`);
  } finally {
    await admin.end();
  }
}

before(async () => {
  if (!HAPROXY) return;
  await dropTestObjects(); // a run killed before its cleanup may have left the role
  dir = mkdtempSync(join(tmpdir(), "iamdb-fleet-"));
  const taken = new Set<number>();
  lbPort = await freeLowPort(taken);
  for (let n = 1; n <= 3; n++) {
    const m: Member = {
      n,
      dataDir: join(dir, `gw${n}`),
      config: join(dir, `gw${n}.json`),
      api: await freeLowPort(taken),
      ops: await freeLowPort(taken),
      listen: await freeLowPort(taken),
      output: "",
    };
    // Configs that differ only in their api, ops and listen ports (and data directory).
    writeFileSync(
      m.config,
      JSON.stringify({
        dataDir: m.dataDir,
        store: {
          type: "postgres",
          host: "127.0.0.1",
          port: 5432,
          user: "postgres",
          database: "test",
          schema: SCHEMA,
        },
        api: { port: m.api },
        ops: { port: m.ops },
        fleet: { heartbeatMs: 500, drainDelayMs: 1_000 },
        gateway: { drainTimeoutMs: 5_000 },
        instances: [
          {
            identifier: INSTANCE,
            engine: "postgres",
            listen: { host: "127.0.0.1", port: m.listen },
            endpoints: ["localhost"],
            port: lbPort,
            backend: { host: "127.0.0.1", port: 5432, database: "test", adminUser: "postgres" },
          },
        ],
      }),
    );
    members.push(m);
  }
  // Two start at once: exactly one DbiResourceId and one CA may win.
  startMember(members[0] as Member);
  startMember(members[1] as Member);
  await Promise.all([waitReady(members[0] as Member), waitReady(members[1] as Member)]);
  startMember(members[2] as Member);
  await waitReady(members[2] as Member);

  const cfg = join(dir, "haproxy.cfg");
  writeFileSync(
    cfg,
    [
      "global",
      "  maxconn 2000",
      "defaults",
      "  mode tcp",
      "  timeout connect 2s",
      "  timeout client 60s",
      "  timeout server 60s",
      "  retries 3",
      "  option redispatch",
      "frontend iamdb",
      `  bind 127.0.0.1:${lbPort}`,
      "  default_backend gateways",
      "backend gateways",
      "  balance roundrobin",
      "  option httpchk GET /readyz",
      "  http-check expect status 200",
      ...members.map(
        (m) => `  server gw${m.n} 127.0.0.1:${m.listen} check port ${m.ops} inter 200 fall 1 rise 2`,
      ),
      "",
    ].join("\n"),
  );
  haproxy = spawn(HAPROXY, ["-db", "-f", cfg], { stdio: ["ignore", "pipe", "pipe"] });
  haproxy.stdout?.on("data", (d) => {
    haproxyOutput += d;
  });
  haproxy.stderr?.on("data", (d) => {
    haproxyOutput += d;
  });

  // An IAM user allowed to connect as DB_USER, and the DB user, made through different gateways.
  const gw1 = members[0] as Member;
  const gw2 = members[1] as Member;
  await api(gw1, ["iam", "create-user", "--user-name", "jane"]);
  const key = (await api(gw1, ["iam", "create-access-key", "--user-name", "jane"])) as {
    AccessKey: { AccessKeyId: string; SecretAccessKey: string };
  };
  credentials = { accessKeyId: key.AccessKey.AccessKeyId, secretAccessKey: key.AccessKey.SecretAccessKey };
  await allowConnect(gw1);
  const created = await iamdb(
    [
      "db-user",
      "create",
      "--data-dir",
      gw2.dataDir,
      "--config",
      gw2.config,
      "--db-instance-identifier",
      INSTANCE,
      "--username",
      DB_USER,
    ],
    env(gw2),
  );
  assert.equal(created.code, 0, created.stderr);
  // HAProxy needs two good checks per server before it sends anything.
  await until(() => loginWorks(lbPort), "a first login through HAProxy", 15_000);
});

after(async () => {
  if (!HAPROXY) return;
  haproxy?.kill("SIGKILL");
  await Promise.all(members.map((m) => stopMember(m, "SIGKILL")));
  await dropTestObjects();
  rmSync(dir, { recursive: true, force: true });
});

describe("a fleet of three gateways behind HAProxy", () => {
  it("has HAProxy to run with", () => {
    assert.ok(HAPROXY, "haproxy is not installed: apt-get install haproxy (.ci/run installs it)");
  });

  it("is one instance: one DbiResourceId through every API, one CA that verifies every listener", async () => {
    requireFleet();
    const ids = new Set<string>();
    for (const m of members) {
      const d = (await api(m, ["rds", "describe-db-instances"])) as {
        DBInstances: Array<{ DbiResourceId: string }>;
      };
      ids.add(d.DBInstances[0]?.DbiResourceId ?? "");
    }
    assert.equal(ids.size, 1, `DbiResourceIds: ${[...ids].join(", ")}`);
    const status = JSON.parse(
      (await iamdb(["status", "--json", "--config", members[1]?.config ?? ""], env())).stdout,
    );
    const ca = readFileSync(status.instances[0].caFile, "utf8");
    for (const m of members) {
      // Each listener, reached directly, verifies against gateway 2's CA file.
      const client = new pg.Client({
        host: "127.0.0.1",
        port: m.listen,
        user: DB_USER,
        database: "test",
        password: token(),
        ssl: { ca, servername: "localhost" },
      });
      await client.connect();
      await client.end();
    }
    assert.equal(status.fleet.length, 3, JSON.stringify(status.fleet));
  });

  it("pgbench through HAProxy with a token signed for the load balancer's name and port", () => {
    requireFleet();
    const script = join(dir, "select.sql");
    writeFileSync(script, "SELECT 1;\n");
    const r = spawnSync(
      "pgbench",
      [
        "-n",
        "-c",
        "4",
        "-j",
        "2",
        "-T",
        "3",
        "-f",
        script,
        `host=127.0.0.1 port=${lbPort} sslmode=require user=${DB_USER} dbname=test`,
      ],
      { env: { ...process.env, PGPASSWORD: token() }, encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    const tx = Number(/number of transactions actually processed: (\d+)/.exec(r.stdout)?.[1] ?? 0);
    assert.ok(tx > 0, r.stdout);
    console.log(`# fleet: pgbench through HAProxy: ${tx} transactions in 3 s`);
  });

  it("changes made through one gateway reach the others (IAM switch, DB user, key, policy)", async () => {
    requireFleet();
    const [gw1, gw2, gw3] = members as [Member, Member, Member];
    // Direct logins to gateway 3 (tokens are signed for the load balancer's port, which every listener answers for).
    assert.ok(await loginWorks(gw3.listen));
    await api(gw1, [
      "rds",
      "modify-db-instance",
      "--db-instance-identifier",
      INSTANCE,
      "--no-enable-iam-database-authentication",
    ]);
    const iamOff = await until(async () => !(await loginWorks(gw3.listen)), "IAM switch off on gateway 3");
    await api(gw2, [
      "rds",
      "modify-db-instance",
      "--db-instance-identifier",
      INSTANCE,
      "--enable-iam-database-authentication",
    ]);
    await until(() => loginWorks(gw3.listen), "IAM switch on again on gateway 3");

    await api(gw1, [
      "iam",
      "update-access-key",
      "--user-name",
      "jane",
      "--access-key-id",
      credentials.accessKeyId,
      "--status",
      "Inactive",
    ]);
    const keyOff = await until(async () => !(await loginWorks(gw2.listen)), "key deactivation on gateway 2");
    await api(gw1, [
      "iam",
      "update-access-key",
      "--user-name",
      "jane",
      "--access-key-id",
      credentials.accessKeyId,
      "--status",
      "Active",
    ]);
    await until(() => loginWorks(gw2.listen), "key active again on gateway 2");

    await api(gw3, ["iam", "delete-user-policy", "--user-name", "jane", "--policy-name", "connect"]);
    const policyOff = await until(async () => !(await loginWorks(gw1.listen)), "policy removal on gateway 1");

    const r = await iamdb(
      [
        "db-user",
        "rotate",
        "--data-dir",
        gw3.dataDir,
        "--db-instance-identifier",
        INSTANCE,
        "--username",
        DB_USER,
      ],
      env(gw3),
    );
    assert.equal(r.code, 0, r.stderr);
    console.log(
      `# fleet: propagation (ms, change call returned → first refusal observed elsewhere): IAM switch ${iamOff.toFixed(0)}, key ${keyOff.toFixed(0)}, policy ${policyOff.toFixed(0)}`,
    );
    // Restore the policy; the rotated password must work on every gateway.
    await allowConnect(gw2);
    for (const m of members)
      await until(() => loginWorks(m.listen), `login on gateway ${m.n} after the rotation`);
  });

  it("a cancel request reaching another gateway (directly or through HAProxy) cancels the query; a forged peer cancel does not", async () => {
    requireFleet();
    const [gw1, gw2, gw3] = members as [Member, Member, Member];
    const client = new pg.Client({
      host: "127.0.0.1",
      port: gw1.listen,
      user: DB_USER,
      database: "test",
      password: token(),
      ssl: { ca: readFileSync(join(gw1.dataDir, "tls", "ca.pem"), "utf8"), servername: "localhost" },
    });
    await client.connect();
    const keys = client as unknown as { processID: number; secretKey: number | Buffer };
    const secret = Buffer.isBuffer(keys.secretKey) ? keys.secretKey : Buffer.alloc(4);
    if (!Buffer.isBuffer(keys.secretKey)) secret.writeInt32BE(keys.secretKey);
    const cancelPacket = Buffer.alloc(16);
    cancelPacket.writeInt32BE(16, 0);
    cancelPacket.writeInt32BE((1234 << 16) | 5678, 4);
    cancelPacket.writeInt32BE(keys.processID, 8);
    secret.copy(cancelPacket, 12);
    const send = (port: number, packet: Buffer) =>
      new Promise<void>((resolve) => {
        const s = netConnect(port, "127.0.0.1", () => s.end(packet));
        s.on("error", () => resolve());
        s.on("close", () => resolve());
      });
    const cancelled = async (via: () => Promise<void>) => {
      const q = client.query("SELECT pg_sleep(20)").then(
        () => "finished",
        (e: { code?: string }) => e.code,
      );
      await sleep(300);
      await via();
      return Promise.race([q, sleep(10_000).then(() => "still running")]);
    };
    try {
      // A forged peer cancel (signed with another key) straight at the owner: refused.
      const forged = peerCancelPacket(peerKey(randomBytes(32)), keys.processID, secret, 2, Date.now());
      const q = client.query("SELECT pg_sleep(2)").then(
        () => "finished",
        (e: { code?: string }) => e.code,
      );
      await sleep(300);
      await send(gw1.listen, forged);
      assert.equal(await q, "finished", "a forged peer cancel must not cancel anything");
      assert.match(
        gw1.output + readFileSync(join(gw1.dataDir, "auth.log"), "utf8"),
        /fleet peer cancel refused/,
      );

      assert.equal(await cancelled(() => send(gw2.listen, cancelPacket)), "57014", "cancel via gateway 2");
      assert.equal(await cancelled(() => send(gw3.listen, cancelPacket)), "57014", "cancel via gateway 3");
      assert.equal(await cancelled(() => send(lbPort, cancelPacket)), "57014", "cancel via HAProxy");
    } finally {
      await client.end().catch(() => undefined);
    }
  });

  it("kill -9 of one gateway under a login loop: clients go on through the others", async () => {
    requireFleet();
    const gw3 = members[2] as Member;
    const loop = loginLoop();
    await sleep(1_000);
    await stopMember(gw3, "SIGKILL");
    const atKill = { ...loop.stats };
    await sleep(2_000);
    const afterKill = { ok: loop.stats.ok, failed: loop.stats.failed };
    await sleep(2_000);
    const end = await loop.stop();
    console.log(
      `# fleet: kill -9 under load: ${end.ok} logins, ${end.failed} failed (${afterKill.failed - atKill.failed} in the 2 s after the kill, ${end.failed - afterKill.failed} later)`,
    );
    // Only connections in flight on the killed gateway may fail; after the health check took it out, none.
    assert.equal(end.failed - afterKill.failed, 0, end.errors.join("\n"));
    assert.ok(end.ok - afterKill.ok > 0);
    startMember(gw3);
    await waitReady(gw3);
  });

  it("a rolling restart (SIGTERM, wait, start) of all three under a login loop: zero failed logins", async () => {
    requireFleet();
    await sleep(1_000); // HAProxy's rise for the restarted gateway 3
    const loop = loginLoop();
    for (const m of members) {
      await stopMember(m, "SIGTERM");
      startMember(m);
      await waitReady(m);
      await sleep(600); // two health checks before HAProxy sends it traffic again
    }
    const end = await loop.stop();
    console.log(`# fleet: rolling restart: ${end.ok} logins, ${end.failed} failed`);
    assert.equal(end.failed, 0, end.errors.slice(0, 5).join("\n"));
    assert.ok(end.ok > 0);
    assert.ok(haproxyOutput.length >= 0);
  });
});
