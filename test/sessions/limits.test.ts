// Login limits (issue 14, part 3): per-principal and per-instance rates and a per-principal
// session cap, refused with the protocol's own "too many connections" (PostgreSQL 53300, MySQL
// 1040) naming the limit, a ThrottlingException in the auth log with the principal, and
// RDS's IamDbAuthConnectionFailureThrottling metric.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import { LoginLimiter } from "../../src/sessions/limits.js";
import { LiveSessions } from "../../src/sessions/live.js";
import { pgClient, refusal } from "../gateway/clients.js";
import { MACHINE_PG, startGatewayFixture, type TestGateway } from "../gateway/fixture.js";
import { type MysqlTestGateway, startMysqlTestGateway } from "../gateway/mysql-fixture.js";

const USER = "iamdb_lim_app";
const THROTTLING = "iam_db_auth_connection_failure_throttling_total";

const pgEngine = {
  identifier: "pg1",
  engine: "postgres" as const,
  backend: MACHINE_PG,
  async provision(spec: typeof MACHINE_PG, dbUser: string, password: string) {
    await postgresAccounts.drop(spec, dbUser);
    await postgresAccounts.create(spec, dbUser, password);
  },
  drop: (spec: typeof MACHINE_PG, dbUser: string) => postgresAccounts.drop(spec, dbUser),
};

function lastThrottled(gw: TestGateway) {
  return gw
    .log()
    .filter((l) => l.cause === "throttled")
    .at(-1) as Record<string, unknown>;
}

describe("PostgreSQL: login limits", () => {
  let gw: TestGateway;
  let creds: { accessKeyId: string; secretAccessKey: string };
  before(async () => {
    // The gateway's limits, with the instance's own cap on sessions replacing none of them.
    gw = await startGatewayFixture(pgEngine, {
      limits: { limits: { newConnectionsPerSecondPerPrincipal: 3 } },
      instanceLimits: { maxSessionsPerPrincipal: 2 },
    });
    await gw.provision(USER);
    creds = await gw.userWithAccess("lim-jane", USER);
  });
  after(() => gw.close());

  it("maxSessionsPerPrincipal: a third session is refused with 53300 naming the limit; after one ends, a login passes", async () => {
    await new Promise((r) => setTimeout(r, 1100)); // a full bucket
    const a = pgClient(gw.port, USER, gw.token(USER, creds), gw.caPem);
    const b = pgClient(gw.port, USER, gw.token(USER, creds), gw.caPem);
    await a.connect();
    await b.connect();
    const refused = await refusal(pgClient(gw.port, USER, gw.token(USER, creds), gw.caPem));
    assert.equal(refused.code, "53300");
    assert.match(
      refused.message,
      /already has 2 sessions on pg1: the limit is 2 \(maxSessionsPerPrincipal\)/,
    );
    const line = lastThrottled(gw);
    assert.equal(line.errorCode, "ThrottlingException");
    assert.equal(line.principalArn, "arn:aws:iam::123456789012:user/lim-jane");
    assert.equal(await gw.metrics.counter(THROTTLING, "pg1"), 1);
    await a.end();
    await new Promise((r) => setTimeout(r, 1100));
    const c = pgClient(gw.port, USER, gw.token(USER, creds), gw.caPem);
    await c.connect();
    await c.end();
    await b.end();
  });

  it("newConnectionsPerSecondPerPrincipal: a burst beyond the rate is refused, another principal is not", async () => {
    await new Promise((r) => setTimeout(r, 1100));
    const results: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = pgClient(gw.port, USER, gw.token(USER, creds), gw.caPem);
      try {
        await c.connect();
        results.push("ok");
        await c.end();
      } catch (err) {
        results.push((err as { code?: string }).code ?? "?");
      }
    }
    // Five logins within well under a second: the bucket of 3 lets 3 through (plus any refill).
    assert.ok(results.filter((r) => r === "53300").length >= 1, results.join(","));
    assert.deepEqual(results.slice(0, 3), ["ok", "ok", "ok"]);
    assert.match(
      String(lastThrottled(gw).detail),
      /the limit is 3 per second per principal \(newConnectionsPerSecondPerPrincipal\)/,
    );
    const bob = await gw.userWithAccess("lim-bob", USER);
    const other = pgClient(gw.port, USER, gw.token(USER, bob), gw.caPem);
    await other.connect();
    await other.end();
  });
});

describe("MySQL: login limits", () => {
  let gw: MysqlTestGateway;
  before(async () => {
    gw = await startMysqlTestGateway({ limits: { limits: { newConnectionsPerSecondPerInstance: 1 } } });
    await gw.provision(USER);
  });
  after(async () => {
    await gw.unprovision(USER);
    await gw.close();
  });

  it("newConnectionsPerSecondPerInstance: the second login within the second gets 1040 naming the limit", async () => {
    const creds = await gw.userWithAccess("lim-my", USER);
    const connect = () =>
      mysql.createConnection({
        host: "127.0.0.1",
        port: gw.port,
        user: USER,
        password: gw.token(USER, creds, "127.0.0.1"),
        database: "test",
        ssl: { ca: gw.caPem },
        enableCleartextPlugin: true,
      });
    const first = await connect();
    await assert.rejects(connect(), (err: { errno?: number; message: string }) => {
      assert.equal(err.errno, 1040);
      assert.match(
        err.message,
        /too many new connections to my1: the limit is 1 per second \(newConnectionsPerSecondPerInstance\)/,
      );
      return true;
    });
    await first.end();
    assert.equal(lastThrottled(gw).errorCode, "ThrottlingException");
  });
});

describe("LoginLimiter in a fleet", () => {
  it("each of N gateways takes 1/N of a per-second rate (at least one login)", async () => {
    const limiter = new LoginLimiter({
      sessions: new LiveSessions(),
      limitsFor: () => ({ newConnectionsPerSecondPerInstance: 10 }),
      fleetSize: () => 5,
    });
    let admitted = 0;
    for (let i = 0; i < 10; i++) if ((await limiter.admit("i", `p${i}`)).ok) admitted++;
    assert.equal(admitted, 2);
    const tiny = new LoginLimiter({
      sessions: new LiveSessions(),
      limitsFor: () => ({ newConnectionsPerSecondPerPrincipal: 1 }),
      fleetSize: () => 3,
    });
    assert.ok((await tiny.admit("i", "p")).ok, "a share below 1/s still admits one");
    assert.equal((await tiny.admit("i", "p")).ok, false);
  });
});
