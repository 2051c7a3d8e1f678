// The database knows who is connected (issue 14, part 4): PostgreSQL sessions read their IAM
// principal from iamdb.session_identity() (written by the gateway's administrator, matched on
// the backend's pid and start time, right with backend reuse); MySQL/MariaDB sessions carry it
// as iamdb.* connection attributes. Nothing the client does changes what the database sees.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import pg from "pg";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import type { BackendSpec } from "../../src/instances/types.js";
import { MACHINE_PG, startGatewayFixture, type TestGateway } from "../gateway/fixture.js";
import { type MysqlTestGateway, startMysqlTestGateway } from "../gateway/mysql-fixture.js";
import { type MariadbServer, startMariadbServer } from "../helpers/mariadb-server.js";

const DB = `iamdb_idt_${randomBytes(4).toString("hex")}`;
const USER = "iamdb_idt_app";
const ADMIN = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };

async function asAdmin(database: string, sql: string, params: unknown[] = []) {
  const c = new pg.Client({ ...ADMIN, database });
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end();
  }
}

describe("PostgreSQL: iamdb.session_identity()", () => {
  let gw: TestGateway;
  let jane: { accessKeyId: string; secretAccessKey: string };
  let bob: { accessKeyId: string; secretAccessKey: string };
  const connect = async (creds: typeof jane) => {
    const c = new pg.Client({
      host: "localhost",
      port: gw.port,
      user: USER,
      database: DB,
      password: gw.token(USER, creds),
      ssl: { ca: gw.caPem },
    });
    await c.connect();
    return c;
  };
  const who = async (c: pg.Client) =>
    (await c.query("SELECT principal_arn, access_key_id, session_id FROM iamdb.session_identity()")).rows[0];

  before(async () => {
    await asAdmin("test", `CREATE DATABASE ${DB}`);
    gw = await startGatewayFixture(
      {
        identifier: "pg1",
        engine: "postgres",
        backend: MACHINE_PG,
        async provision(spec, dbUser, password) {
          await postgresAccounts.drop(spec, dbUser);
          await postgresAccounts.create(spec, dbUser, password);
        },
        drop: (spec, dbUser) => postgresAccounts.drop(spec, dbUser),
      },
      { sessionIdentity: true },
    );
    await gw.provision(USER);
    jane = await gw.userWithAccess("idt-jane", USER);
    bob = await gw.userWithAccess("idt-bob", USER);
    // The first session to land in the database makes iamdb's objects there.
    await (await connect(jane)).end();
    // Row-level security on the principal: the docs' example.
    await asAdmin(
      DB,
      `CREATE TABLE notes (owner text NOT NULL DEFAULT iamdb.principal_arn(), body text);
       ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
       CREATE POLICY own_notes ON notes USING (owner = iamdb.principal_arn());
       GRANT SELECT, INSERT ON notes TO ${USER};`,
    );
  });

  after(async () => {
    // The database first (the role holds grants in it), then the gateway drops the role.
    await asAdmin("test", `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`);
    await gw.close();
  });

  it("a session reads its own principal, access key and session id (the auth log's correlation id)", async () => {
    const c = await connect(jane);
    try {
      const row = await who(c);
      assert.equal(row.principal_arn, "arn:aws:iam::123456789012:user/idt-jane");
      assert.equal(row.access_key_id, jane.accessKeyId);
      const success = gw
        .log()
        .filter((l) => l.decision === "success" && l.accessKeyId === jane.accessKeyId)
        .at(-1);
      assert.equal(row.session_id, success?.correlationId);
    } finally {
      await c.end();
    }
  });

  it("a reused backend connection answers for its new client", async () => {
    const a = await connect(jane);
    const pid = (await a.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    await a.end();
    await new Promise((r) => setTimeout(r, 200)); // back in the pool
    const b = await connect(bob);
    try {
      assert.equal((await b.query("SELECT pg_backend_pid() AS pid")).rows[0].pid, pid, "the same backend");
      assert.equal((await who(b)).principal_arn, "arn:aws:iam::123456789012:user/idt-bob");
    } finally {
      await b.end();
    }
  });

  it("row-level security by principal: each sees only their own rows", async () => {
    const a = await connect(jane);
    const b = await connect(bob);
    try {
      await a.query("INSERT INTO notes (body) VALUES ('jane''s')");
      await b.query("INSERT INTO notes (body) VALUES ('bob''s')");
      assert.deepEqual((await a.query("SELECT body FROM notes")).rows, [{ body: "jane's" }]);
      assert.deepEqual((await b.query("SELECT body FROM notes")).rows, [{ body: "bob's" }]);
    } finally {
      await a.end();
      await b.end();
    }
  });

  it("the client cannot change what the database sees: SET, set_config, the table, the functions, the schema", async () => {
    const c = await connect(jane);
    try {
      await c.query("SET iamdb.principal_arn = 'arn:aws:iam::123456789012:user/admin'");
      await c.query("SELECT set_config('iamdb.session_id', 'forged', false)");
      const denied = async (sql: string) =>
        assert.rejects(c.query(sql), (e: { code?: string }) => e.code === "42501", sql);
      await denied("INSERT INTO iamdb.sessions VALUES (1, now(), 'x', 'x', 'x', 'x', now())");
      await denied("UPDATE iamdb.sessions SET principal_arn = 'arn:aws:iam::123456789012:user/admin'");
      await denied("SELECT * FROM iamdb.sessions");
      await denied(
        "CREATE OR REPLACE FUNCTION iamdb.principal_arn() RETURNS text LANGUAGE sql AS $$ SELECT 'forged' $$",
      );
      await denied("CREATE FUNCTION iamdb.other() RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$");
      // A function of the client's own, first on the search path, does not shadow the qualified name.
      await c.query("CREATE TEMP TABLE t (x int)"); // the session's pg_temp exists
      await c.query(
        "CREATE FUNCTION pg_temp.principal_arn() RETURNS text LANGUAGE sql AS $$ SELECT 'forged' $$",
      );
      await c.query("SET search_path = pg_temp, public");
      assert.equal(
        (await c.query("SELECT iamdb.principal_arn() AS p")).rows[0].p,
        "arn:aws:iam::123456789012:user/idt-jane",
      );
      assert.equal((await who(c)).session_id !== "forged", true);
    } finally {
      await c.end();
    }
  });

  it("a connection that did not come through the gateway sees no identity", async () => {
    assert.equal((await asAdmin(DB, "SELECT iamdb.principal_arn() AS p")).rows[0].p, null);
  });
});

describe("MariaDB: iamdb.* connection attributes", () => {
  let server: MariadbServer;
  let gw: MysqlTestGateway;
  before(async () => {
    server = await startMariadbServer(["--performance-schema=ON"]);
    const backend: BackendSpec = {
      host: "127.0.0.1",
      port: server.port,
      database: "test",
      tls: "disable",
      adminUser: "root",
    };
    gw = await startMysqlTestGateway({ backend });
    await gw.provision("idt_app");
    await gw.provision("idt_other");
    await mysql.createConnection({ host: "127.0.0.1", port: server.port, user: "root" }).then(async (c) => {
      await c.query("GRANT SELECT ON performance_schema.* TO 'idt_app'@'%'");
      await c.query("GRANT SELECT ON performance_schema.* TO 'idt_other'@'%'");
      await c.end();
    });
  });
  after(async () => {
    await gw?.close();
    await server?.stop();
  });

  it("performance_schema.session_connect_attrs shows the gateway's iamdb.* attributes, not the client's forgery", async () => {
    const creds = await gw.userWithAccess("idt-my", "idt_app");
    const c = await mysql.createConnection({
      host: "127.0.0.1",
      port: gw.port,
      user: "idt_app",
      password: gw.token("idt_app", creds, "127.0.0.1"),
      database: "test",
      ssl: { ca: gw.caPem },
      enableCleartextPlugin: true,
      connectAttributes: {
        "iamdb.principal_arn": "arn:aws:iam::123456789012:user/admin",
        "IAMDB.session_id": "forged",
        app: "kept",
      },
    });
    try {
      const [rows] = await c.query(
        "SELECT ATTR_NAME AS name, ATTR_VALUE AS value FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = CONNECTION_ID() ORDER BY ATTR_NAME",
      );
      const attrs = new Map((rows as Array<{ name: string; value: string }>).map((r) => [r.name, r.value]));
      assert.equal(attrs.get("iamdb.principal_arn"), "arn:aws:iam::123456789012:user/idt-my");
      assert.equal(attrs.get("iamdb.access_key_id"), creds.accessKeyId);
      const success = gw
        .log()
        .filter((l) => l.decision === "success" && l.accessKeyId === creds.accessKeyId)
        .at(-1);
      assert.equal(attrs.get("iamdb.session_id"), success?.correlationId);
      assert.equal(attrs.get("IAMDB.session_id"), undefined, "the client's forged attribute was dropped");
      assert.equal(attrs.get("app"), "kept", "the client's other attributes reach the backend");
      assert.equal(
        (rows as unknown[]).filter((r) => (r as { name: string }).name.toLowerCase().startsWith("iamdb."))
          .length,
        3,
      );
    } finally {
      await c.end();
    }
  });
  it("after COM_CHANGE_USER the backend carries the gateway's iamdb.* attributes for the new identity, not the client's forgery", async () => {
    const first = await gw.userWithAccess("idt-cu-a", "idt_app");
    const other = await gw.userWithAccess("idt-cu-b", "idt_other");
    const c = await mysql.createConnection({
      host: "127.0.0.1",
      port: gw.port,
      user: "idt_app",
      password: gw.token("idt_app", first, "127.0.0.1"),
      database: "test",
      ssl: { ca: gw.caPem },
      connectAttributes: { "iamdb.principal_arn": "arn:aws:iam::123456789012:user/admin" },
    });
    try {
      await c.changeUser({
        user: "idt_other",
        password: gw.token("idt_other", other, "127.0.0.1"),
        database: "test",
      });
      const [rows] = await c.query(
        "SELECT ATTR_NAME AS name, ATTR_VALUE AS value FROM performance_schema.session_connect_attrs WHERE PROCESSLIST_ID = CONNECTION_ID()",
      );
      const attrs = new Map((rows as Array<{ name: string; value: string }>).map((r) => [r.name, r.value]));
      assert.equal(attrs.get("iamdb.principal_arn"), "arn:aws:iam::123456789012:user/idt-cu-b");
      assert.equal(attrs.get("iamdb.access_key_id"), other.accessKeyId);
      const success = gw
        .log()
        .filter((l) => l.decision === "success" && l.accessKeyId === other.accessKeyId)
        .at(-1);
      assert.equal(attrs.get("iamdb.session_id"), success?.correlationId);
    } finally {
      await c.end();
    }
  });
});
