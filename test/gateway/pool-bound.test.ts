// The backend pool may not starve the database (issue 19, finding 6): one principal opening
// and closing sessions with ever new startup parameters used to leave an idle connection per
// combination, until the server answered everyone (other DB users, clients not using iamdb)
// with 53300. A throwaway cluster with max_connections = 20 (17 for ordinary roles).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import type { BackendSpec } from "../../src/instances/types.js";
import { type PgCluster, startPgCluster } from "../helpers/pg-cluster.js";
import { pgClient } from "./clients.js";
import { startTestGateway, type TestGateway } from "./fixture.js";

const A = "iamdb_gw_pool_a";
const B = "iamdb_gw_pool_b";
const DIRECT = "iamdb_gw_pool_direct";
let cluster: PgCluster;
let spec: BackendSpec;

async function superuser<T>(work: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({
    host: "127.0.0.1",
    port: cluster.port,
    user: "postgres",
    password: cluster.superuserPassword,
    database: "postgres",
  });
  await c.connect();
  try {
    return await work(c);
  } finally {
    await c.end();
  }
}

/** Backend connections of `user` by state. */
async function connections(user: string): Promise<{ idle: number; all: number }> {
  return superuser(async (c) => {
    const r = await c.query<{ idle: string; all: string }>(
      "select count(*) filter (where state = 'idle') idle, count(*) \"all\" from pg_stat_activity where usename = $1",
      [user],
    );
    return { idle: Number(r.rows[0]?.idle), all: Number(r.rows[0]?.all) };
  });
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`never happened: ${what}`);
}

/** One session through `gw` as `user`: a query, then Terminate; the backend pid. */
async function session(
  gw: TestGateway,
  user: string,
  creds: { accessKeyId: string; secretAccessKey: string },
  extra: Partial<pg.ClientConfig> = {},
): Promise<number> {
  const token = gw.token(user, creds);
  const c = pgClient(gw.port, user, token, gw.caPem, { database: "postgres", ...extra });
  await c.connect();
  try {
    return (await c.query("select pg_backend_pid() pid")).rows[0].pid as number;
  } finally {
    await c.end();
  }
}

before(async () => {
  cluster = await startPgCluster({
    settings: { max_connections: "20", superuser_reserved_connections: "3" },
  });
  spec = {
    host: "127.0.0.1",
    port: cluster.port,
    database: "postgres",
    tls: "disable",
    adminUser: "postgres",
    adminPassword: cluster.superuserPassword,
  };
  await cluster.sql([`CREATE ROLE ${DIRECT} LOGIN PASSWORD 'direct-pw'`]);
});

after(async () => {
  await cluster?.stop();
});

describe("the backend pool's total bound", () => {
  it("one principal cycling through application_names and startup options cannot hold more than the bound idle; other users still log in", async () => {
    const gw = await startTestGateway({ backend: spec });
    try {
      const credsA = await gw.userWithAccess("pool-a", A);
      const credsB = await gw.userWithAccess("pool-b", B);
      await gw.provision(A);
      await gw.provision(B);
      // 40 application_names: one backend connection, its name set for each session.
      for (let i = 0; i < 40; i++) {
        await session(gw, A, credsA, { application_name: `cycle-${i}` });
        await sleep(20);
      }
      await eventually(async () => (await connections(A)).all <= 1, "one pooled connection for every name");
      // 40 distinct startup options, each its own key: at most the bound stays idle.
      for (let i = 0; i < 40; i++) {
        await session(gw, A, credsA, { options: `-c work_mem=${1024 + i}kB` });
        await sleep(20);
      }
      // auto: half of the 17 connections ordinary roles may have.
      await eventually(async () => (await connections(A)).idle <= 8, "idle connections within the bound");
      assert.ok((await connections(A)).idle >= 1, "the pool still pools");
      // Another DB user through the gateway, and a client that does not use iamdb at all.
      await session(gw, B, credsB);
      const direct = new pg.Client({
        host: "127.0.0.1",
        port: cluster.port,
        user: DIRECT,
        password: "direct-pw",
        database: "postgres",
      });
      await direct.connect();
      await direct.end();
      assert.ok(!gw.log().some((l) => l.decision === "failure"), gw.logText());
    } finally {
      await gw.close();
    }
    await eventually(
      async () => (await connections(A)).all === 0,
      "pooled connections closed with the gateway",
    );
  });

  it("a server out of slots (53300) while the pool holds idle connections: the least recently used goes, and the login succeeds", async () => {
    // A bound above what the server allows: only the eviction on 53300 saves the next login.
    const gw = await startTestGateway({ backend: spec, limits: { backendPoolMaxIdleTotal: 100 } });
    try {
      const credsA = await gw.userWithAccess("pool-a", A);
      await gw.provision(A);
      const pids: number[] = [];
      for (let i = 0; i < 17; i++) {
        pids.push(await session(gw, A, credsA, { options: `-c work_mem=${2048 + i}kB` }));
        await sleep(20);
      }
      await eventually(async () => (await connections(A)).idle === 17, "every ordinary slot held idle");
      const pid = await session(gw, A, credsA, { options: "-c work_mem=9999kB" });
      assert.ok(!pids.includes(pid), "a new backend login");
      // The least recently used (the first) went; the one pooled last is still there.
      const alive = await superuser(async (c) =>
        (await c.query<{ pid: number }>("select pid from pg_stat_activity where usename = $1", [A])).rows.map(
          (r) => r.pid,
        ),
      );
      assert.ok(!alive.includes(pids[0] as number), "the least recently used was evicted");
      assert.ok(alive.includes(pids[16] as number), "the most recently used stays");
      assert.ok(!gw.log().some((l) => l.decision === "failure"), gw.logText());
    } finally {
      await gw.close();
    }
  });
});
