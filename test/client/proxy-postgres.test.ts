// `iamdb proxy` for PostgreSQL end to end: a real iamdb gateway in front of the machine's
// PostgreSQL, the proxy in process, real psql / pgbench / pg as local clients with no password.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import pg from "pg";
import type { RunningProxy } from "../../src/client/proxy/proxy.js";
import { startTestGateway, type TestGateway } from "../gateway/fixture.js";
import { kitName, opLog, psqlNoPassword, startForward, startKitProxy } from "./helpers.js";

const run = promisify(execFile);
let gw: TestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };
const dbUser = kitName();
const proxies: RunningProxy[] = [];

async function proxy(
  extra: Parameters<typeof startKitProxy>[0] = {},
  o: Parameters<typeof startKitProxy>[2] = {},
) {
  const p = await startKitProxy(
    {
      engine: "postgres",
      target: `127.0.0.1:${gw.port}`,
      tokenHost: `localhost:${gw.port}`,
      listen: "127.0.0.1:0",
      username: dbUser,
      caFile: gw.caFile,
      ...extra,
    },
    creds,
    o,
  );
  proxies.push(p);
  return p;
}

const portOf = (p: RunningProxy) => p.listeners[0]?.port as number;

before(async () => {
  gw = await startTestGateway();
  creds = await gw.userWithAccess(kitName("kitiam"), dbUser);
  await gw.provision(dbUser);
});

after(async () => {
  try {
    for (const p of proxies) await p.stop(0);
  } finally {
    await gw.close();
  }
  const text = opLog.join("");
  assert.ok(!text.includes(creds.secretAccessKey), "the secret key reached the operational log");
  assert.ok(!text.includes("X-Amz-Signature"), "a token reached the operational log");
});

describe("iamdb proxy (PostgreSQL)", () => {
  it("psql -w with no password logs in through the proxy to the iamdb gateway", async () => {
    const p = await proxy();
    const r = await psqlNoPassword(
      `host=127.0.0.1 port=${portOf(p)} dbname=test user=${dbUser}`,
      "select current_user",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, dbUser);
    const last = gw.log().at(-1);
    assert.equal(last?.decision, "success");
  });

  it("logs in as --username whatever user the client names, and ignores a password it sends", async () => {
    const p = await proxy();
    const c = new pg.Client({
      host: "127.0.0.1",
      port: portOf(p),
      user: "someone_else",
      database: "test",
      password: "ignored",
    });
    await c.connect();
    try {
      const r = await c.query("select current_user as u, 1 + 1 as two");
      assert.deepEqual(r.rows[0], { u: dbUser, two: 2 });
    } finally {
      await c.end();
    }
  });

  it("signs once for many logins: pgbench -C through the proxy", async () => {
    const p = await proxy();
    const signed = () => p.metrics.registry.getSingleMetric("iamdb_proxy_tokens_signed_total")?.get();
    const before = (await signed())?.values[0]?.value;
    const dir = mkdtempSync(join(tmpdir(), "kit-bench-"));
    const script = join(dir, "select.sql");
    writeFileSync(script, "select 1;\n");
    const { stdout } = await run(
      "pgbench",
      [
        "-n",
        "-C",
        "-t",
        "20",
        "-c",
        "2",
        "-f",
        script,
        "-h",
        "127.0.0.1",
        "-p",
        String(portOf(p)),
        "-U",
        dbUser,
        "test",
      ],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", PGCONNECT_TIMEOUT: "10" },
        timeout: 120_000,
      },
    )
      .catch((err: { stderr?: string }) => {
        throw new Error(`pgbench failed: ${err.stderr ?? ""}`);
      })
      .finally(() => rmSync(dir, { recursive: true, force: true }));
    assert.match(stdout, /number of transactions actually processed: 40\/40/);
    const logins = (
      await p.metrics.registry.getSingleMetric("iamdb_proxy_target_logins_total")?.get()
    )?.values.find((v) => v.labels.result === "success")?.value;
    assert.ok((logins ?? 0) >= 40, `expected 40 logins, saw ${logins}`);
    // One token at start; the 40 logins reuse it.
    assert.equal((await signed())?.values[0]?.value, before);
    // And the TLS sessions to the gateway are resumed, not renegotiated in full each time.
    const tls = (await p.metrics.registry.getSingleMetric("iamdb_proxy_target_tls_handshakes_total")?.get())
      ?.values;
    const resumed = tls?.find((v) => v.labels.handshake === "resumed")?.value ?? 0;
    assert.ok(resumed >= 30, `only ${resumed} of 40 TLS handshakes were resumed`);
  });

  it("over a Unix socket named .s.PGSQL.PORT in --unix-socket-dir, mode 0600 (psql host=DIR)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kit-sock-"));
    try {
      const p = await proxy({ unixSocketDir: dir });
      const path = p.listeners[0]?.socketPath as string;
      assert.equal(path, join(dir, `.s.PGSQL.${portOf(p)}`));
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const r = await psqlNoPassword(
        `host=${dir} port=${portOf(p)} dbname=test user=${dbUser}`,
        "select current_user",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, dbUser);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("through a port-forward: refused when the token names the forward, logged in with --token-host", async () => {
    const fwd = await startForward({ host: "127.0.0.1", port: gw.port });
    try {
      // The naive setup: the token (and certificate check) for 127.0.0.1:FORWARD, not the endpoint.
      const naive = await proxy(
        { target: `127.0.0.1:${fwd.port}`, tokenHost: undefined },
        { options: { signAtStart: false } },
      );
      const bad = await psqlNoPassword(`host=127.0.0.1 port=${portOf(naive)} dbname=test`, "select 1");
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /PAM authentication failed/);
      assert.match(bad.stderr, /--token-host/);
      assert.equal(gw.log().at(-1)?.cause, "port-mismatch");

      const good = await proxy({ target: `127.0.0.1:${fwd.port}`, tokenHost: `localhost:${gw.port}` });
      const r = await psqlNoPassword(
        `host=127.0.0.1 port=${portOf(good)} dbname=test`,
        "select current_user",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, dbUser);
    } finally {
      await fwd.close();
    }
  });

  it("a refused token reaches psql as the server's FATAL with a hint naming rds-db:connect", async () => {
    const nobody = await gw.userWithAccess(kitName("kitiam"), "kit_someone_else_entirely");
    const p = await startKitProxy(
      {
        engine: "postgres",
        target: `127.0.0.1:${gw.port}`,
        tokenHost: `localhost:${gw.port}`,
        listen: "127.0.0.1:0",
        username: dbUser,
        caFile: gw.caFile,
      },
      nobody,
    );
    proxies.push(p);
    const r = await psqlNoPassword(`host=127.0.0.1 port=${portOf(p)} dbname=test`, "select 1");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, new RegExp(`PAM authentication failed for user "${dbUser}"`));
    assert.match(r.stderr, /rds-db:connect to arn:aws:rds-db:us-east-1:<account>:dbuser:<DbiResourceId>\//);
    assert.match(r.stderr, new RegExp(nobody.accessKeyId));
    // Refused twice: the cached token, then a newly signed one.
    const retries = (await p.metrics.registry.getSingleMetric("iamdb_proxy_login_retries_total")?.get())
      ?.values[0]?.value;
    assert.equal(retries, 1);
    assert.ok(!r.stderr.includes(nobody.secretAccessKey));
  });

  it("an unreachable target: the client is told to check --target", async () => {
    const p = await proxy({ target: "127.0.0.1:1", tokenHost: "localhost:1" });
    const r = await psqlNoPassword(`host=127.0.0.1 port=${portOf(p)} dbname=test`, "select 1");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /iamdb proxy: target 127\.0\.0\.1:1 is unreachable.*check --target/);
  });

  it("a certificate that does not name --token-host is refused (verify-full)", async () => {
    const p = await proxy({ tokenHost: `db.example.com:${gw.port}` }, { options: { signAtStart: false } });
    const r = await psqlNoPassword(`host=127.0.0.1 port=${portOf(p)} dbname=test`, "select 1");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /TLS to db\.example\.com failed/);
    assert.match(r.stderr, /--ca-file/);
  });

  it("--max-connections: the next client gets PostgreSQL's 53300, the open ones carry on", async () => {
    const p = await proxy({}, { maxConnections: 1 });
    const c = new pg.Client({ host: "127.0.0.1", port: portOf(p), database: "test" });
    await c.connect();
    try {
      const r = await psqlNoPassword(`host=127.0.0.1 port=${portOf(p)} dbname=test`, "select 1");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /too many connections: the iamdb proxy allows 1 at once \(--max-connections\)/);
      assert.equal((await c.query("select 1 as one")).rows[0]?.one, 1);
    } finally {
      await c.end();
    }
  });

  it("/healthz, /readyz and /metrics on --ops", async () => {
    const p = await proxy({}, { ops: true });
    const get = async (path: string) => {
      const res = await fetch(`${p.opsUrl}${path}`);
      return { status: res.status, text: await res.text() };
    };
    assert.deepEqual(await get("/healthz"), { status: 200, text: "ok\n" });
    assert.deepEqual(await get("/readyz"), { status: 200, text: "ready\n" });
    await psqlNoPassword(`host=127.0.0.1 port=${portOf(p)} dbname=test`, "select 1");
    const m = await get("/metrics");
    assert.equal(m.status, 200);
    assert.match(m.text, /iamdb_proxy_target_logins_total\{target="[^"]+",result="success"\} 1/);
    assert.match(m.text, /iamdb_proxy_tokens_signed_total\{target="[^"]+"\} 1/);
    assert.ok(!m.text.includes("X-Amz"));
  });

  it("stop() drains: an open session finishes its query, new connections are refused, then it closes", async () => {
    const p = await proxy();
    const c = new pg.Client({ host: "127.0.0.1", port: portOf(p), database: "test" });
    await c.connect();
    c.on("error", () => undefined);
    const query = c.query("select pg_sleep(0.5), 'done' as d");
    const stopped = p.stop(10_000);
    const r = await query;
    assert.equal(r.rows[0]?.d, "done");
    const refused = await psqlNoPassword(`host=127.0.0.1 port=${portOf(p)} dbname=test`, "select 1");
    assert.notEqual(refused.code, 0);
    await c.end();
    await stopped;
    assert.equal(p.connections, 0);
  });
});
