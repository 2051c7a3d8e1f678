// The PostgreSQL gateway end to end: real psql, real pg, real aws CLI tokens, the machine's
// PostgreSQL behind it. Every refusal: 28000 on the wire, the exact cause in the auth log.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import { promisify } from "node:util";
import pg from "pg";
import { generateAuthToken } from "../../src/index.js";
import { awsAuthToken } from "../helpers/aws.js";
import {
  cancelVia,
  errorFields,
  pgClient,
  psql,
  raw,
  readUntilClose,
  refusal,
  SSL_REQUEST,
  startupMessage,
  startupPacket,
} from "./clients.js";
import { ACCOUNT, REGION, startTestGateway, type TestGateway } from "./fixture.js";

const run = promisify(execFile);
let gw: TestGateway;
let jane: { accessKeyId: string; secretAccessKey: string };
const secrets: string[] = [];

function token(
  user = "iamdb_jane",
  o: { port?: number; at?: Date; credentials?: typeof jane; host?: string } = {},
): string {
  const t = generateAuthToken({
    hostname: o.host ?? "localhost",
    port: o.port ?? gw.port,
    username: user,
    region: REGION,
    credentials: o.credentials ?? jane,
    ...(o.at ? { signingDate: o.at } : {}),
  });
  secrets.push(t);
  return t;
}

async function refused(
  user: string,
  password: string,
): Promise<{ code: string; message: string; cause: unknown }> {
  const before = gw.log().length;
  const r = await refusal(pgClient(gw.port, user, password, gw.caPem));
  const entry = gw
    .log()
    .slice(before)
    .find((l) => l.decision === "failure");
  return { ...r, cause: entry?.cause };
}

before(async () => {
  gw = await startTestGateway();
  jane = await gw.userWithAccess("jane", "iamdb_jane");
  secrets.push(jane.secretAccessKey);
  await gw.provision("iamdb_jane");
  await gw.provision("iamdb_bob");
});

after(async () => {
  await gw.close();
});

describe("PostgreSQL gateway: sessions", () => {
  it("psql with sslmode=verify-full and a token from the real aws CLI lands in a PostgreSQL session", async () => {
    const t = await awsAuthToken(
      { hostname: "localhost", port: gw.port, username: "iamdb_jane", region: REGION },
      jane,
    );
    secrets.push(t);
    const r = await psql(
      `host=localhost port=${gw.port} sslmode=verify-full sslrootcert=${gw.caFile} dbname=test user=iamdb_jane`,
      "select current_user || ' ' || current_database()",
      t,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "iamdb_jane test");
  });

  it("pg with an iamdb token: queries, startup parameters carried, our BackendKeyData not the backend's", async () => {
    const c = pgClient(gw.port, "iamdb_jane", token(), gw.caPem, { application_name: "iamdb-test" });
    const statuses: string[] = [];
    (
      c as unknown as { connection: { on(e: string, f: (m: { parameterName: string }) => void): void } }
    ).connection.on("parameterStatus", (m) => statuses.push(m.parameterName));
    await c.connect();
    try {
      const r = await c.query("select current_setting('application_name') app, pg_backend_pid() pid");
      assert.equal(r.rows[0].app, "iamdb-test");
      assert.notEqual((c as unknown as { processID: number }).processID, r.rows[0].pid);
      // The backend's ParameterStatus messages reached the client.
      for (const name of ["server_version", "client_encoding", "application_name"])
        assert.ok(statuses.includes(name), name);
    } finally {
      await c.end();
    }
  });

  it("a pg Pool with a password function gets a fresh token per connection; a token may be reused", async () => {
    const pool = new pg.Pool({
      host: "localhost",
      port: gw.port,
      user: "iamdb_jane",
      database: "test",
      ssl: { ca: gw.caPem },
      password: async () => token(),
      max: 4,
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => pool.query("select $1::int n", [i])),
      );
      assert.deepEqual(
        results.map((r) => r.rows[0].n),
        [0, 1, 2, 3, 4, 5, 6, 7],
      );
    } finally {
      await pool.end();
    }
    const reused = token();
    for (let i = 0; i < 2; i++) {
      const c = pgClient(gw.port, "iamdb_jane", reused, gw.caPem);
      await c.connect();
      await c.end();
    }
  });

  it("a session outlives its token", async () => {
    const c = pgClient(
      gw.port,
      "iamdb_jane",
      token("iamdb_jane", { at: new Date(Date.now() - 899_000) }),
      gw.caPem,
    );
    await c.connect();
    try {
      await sleep(2_000);
      assert.equal((await c.query("select 1 as one")).rows[0].one, 1);
    } finally {
      await c.end();
    }
  });

  it("relays a large result and a large insert intact", async () => {
    const c = pgClient(gw.port, "iamdb_jane", token(), gw.caPem);
    await c.connect();
    try {
      const r = await c.query(
        "select repeat('x', 5 * 1024 * 1024) big, md5(repeat('x', 5 * 1024 * 1024)) sum",
      );
      assert.equal(r.rows[0].big.length, 5 * 1024 * 1024);
      const big = "y".repeat(4 * 1024 * 1024);
      const back = await c.query("select md5($1) sum, length($1) n", [big]);
      assert.equal(back.rows[0].n, big.length);
    } finally {
      await c.end();
    }
  });

  it("query cancel reaches the backend through the gateway's own key", async () => {
    const c = pgClient(gw.port, "iamdb_jane", token(), gw.caPem);
    await c.connect();
    try {
      const slow = c.query("select pg_sleep(20)").then(
        () => "finished",
        (e: { code?: string }) => e.code,
      );
      await sleep(300);
      await cancelVia(gw.port, c);
      assert.equal(await slow, "57014");
    } finally {
      await c.end();
    }
  });

  it("pgbench runs through the gateway with TLS and a token, one login per client", async () => {
    const script = join(gw.dir, "select.sql");
    writeFileSync(script, "SELECT 1;\n");
    const { stdout } = await run(
      "pgbench",
      [
        "-n",
        "-h",
        "localhost",
        "-p",
        String(gw.port),
        "-U",
        "iamdb_jane",
        "-c",
        "4",
        "-j",
        "2",
        "-t",
        "50",
        "-f",
        script,
        "test",
      ],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          PGPASSWORD: token(),
          PGSSLMODE: "verify-full",
          PGSSLROOTCERT: gw.caFile,
        },
        timeout: 60_000,
      },
    );
    assert.match(stdout, /number of transactions actually processed: 200\/200/);
  });

  it("metrics count requests, successes and failures by instance", async () => {
    const text = await gw.metrics.render();
    assert.match(text, /iam_db_auth_connection_requests_total\{instance="pg1"\} [1-9]/);
    assert.match(text, /iam_db_auth_connection_success_total\{instance="pg1"\} [1-9]/);
  });
});

describe("PostgreSQL gateway: every refusal is PAM failure 28000 with the cause in the log", () => {
  const pam = /PAM authentication failed for user "(iamdb_jane|iamdb_bob|iamdb_nobody)"/;

  it("expired token", async () => {
    const r = await refused("iamdb_jane", token("iamdb_jane", { at: new Date(Date.now() - 901_000) }));
    assert.equal(r.code, "28000");
    assert.match(r.message, pam);
    assert.equal(r.cause, "expired");
  });

  it("token for another user, port, or host", async () => {
    assert.equal((await refused("iamdb_bob", token("iamdb_jane"))).cause, "user-mismatch");
    assert.equal(
      (await refused("iamdb_jane", token("iamdb_jane", { port: gw.port + 1 }))).cause,
      "port-mismatch",
    );
    assert.equal(
      (await refused("iamdb_jane", token("iamdb_jane", { host: "db.other.example" }))).cause,
      "host-mismatch",
    );
  });

  it("a password that is not a token", async () => {
    const r = await refused("iamdb_jane", "hunter2-not-a-token");
    assert.equal(r.code, "28000");
    assert.equal(r.cause, "malformed");
    assert.ok(!gw.logText().includes("hunter2"));
  });

  it("unknown and inactive keys", async () => {
    const ghost = { accessKeyId: "AKIAGHOSTGHOSTGHOST1", secretAccessKey: "x".repeat(40) };
    assert.equal(
      (await refused("iamdb_jane", token("iamdb_jane", { credentials: ghost }))).cause,
      "unknown-key",
    );
    const sam = await gw.userWithAccess("sam", "iamdb_jane");
    await gw.iam.updateAccessKey({ userName: "sam", accessKeyId: sam.accessKeyId, status: "Inactive" });
    assert.equal(
      (await refused("iamdb_jane", token("iamdb_jane", { credentials: sam }))).cause,
      "inactive-key",
    );
  });

  it("no policy allows it, or an explicit deny", async () => {
    await gw.iam.createUser({ userName: "nopolicy" });
    const k = await gw.iam.createAccessKey({ userName: "nopolicy" });
    const r = await refused("iamdb_jane", token("iamdb_jane", { credentials: k }));
    assert.equal(r.cause, "not-authorized");
    const entry = gw.log().at(-1) as Record<string, unknown>;
    assert.equal(entry.statusCode, 403);
    assert.equal(entry.errorCode, "NotAuthorized");
    assert.match(String(entry.detail), /no statement allowed rds-db:connect/);

    const denied = await gw.userWithAccess("denied", "iamdb_jane", [
      {
        Sid: "NoJane",
        Effect: "Deny",
        Action: "rds-db:connect",
        Resource: `arn:aws:rds-db:*:${ACCOUNT}:dbuser:*/iamdb_jane`,
      },
    ]);
    await refused("iamdb_jane", token("iamdb_jane", { credentials: denied }));
    assert.match(String((gw.log().at(-1) as Record<string, unknown>).detail), /denied by statement "NoJane"/);
  });

  it("IAM authentication disabled on the instance, then enabled again", async () => {
    gw.registry.setIamAuth("pg1", false);
    try {
      assert.equal((await refused("iamdb_jane", token())).cause, "iam-disabled");
    } finally {
      gw.registry.setIamAuth("pg1", true);
    }
    const c = pgClient(gw.port, "iamdb_jane", token(), gw.caPem);
    await c.connect();
    await c.end();
  });

  it("a DB user that is not IAM-enabled on the instance", async () => {
    const nobody = await gw.userWithAccess("nobody", "iamdb_nobody");
    assert.equal(
      (await refused("iamdb_nobody", token("iamdb_nobody", { credentials: nobody }))).cause,
      "db-user-not-iam-enabled",
    );
  });

  it("the auth log never holds a token, secret key or session token", () => {
    const text = gw.logText();
    assert.ok(text.length > 0);
    for (const s of secrets) assert.ok(!text.includes(s), "a secret reached the auth log");
    for (const line of gw.log()) {
      assert.ok(line.correlationId && line.time && line.instance === "pg1");
      if (line.decision === "failure")
        assert.match(
          String(line.message),
          /^PAM: Authentication failure for user ".*" because .*\(Status Code: \d+, Error Code: \w+\)$/,
        );
    }
  });
});

describe("PostgreSQL gateway: the wire", () => {
  it("refuses a plaintext login before asking for a password (counted in /metrics as tls-required)", async () => {
    const ended = await gw.metrics.ended("pg1", "tls-required");
    const r = await refusal(
      new pg.Client({
        host: "127.0.0.1",
        port: gw.port,
        user: "iamdb_jane",
        database: "test",
        password: "x",
        ssl: false,
      }),
    );
    assert.equal(r.code, "28000");
    assert.match(r.message, /no encryption/);
    const s = await raw(gw.port);
    s.write(startupMessage({ user: "iamdb_jane", database: "test" }));
    const bytes = await readUntilClose(s);
    assert.equal(
      bytes.indexOf(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3])),
      -1,
      "AuthenticationCleartextPassword was sent",
    );
    assert.equal(errorFields(bytes).C, "28000");
    assert.equal(await gw.metrics.ended("pg1", "tls-required"), ended + 2);
    assert.match(
      await gw.metrics.render(),
      new RegExp(`iamdb_login_ended_total\\{instance="pg1",cause="tls-required"\\} ${ended + 2}\n`),
    );
  });

  it("refuses unencrypted bytes buffered after an SSLRequest (CVE-2021-23214)", async () => {
    const s = await raw(gw.port);
    s.write(Buffer.concat([startupPacket(SSL_REQUEST), startupMessage({ user: "x" })]));
    const bytes = await readUntilClose(s);
    assert.equal(errorFields(bytes).C, "08P01");
    assert.equal(gw.log().at(-1)?.cause, "protocol-violation");
  });

  it("closes on a startup length below 8 or above 10,000 without waiting for the claimed bytes", async () => {
    for (const length of [4, 7, 10_001, 0x7fffffff]) {
      const s = await raw(gw.port);
      const head = Buffer.alloc(8);
      head.writeInt32BE(length, 0);
      head.writeInt32BE(3 << 16, 4);
      s.write(head);
      const fields = errorFields(await readUntilClose(s));
      assert.equal(fields.C, "08P01", `length ${length}`);
    }
  });

  it("refuses a second SSLRequest inside TLS", async () => {
    const s = await raw(gw.port);
    s.write(startupPacket(SSL_REQUEST));
    await new Promise((resolve) => s.once("data", resolve));
    const secure = tlsConnect({ socket: s, ca: gw.caPem, servername: "localhost" });
    await new Promise((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    secure.write(startupPacket(SSL_REQUEST));
    const bytes = await readUntilClose(secure as unknown as import("node:net").Socket);
    assert.equal(errorFields(bytes).C, "08P01");
  });

  it("a client that hangs up at the password prompt (as psql does to prompt) is neither logged nor counted", async () => {
    const logged = gw.log().length;
    const requests = await gw.metrics.counter("iam_db_auth_connection_requests_total", "pg1");
    const s = await raw(gw.port);
    s.write(startupPacket(SSL_REQUEST));
    await new Promise((resolve) => s.once("data", resolve));
    const secure = tlsConnect({ socket: s, ca: gw.caPem, servername: "localhost" });
    await new Promise((resolve) => secure.once("secureConnect", resolve));
    secure.write(startupMessage({ user: "iamdb_jane", database: "test" }));
    const auth: Buffer = await new Promise((resolve) => secure.once("data", resolve));
    assert.equal(auth[0], 0x52, "AuthenticationRequest");
    secure.destroy();
    await sleep(200);
    assert.equal(gw.log().length, logged);
    assert.equal(await gw.metrics.counter("iam_db_auth_connection_requests_total", "pg1"), requests);
  });

  it("closes a silent connection at the login timeout", async () => {
    const quick = await startTestGateway({ limits: { loginTimeoutMs: 300 } });
    try {
      const s = await raw(quick.port);
      await readUntilClose(s, 10_000);
      assert.equal(quick.log().at(-1)?.cause, "login-timeout");
      assert.match(String(quick.log().at(-1)?.detail), /login timeout/);
    } finally {
      await quick.close();
    }
  });

  it("throttles logins beyond the pending cap with 53300, and counts it", async () => {
    const capped = await startTestGateway({ limits: { maxPendingLogins: 2 } });
    try {
      const idle = [await raw(capped.port), await raw(capped.port)];
      await sleep(100);
      const third = await raw(capped.port);
      assert.equal(errorFields(await readUntilClose(third)).C, "53300");
      assert.match(
        await capped.metrics.render(),
        /iam_db_auth_connection_failure_throttling_total\{instance="pg1"\} 1/,
      );
      for (const s of idle) s.destroy();
    } finally {
      await capped.close();
    }
  });

  it("a backend that is down gets a generic FATAL with a correlation id, and nothing is left open", async () => {
    const down = await startTestGateway({
      backend: { host: "127.0.0.1", port: 1, database: "test", tls: "disable", adminUser: "postgres" },
    });
    try {
      const creds = await down.userWithAccess("jane", "iamdb_jane");
      await down.accounts.put("pg1", "iamdb_jane", "irrelevant");
      const t = generateAuthToken({
        hostname: "localhost",
        port: down.port,
        username: "iamdb_jane",
        region: REGION,
        credentials: creds,
      });
      const r = await refusal(pgClient(down.port, "iamdb_jane", t, down.caPem));
      assert.equal(r.code, "08006");
      assert.match(r.message, /correlation id [0-9a-f-]{36}/);
      assert.equal(down.log().at(-1)?.cause, "backend-unavailable");
      assert.equal(down.gateway.sessions.size, 0);
    } finally {
      await down.close();
    }
  });
});
