// MySQL backend reuse (issue 15, part 2): a client that leaves with its backend idle hands the
// logged-in connection, reset with COM_RESET_CONNECTION, to the next authenticated client with
// the same key. Against the machine's MariaDB with mysql2; backend connections are told apart
// by CONNECTION_ID(). Every kind of session state is set by one client and must be gone for
// the next on the same backend; backends left mid-transaction or mid-result are closed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import { withMysqlAdmin } from "../../src/engines/mysql/provision.js";
import { MACHINE_MARIADB, type MysqlTestGateway, startMysqlTestGateway } from "./mysql-fixture.js";

const USER = "iamdb_mypool";
const TABLE = "iamdb_mypool_leak";
const ROLE = "iamdb_mypool_role";
let gw: MysqlTestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };

before(async () => {
  gw = await startMysqlTestGateway();
  creds = await gw.userWithAccess("mypool-user", USER);
  await gw.provision(USER);
  await withMysqlAdmin(MACHINE_MARIADB, async (c) => {
    await c.query(`create or replace table test.${TABLE} (n int primary key) engine=InnoDB`);
    await c.query(`drop role if exists ${ROLE}`);
    await c.query(`create role ${ROLE}`);
    const [hosts] = await c.query("select host as host from mysql.user where user = ?", [USER]);
    for (const { host } of hosts as Array<{ host: string }>)
      await c.query(`grant ${ROLE} to ?@?`, [USER, host]);
  });
});

after(async () => {
  try {
    await withMysqlAdmin(MACHINE_MARIADB, async (c) => {
      await c.query(`drop table if exists test.${TABLE}`);
      await c.query(`drop role if exists ${ROLE}`);
    });
    await gw?.unprovision(USER);
  } finally {
    await gw?.close();
  }
});

function connect() {
  return mysql.createConnection({
    host: "127.0.0.1",
    port: gw.port,
    user: USER,
    password: gw.token(USER, creds, "127.0.0.1"),
    database: "test",
    ssl: { ca: gw.caPem },
    multipleStatements: true,
  });
}

async function one<T>(c: mysql.Connection, sql: string): Promise<T> {
  const [rows] = await c.query({ sql, rowsAsArray: true });
  return (rows as unknown[][])[0]?.[0] as T;
}

const backendId = (c: mysql.Connection) => one<number>(c, "select connection_id()");

/** A session that does `work` and leaves with COM_QUIT; returns its backend connection id. */
async function session(work: (c: mysql.Connection) => Promise<void>): Promise<number> {
  const c = await connect();
  try {
    const id = await backendId(c);
    await work(c);
    return id;
  } finally {
    await c.end().catch(() => c.destroy());
  }
}

/**
 * The next session on backend `id`, once the gateway has reset and pooled it. A session that
 * got another backend leaves it mid-transaction (so that it is closed, not pooled) and tries again.
 */
async function reusing(id: number): Promise<mysql.Connection> {
  for (let i = 0; i < 100; i++) {
    const c = await connect();
    if ((await backendId(c)) === id) return c;
    await c.query("begin; select 1");
    c.destroy();
    await sleep(30);
  }
  assert.fail(`backend connection ${id} was never reused`);
}

const backendAlive = (id: number) =>
  withMysqlAdmin(MACHINE_MARIADB, async (c) => {
    const [rows] = await c.query("select 1 from information_schema.processlist where id = ?", [id]);
    return (rows as unknown[]).length === 1;
  });

async function closedOnBackend(id: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (!(await backendAlive(id))) return;
    await sleep(50);
  }
  assert.fail(`backend connection ${id} was not closed`);
}

async function metric(name: string): Promise<number> {
  const text = await gw.metrics.registry.metrics();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes('instance="my1"'));
  return Number(line?.split(" ").pop() ?? 0);
}

/** Runs `check` on the next session on the same backend as `setup`'s, and ends it. */
async function nextOnSameBackend(
  setup: (c: mysql.Connection) => Promise<void>,
  check: (c: mysql.Connection) => Promise<void>,
): Promise<void> {
  const id = await session(setup);
  const c = await reusing(id);
  try {
    await check(c);
  } finally {
    await c.end();
  }
}

describe("mysqlpool: session state never reaches the next client on a reused backend", () => {
  it("mysqlpool: reuse is counted as iamdb_backend_reused_total, and the client sees a login's OK", async () => {
    const logins = await metric("iamdb_backend_logins_total");
    const reused = await metric("iamdb_backend_reused_total");
    await nextOnSameBackend(
      async () => undefined,
      async (c) => {
        assert.equal(await one(c, "select database()"), "test");
        assert.match(await one<string>(c, "select current_user()"), /^iamdb_mypool@/);
      },
    );
    assert.ok((await metric("iamdb_backend_reused_total")) >= reused + 1);
    assert.ok((await metric("iamdb_backend_logins_total")) >= logins + 1);
    const reusedLine = gw.log().findLast((l) => l.decision === "success");
    assert.match(String(reusedLine?.detail), /backend connection reused/);
  });

  it("mysqlpool: user variables", async () => {
    await nextOnSameBackend(
      (c) => c.query("set @leak = 'secret'").then(() => undefined),
      async (c) => assert.equal(await one(c, "select @leak"), null),
    );
  });

  it("mysqlpool: temporary tables", async () => {
    await nextOnSameBackend(
      (c) =>
        c
          .query("create temporary table tmp_leak (a int); insert into tmp_leak values (1)")
          .then(() => undefined),
      async (c) => {
        await assert.rejects(c.query("select * from tmp_leak"), (e: { errno?: number }) => e.errno === 1146);
      },
    );
  });

  it("mysqlpool: prepared statements (SQL PREPARE; a binary one left open too)", async () => {
    await nextOnSameBackend(
      async (c) => {
        await c.query("prepare leaked from 'select 42'");
        await c.prepare("select ? + 1");
      },
      async (c) => {
        await assert.rejects(c.query("execute leaked"), (e: { errno?: number }) => e.errno === 1243);
      },
    );
  });

  it("mysqlpool: session variables (sql_mode, character set, autocommit, time_zone)", async () => {
    let before: unknown[] = [];
    const probe =
      "select @@session.sql_mode, @@character_set_client, @@character_set_results, @@autocommit, @@session.time_zone";
    await nextOnSameBackend(
      async (c) => {
        const [rows] = await c.query({ sql: probe, rowsAsArray: true });
        before = (rows as unknown[][])[0] ?? [];
        await c.query(
          "set session sql_mode = 'ANSI_QUOTES'; set names latin1; set session time_zone = '+05:00'",
        );
      },
      async (c) => {
        const [rows] = await c.query({ sql: probe, rowsAsArray: true });
        assert.deepEqual((rows as unknown[][])[0], before);
      },
    );
  });

  it("mysqlpool: a reused backend has the sql_mode a fresh login gets (mysql2 sends CLIENT_IGNORE_SPACE)", async () => {
    // What the server gives a mysql2 login of its own: the global sql_mode plus IGNORE_SPACE.
    const direct = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root" });
    let fresh: string;
    try {
      fresh = await one<string>(direct, "select @@session.sql_mode");
    } finally {
      await direct.end();
    }
    assert.match(fresh, /IGNORE_SPACE/);
    await nextOnSameBackend(
      async (c) => assert.equal(await one(c, "select @@session.sql_mode"), fresh),
      async (c) => assert.equal(await one(c, "select @@session.sql_mode"), fresh),
    );
  });

  it("mysqlpool: a GET_LOCK lock is released", async () => {
    await nextOnSameBackend(
      async (c) => assert.equal(await one(c, "select get_lock('iamdb_mypool_lock', 0)"), 1),
      async (c) => {
        assert.equal(await one(c, "select is_used_lock('iamdb_mypool_lock')"), null);
        assert.equal(await one(c, "select is_free_lock('iamdb_mypool_lock')"), 1);
      },
    );
  });

  it("mysqlpool: a LOCK TABLES lock is released", async () => {
    await nextOnSameBackend(
      (c) => c.query(`lock tables ${TABLE} write`).then(() => undefined),
      async (c) => {
        // Another backend connection can write the table at once: the lock is gone.
        await withMysqlAdmin(MACHINE_MARIADB, async (admin) => {
          await admin.query("set session lock_wait_timeout = 5");
          await admin.query(`insert into test.${TABLE} values (99)`);
          await admin.query(`delete from test.${TABLE} where n = 99`);
        });
        assert.equal(await one(c, `select count(*) from ${TABLE}`), 0);
      },
    );
  });

  it("mysqlpool: a role left active with SET ROLE (COM_RESET_CONNECTION keeps it): the backend is closed, never handed on", async () => {
    const c = await connect();
    const id = await backendId(c);
    await c.query(`set role ${ROLE}`);
    assert.equal(await one(c, "select current_role()"), ROLE);
    await c.end();
    await closedOnBackend(id);
    const next = await connect();
    try {
      assert.notEqual(await backendId(next), id);
      assert.equal(await one(next, "select current_role()"), null);
    } finally {
      await next.end();
    }
  });

  it("mysqlpool: a client that leaves inside an XA transaction: the backend is closed, never reset", async () => {
    const c = await connect();
    const id = await backendId(c);
    await c.query(`xa start 'iamdb_mypool_xa'; insert into ${TABLE} values (2); xa end 'iamdb_mypool_xa'`);
    await c.end();
    await closedOnBackend(id);
    const next = await connect();
    try {
      assert.equal(await one(next, `select count(*) from ${TABLE}`), 0);
    } finally {
      await next.end();
    }
  });

  it("mysqlpool: a client that leaves inside a transaction: the backend is closed, the transaction rolled back", async () => {
    const c = await connect();
    const id = await backendId(c);
    await c.query(`begin; insert into ${TABLE} values (1)`);
    await c.end();
    await closedOnBackend(id);
    const next = await connect();
    try {
      assert.notEqual(await backendId(next), id);
      assert.equal(await one(next, `select count(*) from ${TABLE}`), 0);
    } finally {
      await next.end();
    }
  });

  it("mysqlpool: a client that leaves in the middle of a big result set: the backend is closed", async () => {
    const c = await connect();
    c.on("error", () => undefined);
    const id = await backendId(c);
    // The callback connection under the promise one: its query streams rows as they come.
    const core = (c as unknown as { connection: import("mysql2").Connection }).connection;
    const stream = core.query("select seq, repeat('x', 1000) pad from seq_1_to_200000").stream();
    await new Promise<void>((resolve) => {
      let rows = 0;
      stream.on("data", () => {
        if (++rows === 10) {
          c.destroy();
          resolve();
        }
      });
      stream.on("error", () => resolve());
    });
    await closedOnBackend(id);
    const next = await connect();
    try {
      assert.notEqual(await backendId(next), id);
      assert.equal(await one(next, "select 1"), 1);
    } finally {
      await next.end();
    }
  });

  it("mysqlpool: a client that hangs up idle without COM_QUIT: its backend is reused", async () => {
    const c = await connect();
    const id = await backendId(c);
    await c.query("set @mine = 1");
    c.destroy();
    const next = await reusing(id);
    try {
      assert.equal(await one(next, "select @mine"), null);
    } finally {
      await next.end();
    }
  });

  it("mysqlpool: an administrator's termination reaches a session on a reused backend, which is then closed", async () => {
    const id = await session(async () => undefined);
    const c = await reusing(id);
    c.on("error", () => undefined);
    try {
      const n = gw.gateway.live.terminateLocal({ dbUser: USER }, { reason: "test", kind: "terminated" });
      assert.equal(n, 1);
      await assert.rejects(c.query("select 1"), (err: { errno?: number }) => err.errno === 1927);
    } finally {
      c.destroy();
    }
    await closedOnBackend(id);
  });
});
