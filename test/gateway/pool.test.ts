// Backend connection reuse (pgbouncer's session mode): a client that leaves with its backend
// idle hands the logged-in connection, reset with DISCARD ALL, to the next authenticated
// client with the same user, database and startup parameters. Against the machine's
// PostgreSQL; backend processes are told apart by pg_backend_pid().
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { generateAuthToken } from "../../src/index.js";
import { newDbPassword } from "../../src/instances/accounts.js";
import { cancelVia, parameterStatuses, pgClient, psql } from "./clients.js";
import { MACHINE_PG, REGION, startTestGateway, type TestGateway } from "./fixture.js";

const USER = "iamdb_pool";
let gw: TestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };

const token = (g = gw, credentials = creds) =>
  generateAuthToken({ hostname: "localhost", port: g.port, username: USER, region: REGION, credentials });

async function admin<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ ...MACHINE_PG, user: MACHINE_PG.adminUser });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

const alive = (pid: number) =>
  admin(async (c) => (await c.query("select 1 from pg_stat_activity where pid = $1", [pid])).rowCount === 1);

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`never happened: ${what}`);
}

/** Connects through `g`, runs `work`, ends the session politely (Terminate); returns the backend pid. */
async function session(
  work: (c: pg.Client) => Promise<void> = async () => undefined,
  g = gw,
  extra: Partial<pg.ClientConfig> = {},
  credentials = creds,
): Promise<number> {
  const c = pgClient(g.port, USER, token(g, credentials), g.caPem, extra);
  await c.connect();
  try {
    const pid = (await c.query("select pg_backend_pid() pid")).rows[0].pid as number;
    await work(c);
    return pid;
  } finally {
    await c.end();
  }
}

/** The pid of the next session, once the gateway has had time to reset and pool the last one. */
async function nextPid(g = gw, extra: Partial<pg.ClientConfig> = {}): Promise<number> {
  await sleep(100);
  return session(undefined, g, extra);
}

before(async () => {
  gw = await startTestGateway();
  creds = await gw.userWithAccess("pool-user", USER);
  await gw.provision(USER);
});

after(async () => {
  await gw?.close();
});

describe("backend connection reuse", () => {
  it("the next client with the same startup parameters gets the same backend, with nothing of the last session left", async () => {
    const first = await session(async (c) => {
      await c.query("create temp table scratch (v int)");
      await c.query("set search_path = pg_catalog");
      await c.query("prepare stmt as select 1");
      await c.query("select pg_advisory_lock(4242)");
      await c.query("listen somewhere");
    });
    await sleep(100);
    const c = pgClient(gw.port, USER, token(), gw.caPem);
    await c.connect();
    try {
      const r = await c.query(`select pg_backend_pid() pid,
        current_setting('search_path') search_path,
        (select count(*)::int from pg_prepared_statements) prepared,
        (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) locks,
        (select count(*)::int from pg_listening_channels()) listening,
        to_regclass('pg_temp.scratch') is null no_temp`);
      assert.deepEqual(r.rows[0], {
        pid: first,
        search_path: '"$user", public',
        prepared: 0,
        locks: 0,
        listening: 0,
        no_temp: true,
      });
    } finally {
      await c.end();
    }
  });

  it("a client gets the backend's ParameterStatus values and its own cancel key on a reused backend", async () => {
    const first = await session();
    const c = pgClient(gw.port, USER, token(), gw.caPem);
    const seen = parameterStatuses(c);
    await sleep(100);
    await c.connect();
    try {
      assert.equal((await c.query("select pg_backend_pid() pid")).rows[0].pid, first);
      for (const name of [
        "server_version",
        "client_encoding",
        "DateStyle",
        "TimeZone",
        "integer_datetimes",
      ]) {
        const shown = (await c.query(`select current_setting('${name}') v`)).rows[0].v;
        assert.equal(seen.get(name), shown, `ParameterStatus ${name}`);
      }
      // Cancel still reaches this session's backend, through the key we issued for this session.
      const running = c.query("select pg_sleep(30)").then(
        () => "finished",
        (e: { code?: string }) => e.code,
      );
      await sleep(200);
      await cancelVia(gw.port, c);
      const cancelled = (await running) === "57014";
      assert.equal(cancelled, true, "the query was cancelled");
    } finally {
      await c.end();
    }
  });

  it("a SET in one session is gone in the next, and the ParameterStatus it changed is reported again as it is", async () => {
    await session(async (c) => {
      await c.query("set DateStyle = 'German'");
    });
    const c = pgClient(gw.port, USER, token(), gw.caPem);
    const seen = parameterStatuses(c);
    await sleep(100);
    await c.connect();
    try {
      assert.equal((await c.query("select current_setting('DateStyle') v")).rows[0].v, "ISO, MDY");
      assert.equal(seen.get("DateStyle"), "ISO, MDY");
    } finally {
      await c.end();
    }
  });

  it("psql's sessions (Terminate at the end) are reused too", async () => {
    const conninfo = `host=localhost port=${gw.port} user=${USER} dbname=test sslmode=verify-full sslrootcert=${gw.caFile}`;
    const a = await psql(conninfo, "select pg_backend_pid()", token());
    assert.equal(a.code, 0, a.stderr);
    await sleep(100);
    const b = await psql(conninfo, "select pg_backend_pid()", token());
    assert.equal(b.code, 0, b.stderr);
    assert.equal(b.stdout, a.stdout);
  });

  it("/metrics counts sessions on new backend logins and on reused backends", async () => {
    const count = async (name: string) =>
      Number(new RegExp(`${name}\\{instance="pg1"\\} (\\d+)`).exec(await gw.metrics.render())?.[1]);
    const logins = await count("iamdb_backend_logins_total");
    const reused = await count("iamdb_backend_reused_total");
    await nextPid(gw, { application_name: "metrics-a-fresh-key" });
    assert.equal(await count("iamdb_backend_logins_total"), logins + 1);
    await nextPid(gw, { application_name: "metrics-a-fresh-key" });
    assert.equal(await count("iamdb_backend_reused_total"), reused + 1);
    assert.equal(await count("iamdb_backend_logins_total"), logins + 1);
  });

  it("other startup parameters get another backend; a client without application_name never shares with one that has it", async () => {
    const plain = await session();
    const named = await nextPid(gw, { application_name: "reporting" });
    assert.notEqual(named, plain);
    assert.equal(await nextPid(gw, { application_name: "reporting" }), named);
    const options = await nextPid(gw, { options: "-c work_mem=5MB" });
    assert.notEqual(options, plain);
    assert.notEqual(options, named);
    assert.equal(await nextPid(gw), plain);
  });

  it("application_name is applied after reuse (SET), and the client is told its own in ParameterStatus", async () => {
    const first = await nextPid(gw, { application_name: "app-one" });
    for (const name of ["app-two", "it's \\ quoted", "app-one"]) {
      await sleep(100);
      const c = pgClient(gw.port, USER, token(), gw.caPem, { application_name: name });
      const seen = parameterStatuses(c);
      await c.connect();
      try {
        const row = (await c.query("select pg_backend_pid() pid, current_setting('application_name') v"))
          .rows[0];
        assert.equal(row.pid, first, "the same backend");
        assert.equal(row.v, name);
        assert.equal(seen.get("application_name"), name);
        const shown = await admin(
          async (a) =>
            (await a.query("select application_name from pg_stat_activity where pid = $1", [first])).rows[0]
              ?.application_name,
        );
        assert.equal(shown, name, "pg_stat_activity shows the client's name");
      } finally {
        await c.end();
      }
    }
  });

  it("a client that leaves inside a transaction or with a query running: its backend is closed, never reused", async () => {
    const inTx = pgClient(gw.port, USER, token(), gw.caPem);
    await inTx.connect();
    await inTx.query("begin");
    const txPid = (await inTx.query("select pg_backend_pid() pid")).rows[0].pid;
    await inTx.end(); // Terminate inside a transaction
    await eventually(async () => !(await alive(txPid)), "the backend left in a transaction is closed");

    const busy = pgClient(gw.port, USER, token(), gw.caPem);
    await busy.connect();
    const busyPid = (await busy.query("select pg_backend_pid() pid")).rows[0].pid;
    busy.on("error", () => undefined);
    // The backend notices the closed connection when the query ends, as it would with a direct client.
    busy.query("select pg_sleep(1)").catch(() => undefined);
    await sleep(200);
    (busy as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await eventually(async () => !(await alive(busyPid)), "the busy backend is closed");
    assert.notEqual(await nextPid(), busyPid);
  });

  it("a client that leaves mid extended query (Parse, no Sync): its backend is closed, never reused", async () => {
    const c = pgClient(gw.port, USER, token(), gw.caPem);
    await c.connect();
    const pid = (await c.query("select pg_backend_pid() pid")).rows[0].pid;
    const connection = (
      c as unknown as {
        connection: {
          parse(q: { name: string; text: string; types: number[] }): void;
          flush(): void;
          once(e: string, f: () => void): void;
          removeAllListeners(e: string): void;
          stream: { destroy(): void };
        };
      }
    ).connection;
    // pg's client does not expect a ParseComplete it did not ask for: this test takes it.
    connection.removeAllListeners("parseComplete");
    const parsed = new Promise<void>((resolve) => connection.once("parseComplete", resolve));
    connection.parse({ name: "", text: "select 1", types: [] });
    connection.flush();
    await parsed; // the backend answered: only the Sync is missing
    c.on("error", () => undefined);
    connection.stream.destroy();
    await eventually(async () => !(await alive(pid)), "the backend left mid extended query is closed");
  });

  it("a client that resets while idle: its backend is reset and reused", async () => {
    const c = pgClient(gw.port, USER, token(), gw.caPem);
    await c.connect();
    await c.query("create temp table left_behind (v int)");
    const pid = (await c.query("select pg_backend_pid() pid")).rows[0].pid;
    c.on("error", () => undefined);
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await eventually(async () => gw.metrics.activeSessions("pg1") === 0, "the gateway ends the session");
    const next = pgClient(gw.port, USER, token(), gw.caPem);
    await next.connect();
    try {
      const r = await next.query("select pg_backend_pid() pid, to_regclass('pg_temp.left_behind') t");
      assert.deepEqual(r.rows[0], { pid, t: null });
    } finally {
      await next.end();
    }
  });

  it("a pooled backend that is terminated while idle is dropped; the next client logs in afresh", async () => {
    const pid = await session();
    await sleep(100);
    await admin((c) => c.query("select pg_terminate_backend($1)", [pid]));
    await eventually(async () => !(await alive(pid)), "the backend is gone");
    await sleep(100);
    const next = await session();
    assert.notEqual(next, pid);
  });

  it("a rotated gateway-held password never reuses a connection logged in with the old one", async () => {
    const before = await session();
    const password = newDbPassword();
    await admin((c) => c.query(`alter role ${USER} password '${password}'`));
    await gw.accounts.put("pg1", USER, password);
    const after = await nextPid();
    assert.notEqual(after, before);
    assert.equal(await nextPid(), after);
  });

  it("pooled connections close after the idle timeout, and when the gateway stops", async () => {
    const short = await startTestGateway({ limits: { backendPoolIdleTimeoutMs: 300 } });
    const shortCreds = await short.userWithAccess("pool-user", USER);
    const stopping = await startTestGateway();
    const stoppingCreds = await stopping.userWithAccess("pool-user", USER);
    try {
      await short.accounts.put("pg1", USER, (await gw.accounts.password("pg1", USER)) as string);
      await stopping.accounts.put("pg1", USER, (await gw.accounts.password("pg1", USER)) as string);
      const idlePid = await session(undefined, short, {}, shortCreds);
      await sleep(100);
      assert.equal(await alive(idlePid), true, "pooled after the session");
      await eventually(async () => !(await alive(idlePid)), "closed after the idle timeout");

      const pid = await session(undefined, stopping, {}, stoppingCreds);
      await sleep(100);
      assert.equal(await alive(pid), true, "pooled after the session");
      await stopping.gateway.stop(0);
      await eventually(async () => !(await alive(pid)), "closed when the gateway stops");
    } finally {
      await short.close();
      await stopping.close();
    }
  });

  it("a backend marked reuseConnections: false (the embedded server) is never pooled", async () => {
    const shared = await startTestGateway({ backend: { ...MACHINE_PG, reuseConnections: false } });
    try {
      const sharedCreds = await shared.userWithAccess("pool-user", USER);
      await shared.accounts.put("pg1", USER, (await gw.accounts.password("pg1", USER)) as string);
      const pid = await session(undefined, shared, {}, sharedCreds);
      await eventually(async () => !(await alive(pid)), "the backend is closed with the session");
    } finally {
      await shared.close();
    }
  });

  it("with backendPoolMaxIdle 0 every session gets its own backend, closed at its end", async () => {
    const off = await startTestGateway({ limits: { backendPoolMaxIdle: 0 } });
    try {
      const offCreds = await off.userWithAccess("pool-user", USER);
      await off.accounts.put("pg1", USER, (await gw.accounts.password("pg1", USER)) as string);
      const pid = await session(undefined, off, {}, offCreds);
      await eventually(async () => !(await alive(pid)), "the backend is closed with the session");
    } finally {
      await off.close();
    }
  });
});
