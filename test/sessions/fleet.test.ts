// Live sessions across a fleet (issue 14, parts 1 and 2): two gateways on one PostgreSQL store
// list each other's sessions (`iamdb sessions list`), one ends a session the other holds
// (`iamdb sessions terminate`), and a change to IAM made through one ends sessions on both.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { type RunningIamdb, startIamdb } from "../../src/app/start.js";
import { parseConfig } from "../../src/config/load.js";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import { generateAuthToken } from "../../src/index.js";
import { newDbPassword } from "../../src/instances/accounts.js";
import { openPostgresStore } from "../../src/store/postgres/open.js";
import { iamdb } from "../helpers/cli.js";
import { type LiveCli, livePsql, until } from "./live-clients.js";

const PG = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };
const SCHEMA = `iamdb_lsf_${randomBytes(4).toString("hex")}`;
const USER = "iamdb_lsf_app";
const dir = mkdtempSync(join(tmpdir(), "iamdb-lsf-"));
// Every gateway of a fleet has the same master key.
process.env.IAMDB_MASTER_KEY = randomBytes(32).toString("base64");

const gateways: RunningIamdb[] = [];
const clis: LiveCli[] = [];

function start(name: string): Promise<RunningIamdb> {
  return startIamdb(
    parseConfig({
      dataDir: join(dir, name),
      authLog: join(dir, `${name}-auth.log`),
      api: { port: 0 },
      ops: { port: 0 },
      store: { type: "postgres", ...PG, schema: SCHEMA },
      fleet: { heartbeatMs: 500 },
      instances: [
        {
          identifier: "pg1",
          listen: { port: 0 },
          port: 0,
          // Counted across the fleet: this gateway's sessions plus the others' from the store.
          limits: { maxSessionsPerPrincipal: 2 },
          backend: { host: "127.0.0.1", port: 5432, database: "test", adminUser: "postgres" },
        },
      ],
    }),
  );
}

function portOf(g: RunningIamdb): number {
  return g.gateway.listeners.get("pg1")?.port ?? 0;
}

function open(g: RunningIamdb, creds: { accessKeyId: string; secretAccessKey: string }): LiveCli {
  const port = portOf(g);
  const token = generateAuthToken({
    hostname: "localhost",
    port,
    username: USER,
    region: "us-east-1",
    credentials: creds,
  });
  const cli = livePsql(port, g.status.instances[0]?.caFile as string, USER, token as string);
  clis.push(cli);
  return cli;
}

const sessionsCli = (g: RunningIamdb, args: string[]) =>
  iamdb(["sessions", ...args, "--data-dir", g.status.dataDir, "--json"]);

let a: RunningIamdb;
let b: RunningIamdb;
let creds: { accessKeyId: string; secretAccessKey: string };

before(async () => {
  a = await start("a");
  gateways.push(a);
  b = await start("b");
  gateways.push(b);
  const password = newDbPassword();
  await postgresAccounts.drop(a.backends.get("pg1") as never, USER);
  await postgresAccounts.create(a.backends.get("pg1") as never, USER, password);
  await a.accounts.put("pg1", USER, password);
  await a.iam.createUser({ userName: "lsf-jane" });
  const key = await a.iam.createAccessKey({ userName: "lsf-jane" });
  creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
  await a.iam.putUserPolicy({
    userName: "lsf-jane",
    policyName: "connect",
    policyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: "*" }],
    }),
  });
});

after(async () => {
  for (const c of clis) c.close();
  for (const g of gateways) await g.stop().catch(() => undefined);
  const c = new pg.Client(PG);
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    await c.query(`DROP ROLE IF EXISTS ${USER}`);
  } finally {
    await c.end();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe("live sessions in a fleet", () => {
  it("iamdb sessions list on either gateway shows both gateways' sessions, with who is behind each", async () => {
    const onA = open(a, creds);
    const onB = open(b, creds);
    assert.equal(await onA.query("select 1;"), "1");
    assert.equal(await onB.query("select 1;"), "1");
    for (const g of [a, b]) {
      const r = await sessionsCli(g, ["list", "--principal-arn", "arn:aws:iam::000000000000:user/lsf-jane"]);
      assert.equal(r.code, 0, r.stderr);
      const rows = JSON.parse(r.stdout).DBSessions as Array<Record<string, unknown>>;
      assert.equal(rows.length, 2, r.stdout);
      assert.deepEqual(
        new Set(rows.map((s) => s.GatewayMemberId)),
        new Set([a.fleet.memberId, b.fleet.memberId]),
      );
      for (const s of rows) {
        assert.equal(s.DBInstanceIdentifier, "pg1");
        assert.equal(s.DBUser, USER);
        assert.equal(s.DatabaseName, "test");
        assert.equal(s.AccessKeyId, creds.accessKeyId);
        assert.equal(s.TemporaryCredentials, false);
        assert.match(String(s.ClientAddress), /^(::ffff:)?127\.0\.0\.1:\d+$/);
      }
    }
  });

  it("maxSessionsPerPrincipal counts the other gateway's sessions: a third login on A is refused with 53300", async () => {
    const port = portOf(a);
    const client = new pg.Client({
      host: "localhost",
      port,
      user: USER,
      database: "test",
      ssl: { ca: readFileSync(a.status.instances[0]?.caFile as string, "utf8") },
      password: generateAuthToken({
        hostname: "localhost",
        port,
        username: USER,
        region: "us-east-1",
        credentials: creds,
      }) as string,
    });
    await assert.rejects(client.connect(), (e: { code?: string; message: string }) => {
      assert.equal(e.code, "53300");
      assert.match(e.message, /already has 2 sessions on pg1: the limit is 2 \(maxSessionsPerPrincipal\)/);
      return true;
    });
  });

  it("iamdb sessions terminate through gateway A ends a session gateway B holds, and only that one", async () => {
    const r = await sessionsCli(a, ["list"]);
    const rows = JSON.parse(r.stdout).DBSessions as Array<Record<string, unknown>>;
    const onB = rows.find((s) => s.GatewayMemberId === b.fleet.memberId) as Record<string, unknown>;
    const ended = await sessionsCli(a, ["terminate", "--session-id", String(onB.SessionId)]);
    assert.equal(ended.code, 0, ended.stderr);
    assert.equal(JSON.parse(ended.stdout).TerminatedSessions.length, 1);
    const cliOnB = clis[1] as LiveCli;
    await until(() => b.gateway.live.size === 0, 5_000, "B's session to end");
    cliOnB.send("select 2;");
    const { stderr } = await cliOnB.exited;
    assert.match(
      stderr,
      /57P01: terminating connection due to administrator command: terminated by arn:aws:iam::000000000000:user\/iamdb-admin/,
    );
    assert.equal(a.gateway.live.size, 1, "A's session stays");
    assert.equal(await (clis[0] as LiveCli).query("select 3;"), "3");
  });

  it("a key deactivated through gateway A ends its sessions on both gateways", async () => {
    const onB = open(b, creds);
    assert.equal(await onB.query("select 1;"), "1");
    await a.iam.updateAccessKey({ userName: "lsf-jane", accessKeyId: creds.accessKeyId, status: "Inactive" });
    await until(
      () => a.gateway.live.size === 0 && b.gateway.live.size === 0,
      5_000,
      "both gateways' sessions to end",
    );
    for (const cli of [clis[0] as LiveCli, onB]) {
      cli.send("select 2;");
      const { stderr } = await cli.exited;
      assert.match(stderr, /IAM authorization was revoked: the access key \w+ was deactivated/);
    }
    const r = await sessionsCli(b, ["list"]);
    assert.deepEqual(JSON.parse(r.stdout).DBSessions, []);
  });

  it("a gateway that stops takes its sessions out of the list; a dead member's rows are pruned", async () => {
    await a.iam.updateAccessKey({ userName: "lsf-jane", accessKeyId: creds.accessKeyId, status: "Active" });
    const onB = open(b, creds);
    assert.equal(await onB.query("select 1;"), "1");
    await b.gateway.live.flush();
    const store = await openPostgresStore({ ...PG, schema: SCHEMA });
    try {
      const alive = new Date(Date.now() - 1500);
      assert.equal((await store.listLiveSessions({}, alive, 10)).length, 1);
      // A member silent for three beats is gone, and so are its sessions, before any prune.
      assert.equal((await store.listLiveSessions({}, new Date(Date.now() + 60_000), 10)).length, 0);
      await b.stop();
      assert.equal((await store.listLiveSessions({}, alive, 10)).length, 0);
    } finally {
      await store.close();
    }
  });
});
