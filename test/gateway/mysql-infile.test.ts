// LOAD DATA LOCAL INFILE through the MySQL gateway (issue 19, finding 8): the client's file
// packets count their sequence ids on from the server's 0xFB request and wrap to 0 after 255;
// a data packet there that starts with 0x11 is file content, not COM_CHANGE_USER. The real
// mysql2 client (one packet per stream chunk) against the machine's MariaDB.
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import { type MysqlTestGateway, startMysqlTestGateway } from "./mysql-fixture.js";

const USER = "iamdb_gw_infile";
let gw: MysqlTestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };

before(async () => {
  gw = await startMysqlTestGateway();
  creds = await gw.userWithAccess("infile-user", USER);
  await gw.provision(USER);
});

after(async () => {
  await gw?.unprovision(USER).catch(() => undefined);
  await gw?.close();
});

/** The file's lines, one per stream chunk, so mysql2 sends each as a packet of its own. */
function lines(count: number, special: Map<number, string>): Buffer[] {
  return Array.from({ length: count }, (_, k) => Buffer.from(`${special.get(k) ?? `line ${k}`}\n`, "latin1"));
}

async function connect(infile: (path: string) => Readable) {
  const token = gw.token(USER, creds, "127.0.0.1");
  return mysql.createConnection({
    host: "127.0.0.1",
    port: gw.port,
    user: USER,
    password: token,
    database: "test",
    ssl: { ca: gw.caPem },
    enableCleartextPlugin: true,
    infileStreamFactory: infile,
  });
}

describe("MySQL gateway: LOAD DATA LOCAL INFILE", () => {
  it("more than 256 file packets, one with sequence id 0 starting 0x11: loaded whole, the session goes on", async () => {
    // The server's request has sequence id 1, so file packet k has id (k + 2) & 0xff: k = 254 is 0.
    const special = new Map([
      [254, "\x11 looks like COM_CHANGE_USER"],
      [510, "\x11 and again after a second wrap"],
    ]);
    const chunks = lines(600, special);
    const c = await connect(() => Readable.from(chunks));
    try {
      await c.query("create temporary table loaded (n int auto_increment primary key, v text)");
      const [result] = await c.query({
        sql: "load data local infile 'lines.txt' into table loaded character set latin1 fields escaped by '' lines terminated by '\\n' (v)",
      });
      assert.equal((result as { affectedRows: number }).affectedRows, 600);
      const [rows] = await c.query("select n, v from loaded where ascii(v) = 17 or n in (1, 600) order by n");
      assert.deepEqual(
        (rows as Array<{ n: number; v: string }>).map((r) => [r.n, r.v]),
        [
          [1, "line 0"],
          [255, "\x11 looks like COM_CHANGE_USER"],
          [511, "\x11 and again after a second wrap"],
          [600, "line 599"],
        ],
      );
      const [[one]] = (await c.query("select 1 + 1 two")) as unknown as [[{ two: number }]];
      assert.equal(one.two, 2);
    } finally {
      await c.end().catch(() => undefined);
    }
    assert.equal(
      gw.log().filter((l) => l.decision === "failure" && /COM_CHANGE_USER/.test(String(l.detail))).length,
      0,
      gw.logText(),
    );
  });

  it("after the upload, COM_CHANGE_USER is still intercepted (root without a token: 1045)", async () => {
    const c = await connect(() => Readable.from(lines(300, new Map())));
    try {
      await c.query("create temporary table loaded (v text)");
      await c.query("load data local infile 'x' into table loaded fields escaped by '' (v)");
      const err = await c.changeUser({ user: "root", password: "" }).then(
        () => undefined,
        (e: { errno?: number }) => e,
      );
      assert.equal(err?.errno, 1045);
    } finally {
      c.destroy();
    }
  });
});
