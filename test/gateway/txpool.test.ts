// Transaction pooling (pool.mode "transaction"): many clients over few backend connections,
// prepared statements across backends, session settings carried between them, pinning,
// borrow timeouts, clients that leave mid-transaction, cancel and termination. Against the
// machine's PostgreSQL with the real pg client, pgbench and a raw protocol client.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { DEFAULTS } from "../../src/config/load.js";
import type { TransactionPoolConfig } from "../../src/config/types.js";
import { generateAuthToken } from "../../src/index.js";
import {
  MessageSplitter,
  passwordMessage,
  responseFields,
  startupMessage,
} from "../../src/wire/postgres/index.js";
import { cancelVia, pgClient, raw } from "./clients.js";
import { MACHINE_PG, REGION, startTestGateway, type TestGateway } from "./fixture.js";

const run = promisify(execFile);
const USER = "txp_user";
const TABLE = "txp_items";

type Creds = { accessKeyId: string; secretAccessKey: string };

function poolConfig(over: Partial<TransactionPoolConfig> = {}): TransactionPoolConfig {
  return { mode: "transaction", ...DEFAULTS.pool, ...over };
}

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...MACHINE_PG, user: MACHINE_PG.adminUser });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

const backendCount = () =>
  admin(async (c) =>
    Number(
      (await c.query("select count(*)::int n from pg_stat_activity where usename = $1", [USER])).rows[0].n,
    ),
  );

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`never happened: ${what}`);
}

/** A gateway in transaction mode with USER provisioned; closed (and USER dropped) by the caller. */
async function gateway(
  over: Partial<TransactionPoolConfig> = {},
): Promise<{ gw: TestGateway; creds: Creds }> {
  const gw = await startTestGateway({ transactionPool: poolConfig(over), allowPlaintext: true });
  try {
    const creds = await gw.userWithAccess("txp-user", USER);
    await gw.provision(USER);
    return { gw, creds };
  } catch (err) {
    await gw.close();
    throw err;
  }
}

const tokenFor = (gw: TestGateway, creds: Creds) =>
  generateAuthToken({
    hostname: "localhost",
    port: gw.port,
    username: USER,
    region: REGION,
    credentials: creds,
  });

async function client(
  gw: TestGateway,
  creds: Creds,
  extra: Partial<pg.ClientConfig> = {},
): Promise<pg.Client> {
  const c = pgClient(gw.port, USER, tokenFor(gw, creds), gw.caPem, extra);
  c.on("error", () => undefined);
  await c.connect();
  return c;
}

const pinned = (gw: TestGateway, reason: string) =>
  gw.metrics.value("iamdb_sessions_pinned_total", { instance: "pg1", reason });

// ---- a raw protocol client, for Describe, Close and names the pg client never sends ----

function frontend(type: string, ...parts: Array<Buffer | string>): Buffer {
  const bufs = parts.map((p) => (typeof p === "string" ? Buffer.from(`${p}\0`) : p));
  const body = Buffer.concat(bufs);
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const int16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const parse = (name: string, text: string) => frontend("P", name, text, int16(0));
const bind = (statement: string) => frontend("B", "", statement, int16(0), int16(0), int16(0));
const describeStatement = (name: string) => frontend("D", Buffer.from("S"), name);
const execute = () => frontend("E", "", Buffer.alloc(4));
const close = (name: string) => frontend("C", Buffer.from("S"), name);
const sync = () => frontend("S");
const simple = (sql: string) => frontend("Q", sql);

class RawClient {
  readonly #splitter = new MessageSplitter();
  readonly #messages: Buffer[] = [];
  #wake: (() => void) | undefined;

  constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.#splitter.push(chunk, (_t, m) => this.#messages.push(Buffer.from(m)));
      this.#wake?.();
    });
    socket.on("close", () => this.#wake?.());
  }

  static async connect(gw: TestGateway, creds: Creds): Promise<RawClient> {
    const c = new RawClient(await raw(gw.port));
    c.socket.write(startupMessage({ user: USER, database: "test" }));
    await c.next("R");
    c.socket.write(passwordMessage(tokenFor(gw, creds)));
    await c.untilReady();
    return c;
  }

  async next(type: string): Promise<Buffer> {
    for (;;) {
      const at = this.#messages.findIndex((m) => m[0] === type.charCodeAt(0));
      if (at >= 0) return this.#messages.splice(at, 1)[0] as Buffer;
      if (this.socket.destroyed) throw new Error(`closed before a '${type}'`);
      await new Promise<void>((r) => {
        this.#wake = r;
      });
    }
  }

  /** Every message up to and including the next ReadyForQuery, as type letters (and the messages). */
  async untilReady(): Promise<{ types: string; messages: Buffer[] }> {
    for (;;) {
      const at = this.#messages.findIndex((m) => m[0] === 0x5a);
      if (at >= 0) {
        const messages = this.#messages.splice(0, at + 1);
        return { types: messages.map((m) => String.fromCharCode(m[0] as number)).join(""), messages };
      }
      if (this.socket.destroyed) throw new Error("closed before ReadyForQuery");
      await new Promise<void>((r) => {
        this.#wake = r;
      });
    }
  }

  async send(...messages: Buffer[]): Promise<{ types: string; messages: Buffer[] }> {
    this.socket.write(Buffer.concat(messages));
    return this.untilReady();
  }

  end(): void {
    this.socket.end(frontend("X"));
  }
}

const errorOf = (r: { messages: Buffer[] }) => {
  const e = r.messages.find((m) => m[0] === 0x45);
  return e ? responseFields(e) : undefined;
};

before(async () => {
  await admin(async (c) => {
    await c.query(`drop table if exists ${TABLE}`);
    await c.query(`create table ${TABLE} (id serial primary key, client int, v int)`);
    // To PUBLIC: a grant to the test role would keep it from being dropped.
    await c.query(`grant all on ${TABLE}, ${TABLE}_id_seq to public`);
  });
});

after(async () => {
  await admin((c) => c.query(`drop table if exists ${TABLE}`));
});

describe("transaction pooling", () => {
  it("serves 50 clients over 3 backend connections, every transaction and prepared statement right, never more than 3 backends", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 3 });
    let most = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        most = Math.max(most, await backendCount());
        await sleep(20);
      }
    })();
    try {
      const clients = await Promise.all(Array.from({ length: 50 }, () => client(gw, creds)));
      await Promise.all(
        clients.map(async (c, i) => {
          for (let round = 0; round < 3; round++) {
            await c.query("begin");
            await c.query(`insert into ${TABLE} (client, v) values ($1, $2)`, [i, round]);
            const mine = await c.query(`select count(*)::int n from ${TABLE} where client = $1`, [i]);
            assert.equal(mine.rows[0].n, round + 1);
            await c.query("commit");
            const r = await c.query({ name: "plus", text: "select $1::int + 1 as v", values: [i] });
            assert.equal(r.rows[0].v, i + 1);
          }
        }),
      );
      await Promise.all(clients.map((c) => c.end()));
      sampling = false;
      await sampler;
      most = Math.max(most, await backendCount());
      assert.ok(most <= 3, `at most 3 backend connections, saw ${most}`);
      assert.ok(most >= 1);
      const total = await admin((c) => c.query(`select count(*)::int n from ${TABLE}`));
      assert.equal(total.rows[0].n, 150);
    } finally {
      sampling = false;
      await sampler;
      await admin((c) => c.query(`truncate ${TABLE}`));
      await gw.close();
    }
  });

  it("pgbench -M simple, extended and prepared: 100 clients over 5 backends, no errors", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 5 });
    const dir = mkdtempSync(join(tmpdir(), "txp-pgbench-"));
    try {
      const script = join(dir, "script.sql");
      writeFileSync(
        script,
        "\\set a random(1, 1000)\nbegin;\nselect :a::int + 1;\nselect :a::int * 2;\nend;\n",
      );
      for (const mode of ["simple", "extended", "prepared"]) {
        const { stdout } = await run(
          "pgbench",
          [
            "-n",
            "-f",
            script,
            "-M",
            mode,
            "-c",
            "100",
            "-j",
            "2",
            "-t",
            "5",
            `host=localhost port=${gw.port} dbname=test user=${USER} sslmode=verify-full sslrootcert=${gw.caFile}`,
          ],
          {
            env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: tokenFor(gw, creds) },
            timeout: 120_000,
          },
        );
        assert.match(stdout, /number of transactions actually processed: 500\/500/, `${mode}: ${stdout}`);
        assert.match(stdout, /number of failed transactions: 0/, `${mode}: ${stdout}`);
      }
      assert.ok((await backendCount()) <= 5);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await gw.close();
    }
  });

  it("a client beyond maxBackendConnections past the borrow timeout gets 53300 naming it", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 1, borrowTimeoutMs: 300 });
    try {
      const holder = await client(gw, creds);
      const waiter = await client(gw, creds);
      await holder.query("begin");
      await holder.query("select 1");
      const err = await waiter.query("select 1").then(
        () => assert.fail("the query ran"),
        (e: { code?: string; message: string }) => e,
      );
      assert.equal(err.code, "53300");
      assert.match(err.message, /borrow timeout \(pool\.borrowTimeoutMs = 300 ms/);
      assert.equal(await gw.metrics.value("iamdb_pool_borrow_timeouts_total", { instance: "pg1" }), 1);
      await holder.query("commit");
      // The holder goes on; the pool serves new clients again.
      const next = await client(gw, creds);
      assert.equal((await next.query("select 2 v")).rows[0].v, 2);
      await Promise.all([holder.end(), next.end()]);
    } finally {
      await gw.close();
    }
  });

  it("named prepared statements follow the client to another backend (re-prepared, no 26000 or 42P05)", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 2 });
    try {
      const a = await client(gw, creds);
      const b = await client(gw, creds);
      const q = { name: "who", text: "select pg_backend_pid() pid, $1::int v" };
      const first = await a.query({ ...q, values: [1] });
      // B holds the backend A prepared on (the most recently used idle one).
      await b.query("begin");
      const held = (await b.query("select pg_backend_pid() pid")).rows[0].pid;
      assert.equal(held, first.rows[0].pid);
      const second = await a.query({ ...q, values: [2] });
      assert.notEqual(second.rows[0].pid, first.rows[0].pid);
      assert.equal(second.rows[0].v, 2);
      // B prepares the same name on its own: clients' names never collide.
      const third = await b.query({ name: "who", text: "select 'b'::text v" });
      assert.equal(third.rows[0].v, "b");
      await b.query("commit");
      await Promise.all([a.end(), b.end()]);
    } finally {
      await gw.close();
    }
  });

  it("Describe, Close, DEALLOCATE ALL and DISCARD ALL of statements prepared on another backend", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 2 });
    try {
      const a = await RawClient.connect(gw, creds);
      const holder = await client(gw, creds);
      const prepared = await a.send(parse("s1", "select $1::int + 1 as next, 'x'::text as label"), sync());
      assert.equal(prepared.types, "1Z");
      await holder.query("begin"); // takes the backend s1 was prepared on
      const described = await a.send(describeStatement("s1"), sync());
      assert.equal(described.types, "tTZ", "ParameterDescription, RowDescription, ReadyForQuery");
      // The client's own name again: 42P05 as PostgreSQL says it.
      const duplicate = await a.send(parse("s1", "select 1"), sync());
      assert.equal(errorOf(duplicate)?.C, "42P05");
      assert.match(errorOf(duplicate)?.M ?? "", /"s1" already exists/);
      // An unknown name: 26000 as PostgreSQL says it.
      const unknown = await a.send(bind("nope"), execute(), sync());
      assert.equal(errorOf(unknown)?.C, "26000");
      const closed = await a.send(close("s1"), sync());
      assert.equal(closed.types, "3Z");
      const gone = await a.send(bind("s1"), execute(), sync());
      assert.equal(errorOf(gone)?.C, "26000");
      await a.send(parse("s2", "select 2"), sync());
      assert.equal((await a.send(simple("DEALLOCATE ALL"))).types, "CZ");
      assert.equal(errorOf(await a.send(bind("s2"), execute(), sync()))?.C, "26000");
      assert.equal((await a.send(parse("s2", "select 2"), bind("s2"), execute(), sync())).types, "12DCZ");
      assert.equal((await a.send(simple("DISCARD ALL"))).types.replace(/S/g, ""), "CZ");
      assert.equal(errorOf(await a.send(bind("s2"), execute(), sync()))?.C, "26000");
      assert.equal((await a.send(parse("s2", "select 2"), sync())).types, "1Z");
      await holder.query("commit");
      a.end();
      await holder.end();
      assert.equal(await pinned(gw, "sql-prepare"), 0);
    } finally {
      await gw.close();
    }
  });

  it("TimeZone and search_path are each client's own across a shared backend", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 1 });
    try {
      const a = await client(gw, creds);
      const b = await client(gw, creds);
      const defaults = (
        await b.query("select current_setting('TimeZone') tz, current_setting('search_path') sp")
      ).rows[0];
      await a.query("set timezone = 'Asia/Tokyo'");
      await a.query("set search_path = pg_catalog, public");
      const seenByB = (
        await b.query("select current_setting('TimeZone') tz, current_setting('search_path') sp")
      ).rows[0];
      assert.deepEqual(seenByB, defaults);
      await b.query("set TimeZone = 'America/Denver'");
      const seenByA = (
        await a.query(
          "select current_setting('TimeZone') tz, current_setting('search_path') sp, pg_backend_pid() pid",
        )
      ).rows[0];
      assert.equal(seenByA.tz, "Asia/Tokyo");
      assert.equal(seenByA.sp, "pg_catalog, public");
      const again = (
        await b.query(
          "select current_setting('TimeZone') tz, current_setting('search_path') sp, pg_backend_pid() pid",
        )
      ).rows[0];
      assert.equal(again.tz, "America/Denver");
      assert.equal(again.sp, defaults.sp);
      assert.equal(again.pid, seenByA.pid, "one backend served both");
      await a.query("reset search_path");
      assert.equal((await a.query("show search_path")).rows[0].search_path, defaults.sp);
      assert.equal(await pinned(gw, "set-untracked"), 0);
      await Promise.all([a.end(), b.end()]);
    } finally {
      await gw.close();
    }
  });

  it("a client that leaves mid-transaction: its work is rolled back and its backend never handed over", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 1 });
    try {
      const a = await client(gw, creds);
      await a.query("begin");
      await a.query(`insert into ${TABLE} (client, v) values (-1, -1)`);
      const pid = (await a.query("select pg_backend_pid() pid")).rows[0].pid;
      (a as unknown as { connection: { stream: Socket } }).connection.stream.destroy();
      const b = await client(gw, creds);
      const r = await b.query(
        `select count(*)::int n, pg_backend_pid() pid, now() = statement_timestamp() fresh from ${TABLE} where client = -1`,
      );
      assert.equal(r.rows[0].n, 0);
      assert.notEqual(r.rows[0].pid, pid);
      await eventually(
        () =>
          admin(
            async (c) =>
              (await c.query("select 1 from pg_stat_activity where pid = $1", [pid])).rowCount === 0,
          ),
        "the abandoned backend closed",
      );
      await b.end();
    } finally {
      await gw.close();
    }
  });

  it("a backend killed while a client holds it ends that client only; the pool serves the rest", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 2 });
    try {
      const a = await client(gw, creds);
      const b = await client(gw, creds);
      await a.query("begin");
      const pid = (await a.query("select pg_backend_pid() pid")).rows[0].pid;
      const ended = new Promise<string>((resolve) =>
        a.once("error", (e: { code?: string }) => resolve(e.code ?? "")),
      );
      await admin((c) => c.query("select pg_terminate_backend($1)", [pid]));
      assert.match(await ended, /^(57P01|08006)$/);
      assert.equal((await b.query("select 3 v")).rows[0].v, 3);
      const c = await client(gw, creds);
      assert.notEqual((await c.query("select pg_backend_pid() pid")).rows[0].pid, pid);
      await Promise.all([b.end(), c.end()]);
    } finally {
      await gw.close();
    }
  });

  it("after ALTER TABLE a cached plan's 0A000 is followed by a working retry (statements prepared again)", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 1 });
    try {
      await admin((c) => c.query(`insert into ${TABLE} (client, v) values (7, 7)`));
      const a = await client(gw, creds);
      const q = { name: "all", text: `select * from ${TABLE} where client = 7` };
      assert.equal(Object.keys((await a.query(q)).rows[0]).length, 3);
      await admin((c) => c.query(`alter table ${TABLE} add column extra int`));
      const err = await a.query(q).then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      // As PostgreSQL itself answers a prepared statement whose result type changed.
      assert.equal(err?.code, "0A000");
      assert.equal(Object.keys((await a.query(q)).rows[0]).length, 4);
      const b = await client(gw, creds);
      assert.equal(Object.keys((await b.query(q)).rows[0]).length, 4);
      await Promise.all([a.end(), b.end()]);
    } finally {
      await admin((c) => c.query(`alter table ${TABLE} drop column if exists extra`));
      await admin((c) => c.query(`truncate ${TABLE}`));
      await gw.close();
    }
  });

  describe("pinning", () => {
    const cases: Array<[string, string]> = [
      ["listen", "listen txp_channel"],
      ["advisory-lock", "select pg_advisory_lock(4242)"],
      ["temporary-object", "create temp table txp_scratch (v int)"],
      ["sql-prepare", "prepare txp_p as select 1"],
      ["set-untracked", "set enable_seqscan = off"],
      ["cursor-with-hold", "declare txp_c cursor with hold for select 1"],
      ["set-role", `set role ${USER}`],
    ];
    let gw: TestGateway;
    let creds: Creds;
    before(async () => {
      ({ gw, creds } = await gateway({ maxBackendConnections: 2 }));
    });
    after(async () => {
      await gw?.close();
    });
    for (const [reason, sql] of cases) {
      it(`${reason}: ${sql}`, async () => {
        const c = await client(gw, creds);
        const other = await client(gw, creds);
        await c.query(sql);
        const pid = (await c.query("select pg_backend_pid() pid")).rows[0].pid;
        // Another client's transaction cannot take the pinned backend.
        await other.query("begin");
        assert.notEqual((await other.query("select pg_backend_pid() pid")).rows[0].pid, pid);
        assert.equal((await c.query("select pg_backend_pid() pid")).rows[0].pid, pid);
        await other.query("commit");
        assert.equal(await pinned(gw, reason), 1);
        assert.equal(await gw.metrics.value("iamdb_sessions_pinned", { instance: "pg1" }), 1);
        await Promise.all([c.end(), other.end()]);
        await eventually(
          async () => (await gw.metrics.value("iamdb_sessions_pinned", { instance: "pg1" })) === 0,
          "the pinned gauge back to 0",
        );
        // The pinned backend carried state: it is closed, not shared.
        await eventually(
          () =>
            admin(
              async (a) =>
                (await a.query("select 1 from pg_stat_activity where pid = $1", [pid])).rowCount === 0,
            ),
          "the pinned backend closed",
        );
      });
    }
  });

  it("cancel reaches the backend running the client's query", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 2 });
    try {
      const a = await client(gw, creds);
      const running = a.query("select pg_sleep(30)").then(
        () => undefined,
        (e: { code?: string }) => e,
      );
      await eventually(
        () =>
          admin(
            async (c) =>
              (
                await c.query(
                  "select 1 from pg_stat_activity where query like 'select pg_sleep(30)%' and usename = $1",
                  [USER],
                )
              ).rowCount === 1,
          ),
        "the query running",
      );
      await cancelVia(gw.port, a);
      assert.equal((await running)?.code, "57014");
      assert.equal((await a.query("select 1 v")).rows[0].v, 1);
      await a.end();
    } finally {
      await gw.close();
    }
  });

  it("terminating a session ends it whether or not it holds a backend", async () => {
    const { gw, creds } = await gateway({ maxBackendConnections: 2 });
    try {
      const idle = await client(gw, creds);
      const busy = await client(gw, creds);
      await busy.query("begin");
      const ended = (c: pg.Client) =>
        new Promise<string>((resolve) => c.once("error", (e: { code?: string }) => resolve(e.code ?? "")));
      const idleEnded = ended(idle);
      const busyEnded = ended(busy);
      const n = gw.gateway.live.terminateLocal({ dbUser: USER }, { kind: "terminated", reason: "test" });
      assert.equal(n, 2);
      assert.equal(await idleEnded, "57P01");
      assert.equal(await busyEnded, "57P01");
      await eventually(async () => (await backendCount()) <= 1, "the busy backend closed");
    } finally {
      await gw.close();
    }
  });
});
