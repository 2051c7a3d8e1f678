// The wiring of `iamdb up` (src/app/start.ts): started with each store (SQLite in the data
// directory; PostgreSQL on the machine's server, in a throwaway database), with a PostgreSQL
// and a MariaDB listener in front of the machine's servers; one real login through each with
// the real clients, then a stop that releases every port and leaves no socket open.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { isDeepStrictEqual } from "node:util";
import mysql from "mysql2/promise";
import pg from "pg";
import { type RunningIamdb, startIamdb } from "../../src/app/start.js";
import { STATUS_FILE } from "../../src/app/status.js";
import { parseConfig } from "../../src/config/load.js";
import type { StoreConfig } from "../../src/config/types.js";
import { DbUserService } from "../../src/engines/db-users.js";
import { mysqlAccounts } from "../../src/engines/mysql/provision.js";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import { generateAuthToken } from "../../src/index.js";
import type { BackendSpec } from "../../src/instances/types.js";

const MACHINE_PG: BackendSpec = {
  host: "127.0.0.1",
  port: 5432,
  database: "test",
  tls: "disable",
  adminUser: "postgres",
};
const MACHINE_MARIADB: BackendSpec = {
  host: "127.0.0.1",
  port: 3306,
  database: "",
  tls: "disable",
  adminUser: "root",
};
const PG_USER = `iamdb_start_pg_${process.pid}`;
const MY_USER = `iamdb_start_my_${process.pid}`;

/** Runs `sql` on the machine's PostgreSQL as postgres (database test). */
async function onMachinePg(sql: string): Promise<void> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "test" });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Listening sockets and TCP connections of this process, by kind. */
function sockets(): { servers: number; connections: number } {
  const info = process.getActiveResourcesInfo();
  return {
    servers: info.filter((r) => r === "TCPServerWrap").length,
    connections: info.filter((r) => r === "TCPSocketWrap").length,
  };
}

/** Returns once `done()` holds, or after 10 s (the caller asserts what it waits for). */
async function settled(done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 20));
}

/**
 * Whether nothing listens on 127.0.0.1:port any more (a connection is refused). Asked by
 * connecting rather than by listening there: another process may take a freed port from the
 * ephemeral range for its own outgoing connections, which does not make a connection succeed.
 */
function closed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: "127.0.0.1", port });
    s.once("connect", () => {
      s.destroy();
      resolve(false);
    });
    s.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

/** An IAM user allowed to connect as `dbUser` to `instance`, and its access key. */
async function userWithAccess(app: RunningIamdb, name: string, instance: string, dbUser: string) {
  await app.iam.createUser({ userName: name });
  const key = await app.iam.createAccessKey({ userName: name });
  const dbi = app.registry.get(instance)?.dbiResourceId;
  await app.iam.putUserPolicy({
    userName: name,
    policyName: "connect",
    policyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Action: "rds-db:connect",
          Resource: `arn:aws:rds-db:us-east-1:123456789012:dbuser:${dbi}/${dbUser}`,
        },
      ],
    }),
  });
  return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
}

/**
 * Starts iamdb with `store`, logs in once through each listener, stops it, and checks what the
 * stop released. Every DB user made is dropped, even when a step fails.
 */
async function startLoginStop(store: StoreConfig): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-start-"));
  const before = sockets();
  let app: RunningIamdb | undefined;
  try {
    app = await startIamdb(
      parseConfig({
        dataDir: dir,
        accountId: "123456789012",
        store,
        api: { port: 0 },
        ops: { port: 0 },
        fleet: { heartbeatMs: 60_000 },
        authLog: join(dir, "auth.log"),
        instances: [
          { identifier: "pg1", listen: { port: 0 }, port: 0, backend: { ...MACHINE_PG } },
          {
            identifier: "my1",
            engine: "mariadb",
            listen: { port: 0 },
            port: 0,
            backend: { host: "127.0.0.1" },
          },
        ],
      }),
    );
    const running = app;
    const portOf = (id: string) => running.gateway.listeners.get(id)?.port ?? 0;
    const ports = [
      portOf("pg1"),
      portOf("my1"),
      new URL(app.status.apiUrl).port,
      new URL(app.status.opsUrl).port,
    ].map(Number);
    for (const p of ports) assert.ok(p > 0, `port ${p}`);
    assert.equal(JSON.parse(readFileSync(join(dir, STATUS_FILE), "utf8")).apiUrl, app.status.apiUrl);

    // Each instance's backend is the one configured; tokens are signed for the listener's port.
    assert.deepEqual(
      app.status.instances.map((i) => [i.identifier, i.engine, i.port, i.backend.port, i.backend.embedded]),
      [
        ["pg1", "postgres", portOf("pg1"), 5432, false],
        ["my1", "mariadb", portOf("my1"), 3306, false],
      ],
    );
    const caOf = (id: string) =>
      readFileSync(String(running.status.instances.find((i) => i.identifier === id)?.caFile), "utf8");

    // DB users through the same service the admin API's CreateDBUser uses.
    const dbUsers = new DbUserService(app.registry, app.accounts, (id) => running.backends.get(id));
    await dbUsers.run("pg1", "create", PG_USER);
    await dbUsers.run("my1", "create", MY_USER);

    const pgCreds = await userWithAccess(app, "start-pg", "pg1", PG_USER);
    const pgClient = new pg.Client({
      host: "localhost",
      port: portOf("pg1"),
      user: PG_USER,
      database: "test",
      ssl: { ca: caOf("pg1") },
      password: generateAuthToken({
        hostname: "localhost",
        port: portOf("pg1"),
        username: PG_USER,
        region: "us-east-1",
        credentials: pgCreds,
      }),
    });
    await pgClient.connect();
    try {
      const r = await pgClient.query("select current_user as who");
      assert.equal(r.rows[0].who, PG_USER);
    } finally {
      await pgClient.end();
    }

    const myCreds = await userWithAccess(app, "start-my", "my1", MY_USER);
    const myClient = await mysql.createConnection({
      host: "localhost",
      port: portOf("my1"),
      user: MY_USER,
      password: generateAuthToken({
        hostname: "localhost",
        port: portOf("my1"),
        username: MY_USER,
        region: "us-east-1",
        credentials: myCreds,
      }),
      ssl: { ca: caOf("my1") },
      enableCleartextPlugin: true,
    });
    try {
      const [rows] = await myClient.query("select current_user() as who");
      assert.match(String((rows as Array<{ who: string }>)[0]?.who), new RegExp(`^${MY_USER}@`));
    } finally {
      await myClient.end();
    }

    // Both logins went through the auth log the configuration names.
    const lines = readFileSync(join(dir, "auth.log"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      lines.filter((l) => l.decision === "success").map((l) => [l.instance, l.dbUser]),
      [
        ["pg1", PG_USER],
        ["my1", MY_USER],
      ],
    );

    await dbUsers.run("pg1", "delete", PG_USER);
    await dbUsers.run("my1", "delete", MY_USER);
    await app.stop();
    app = undefined;

    for (const p of ports) assert.ok(await closed(p), `port ${p} still accepts connections after stop`);
    assert.equal(existsSync(join(dir, STATUS_FILE)), false, "the status file is removed at stop");
    // Nothing of iamdb's is left listening or connected (the clients above have ended too). A
    // closed server's handle goes a moment after its port is free: wait for it (bounded), then
    // compare, so a socket or server that stays open fails the test.
    await settled(() => isDeepStrictEqual(sockets(), before));
    assert.deepEqual(sockets(), before);
  } finally {
    await app?.stop().catch(() => undefined);
    await postgresAccounts.drop(MACHINE_PG, PG_USER).catch(() => undefined);
    await mysqlAccounts.drop(MACHINE_MARIADB, MY_USER).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("app start: each store, each engine, stop", () => {
  it("app start: the SQLite store in the data directory", async () => {
    await startLoginStop({ type: "sqlite" });
  });

  it("app start: the PostgreSQL store, in a database of its own", async () => {
    const database = `iamdb_start_store_${process.pid}`;
    await onMachinePg(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await onMachinePg(`CREATE DATABASE ${database}`);
    try {
      await startLoginStop({
        type: "postgres",
        host: "127.0.0.1",
        port: 5432,
        user: "postgres",
        database,
        schema: "iamdb_start",
      });
    } finally {
      await onMachinePg(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    }
  });
});
