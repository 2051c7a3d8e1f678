// The backend login really happens: a throwaway cluster that checks scram-sha-256 passwords,
// provisioned by `db-user` code, logged in to by the gateway with the password only it holds.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import { generateAuthToken } from "../../src/index.js";
import { newDbPassword } from "../../src/instances/accounts.js";
import { type PgCluster, startPgCluster } from "../helpers/pg-cluster.js";
import { pgClient, refusal } from "./clients.js";
import { REGION, startTestGateway, type TestGateway } from "./fixture.js";

let cluster: PgCluster;
let gw: TestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };

const token = () =>
  generateAuthToken({
    hostname: "localhost",
    port: gw.port,
    username: "app",
    region: REGION,
    credentials: creds,
  });

before(async () => {
  cluster = await startPgCluster();
  gw = await startTestGateway({
    backend: {
      host: "127.0.0.1",
      port: cluster.port,
      database: "postgres",
      tls: "disable",
      adminUser: "postgres",
      adminPassword: cluster.superuserPassword,
    },
    // Every client here must reach the backend's password check: no pooled backend logins.
    limits: { backendPoolMaxIdle: 0 },
  });
  creds = await gw.userWithAccess("app-service", "app");
  await gw.provision("app");
});

after(async () => {
  await gw?.close();
  await cluster?.stop();
});

describe("a backend that checks passwords (scram-sha-256)", () => {
  it("the provisioned role is a member of rds_iam and logs in through the gateway", async () => {
    assert.deepEqual(await postgresAccounts.members(gw.instance().backend), ["app"]);
    const c = pgClient(gw.port, "app", token(), gw.caPem, { database: "postgres" });
    await c.connect();
    try {
      const r = await c.query("select current_user, pg_has_role('app', 'rds_iam', 'member') iam");
      assert.deepEqual(r.rows[0], { current_user: "app", iam: true });
    } finally {
      await c.end();
    }
  });

  it("a password changed behind the gateway's back: PAM failure, and the log says how to fix it; rotate fixes it", async () => {
    await cluster.sql(["ALTER ROLE app PASSWORD 'changed-by-hand'"]);
    const r = await refusal(pgClient(gw.port, "app", token(), gw.caPem, { database: "postgres" }));
    assert.equal(r.code, "28000");
    assert.match(r.message, /PAM authentication failed for user "app"/);
    const entry = gw.log().at(-1) as Record<string, unknown>;
    assert.equal(entry.cause, "backend-login-failed");
    assert.match(
      String(entry.detail),
      /28P01.*iamdb db-user rotate --db-instance-identifier pg1 --username app/,
    );

    const password = newDbPassword();
    await postgresAccounts.rotate(gw.instance().backend, "app", password);
    await gw.accounts.put("pg1", "app", password);
    const c = pgClient(gw.port, "app", token(), gw.caPem, { database: "postgres" });
    await c.connect();
    await c.end();
  });

  it("enable takes over an existing role; create refuses one that exists", async () => {
    await cluster.sql(["CREATE ROLE legacy LOGIN PASSWORD 'old-static-password'"]);
    await assert.rejects(
      postgresAccounts.create(gw.instance().backend, "legacy", newDbPassword()),
      /already exists.*db-user enable/,
    );
    const password = newDbPassword();
    await postgresAccounts.enable(gw.instance().backend, "legacy", password);
    await gw.accounts.put("pg1", "legacy", password);
    const legacyCreds = await gw.userWithAccess("legacy-app", "legacy");
    const t = generateAuthToken({
      hostname: "localhost",
      port: gw.port,
      username: "legacy",
      region: REGION,
      credentials: legacyCreds,
    });
    const c = pgClient(gw.port, "legacy", t, gw.caPem, { database: "postgres" });
    await c.connect();
    await c.end();
    // The old static password no longer works directly against the backend.
    const direct = await refusal(
      new (await import("pg")).default.Client({
        host: "127.0.0.1",
        port: cluster.port,
        user: "legacy",
        password: "old-static-password",
        database: "postgres",
      }),
    );
    assert.equal(direct.code, "28P01");
  });

  it("provisioning sends a SCRAM verifier, so the gateway-held password never reaches the backend's log", async () => {
    await cluster.sql(["ALTER SYSTEM SET log_statement = 'ddl'", "SELECT pg_reload_conf()"]);
    try {
      const password = newDbPassword();
      await postgresAccounts.create(gw.instance().backend, "logged_ddl", password);
      await gw.accounts.put("pg1", "logged_ddl", password);
      await postgresAccounts.rotate(gw.instance().backend, "logged_ddl", password);
      const log = readFileSync(join(cluster.dir, "server.log"), "utf8");
      assert.match(
        log,
        /CREATE ROLE "logged_ddl" LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/,
        "the DDL was logged",
      );
      assert.ok(!log.includes(password), "the password is in the backend's log");
      // And the verifier logs in: through the gateway, over SCRAM.
      const user = await gw.userWithAccess("ddl-app", "logged_ddl");
      const t = generateAuthToken({
        hostname: "localhost",
        port: gw.port,
        username: "logged_ddl",
        region: REGION,
        credentials: user,
      });
      const c = pgClient(gw.port, "logged_ddl", t, gw.caPem, { database: "postgres" });
      await c.connect();
      await c.end();
    } finally {
      await cluster.sql(["ALTER SYSTEM RESET log_statement", "SELECT pg_reload_conf()"]);
    }
  });

  it("a backend whose pg_hba.conf rejects the gateway: PAM failure, and the log points at pg_hba.conf, not at rotate", async () => {
    const hba = join(cluster.dir, "data", "pg_hba.conf");
    const original = readFileSync(hba, "utf8");
    writeFileSync(hba, `host all app 127.0.0.1/32 reject\n${original}`);
    await cluster.sql(["SELECT pg_reload_conf()"]);
    try {
      const r = await refusal(pgClient(gw.port, "app", token(), gw.caPem, { database: "postgres" }));
      assert.equal(r.code, "28000");
      assert.match(r.message, /PAM authentication failed for user "app"/);
      const entry = gw.log().at(-1) as Record<string, unknown>;
      assert.equal(entry.cause, "backend-login-failed");
      const detail = String(entry.detail);
      assert.match(detail, /pg_hba\.conf/);
      assert.match(detail, /127\.0\.0\.1/, "names the address the gateway connects from");
      assert.doesNotMatch(detail, /db-user rotate/);
    } finally {
      writeFileSync(hba, original);
      await cluster.sql(["SELECT pg_reload_conf()"]);
    }
  });

  it("an unknown database is the backend's error to report, as it would be directly", async () => {
    const r = await refusal(pgClient(gw.port, "app", token(), gw.caPem, { database: "no_such_db" }));
    assert.equal(r.code, "3D000");
  });
});
