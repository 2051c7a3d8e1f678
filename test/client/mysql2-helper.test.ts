// The mysql2 helpers against a real iamdb gateway in front of the machine's MariaDB: mysql2
// (≥ 3.22, cleartext plugin off by default) logs in with the authPlugins entry, tokens are
// cached across a pool's connections, a refused token is retried once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2";
import { createIamdbMysqlPool, iamdbMysqlConfig, mysqlClearPasswordPlugin } from "../../src/client/mysql2.js";
import { iamdbPassword } from "../../src/client/pg.js";
import { type MysqlTestGateway, REGION, startMysqlTestGateway } from "../gateway/mysql-fixture.js";
import { kitName } from "./helpers.js";

let gw: MysqlTestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };
const dbUser = kitName();

before(async () => {
  gw = await startMysqlTestGateway();
  creds = await gw.userWithAccess(kitName("kitiam"), dbUser);
  await gw.provision(dbUser);
});

after(async () => {
  await gw.close();
});

describe("mysql2 helpers", () => {
  it("without the helper, mysql2's default options log in too: the token through caching_sha2_password's full authentication", async () => {
    const c = mysql.createConnection({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      password: gw.token(dbUser, creds),
      database: "test",
      ssl: { ca: gw.caPem },
    });
    const [rows] = await c.promise().query("select current_user() u");
    assert.match(String((rows as Array<{ u: string }>)[0]?.u), new RegExp(`^${dbUser}@`));
    c.destroy();
  });

  it("the authPlugins entry alone: a connection logs in with a token from the cache", async () => {
    const password = iamdbPassword({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      credentials: creds,
    });
    const c = mysql
      .createConnection({
        host: "localhost",
        port: gw.port,
        user: dbUser,
        database: "test",
        ssl: { ca: gw.caPem },
        authPlugins: { mysql_clear_password: mysqlClearPasswordPlugin(password) },
      })
      .promise();
    try {
      const [rows] = await c.query("select current_user() as u");
      assert.deepEqual(rows, [{ u: `${dbUser}@%` }]);
    } finally {
      await c.end();
    }
  });

  it("createIamdbMysqlPool(iamdbMysqlConfig(...)): 10 connections, one signing", async () => {
    let signings = 0;
    const options = iamdbMysqlConfig({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      database: "test",
      // The cache asks its source for credentials once per signing.
      credentials: async () => {
        signings++;
        return creds;
      },
      ca: gw.caPem,
    });
    const pool = createIamdbMysqlPool({ ...options, connectionLimit: 10 }).promise();
    try {
      const conns = await Promise.all(Array.from({ length: 10 }, () => pool.getConnection()));
      const ids = new Set<number>();
      for (const c of conns) {
        const [rows] = await c.query("select connection_id() as id, current_user() as u");
        const row = (rows as Array<{ id: number; u: string }>)[0];
        assert.equal(row?.u, `${dbUser}@%`);
        ids.add(row?.id as number);
        c.release();
      }
      assert.equal(ids.size, 10);
      assert.equal(signings, 1);
    } finally {
      await pool.end();
    }
  });

  it("a refused token is retried once with a new one (pool.query)", async () => {
    const other = await gw.userWithAccess(kitName("kitiam"), "kit_not_me");
    let call = 0;
    const options = iamdbMysqlConfig({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      database: "test",
      credentials: async () => (call++ === 0 ? other : creds),
      ca: gw.caPem,
    });
    const pool = createIamdbMysqlPool({ ...options, connectionLimit: 2 }).promise();
    try {
      const [rows] = await pool.query("select current_user() as u");
      assert.deepEqual(rows, [{ u: `${dbUser}@%` }]);
      assert.equal(call, 2);
      assert.equal(gw.log().at(-2)?.cause, "not-authorized");
    } finally {
      await pool.end();
    }
  });
});
