// The relay's following of the server's answers against the machine's real MariaDB: a plain
// TCP proxy (no gateway) feeds both directions to a CommandTracker after the login, and the
// real mysql2 client drives it. When mysql2 resolves a call it has read the whole answer, so
// the tracker must be idle then (answered but not idle inside a transaction), never before.
import assert from "node:assert/strict";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import { CommandTracker, PacketParser, parseHandshakeResponse } from "../../src/wire/mysql/index.js";

let server: Server;
let port = 0;
/** The tracker of the proxy's latest connection, once its login is done. */
let tracker: CommandTracker | undefined;
const sockets = new Set<Socket>();

before(async () => {
  server = createServer((client) => {
    const backend = createConnection({ host: "127.0.0.1", port: 3306 });
    sockets.add(client).add(backend);
    const fromClient = new PacketParser(1 << 20);
    const fromServer = new PacketParser(1 << 20);
    let capabilities = 0;
    let t: CommandTracker | undefined;
    client.on("data", (chunk) => {
      if (t) t.scan(chunk, new Set());
      else
        for (const e of fromClient.push(chunk))
          if (e.kind === "packet" && e.seq === 1)
            capabilities = parseHandshakeResponse(e.payload).capabilities;
      backend.write(chunk);
    });
    backend.on("data", (chunk) => {
      if (t) t.scanServer(chunk);
      else
        for (const e of fromServer.push(chunk))
          if (e.kind === "packet" && e.seq >= 2 && e.payload[0] === 0x00) {
            t = new CommandTracker(undefined, capabilities, e.payload.readUInt16LE(3));
            tracker = t;
          }
      client.write(chunk);
    });
    const end = () => {
      client.destroy();
      backend.destroy();
    };
    client.on("close", end).on("error", end);
    backend.on("close", end).on("error", end);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as { port: number }).port;
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});

function state() {
  assert.ok(tracker, "the proxy saw the login");
  return { idle: tracker.idle, answered: tracker.responses.answered, broken: tracker.responses.broken };
}

describe("mysqlresp-live: the tracker against real MariaDB answers", () => {
  it("mysqlresp-live: queries, multi-results, transactions, prepared statements, errors, LOAD DATA LOCAL, ping", async () => {
    const c = await mysql.createConnection({
      host: "127.0.0.1",
      port,
      user: "root",
      database: "test",
      multipleStatements: true,
      infileStreamFactory: () => Readable.from([Buffer.from("a\nb\nc\n")]),
    });
    try {
      await c.query("select 1");
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      await c.query("select 1; select 2, 3; do 1; select 'x' union select 'y'");
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      await c.query("create temporary table t (n int auto_increment primary key, v text)");
      await c.query("begin");
      assert.deepEqual(state(), { idle: false, answered: true, broken: false });
      await c.query("insert into t (v) values ('one')");
      assert.deepEqual(state(), { idle: false, answered: true, broken: false });
      await c.query("commit");
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      const stmt = await c.prepare("select ? + ? as s, v from t where n > ?");
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      const [rows] = await stmt.execute([1, 2, 0]);
      assert.equal((rows as Array<{ s: number }>)[0]?.s, 3);
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      stmt.close();
      const [many] = await c.execute("select seq, repeat('x', 200) pad from seq_1_to_5000");
      assert.equal((many as unknown[]).length, 5000);
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      await assert.rejects(c.query("select * from no_such_table_here"));
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      await assert.rejects(c.execute("select nope from t"));
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      const [loaded] = await c.query({ sql: "load data local infile 'x' into table t (v)" });
      assert.equal((loaded as { affectedRows: number }).affectedRows, 3);
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      await c.ping();
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
      await c.query("set autocommit = 0");
      await c.query("select count(*) from t");
      assert.deepEqual(
        state(),
        { idle: false, answered: true, broken: false },
        "autocommit off: a transaction opened",
      );
      await c.query("rollback; set autocommit = 1");
      assert.deepEqual(state(), { idle: true, answered: true, broken: false });
    } finally {
      await c.end().catch(() => undefined);
    }
  });
});
