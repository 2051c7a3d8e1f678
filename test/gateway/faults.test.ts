// Checklist items the main gateway suite does not cover: GSSENC and direct TLS negotiation,
// context keys in policies (resource tags, source IP, secure transport), a backend that
// accepts but never answers, and either side of a session going away.
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as tlsConnect } from "node:tls";
import Database from "better-sqlite3";
import pg from "pg";
import type { GatewayLimits } from "../../src/config/types.js";
import { generateAuthToken } from "../../src/index.js";
import { ScriptedDialer } from "../helpers/dialers.js";
import { pgClient, raw, readUntilClose, refusal, startupMessage, startupPacket } from "./clients.js";
import { ACCOUNT, MACHINE_PG, REGION, startTestGateway, type TestGateway } from "./fixture.js";

const GSSENC_REQUEST = (1234 << 16) | 5680;
let gw: TestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };

const token = (user = "iamdb_fault", c = creds) =>
  generateAuthToken({ hostname: "localhost", port: gw.port, username: user, region: REGION, credentials: c });

/** Whether the backend process `pid` is still connected. */
async function backendAlive(pid: number): Promise<boolean> {
  const admin = new pg.Client({ ...MACHINE_PG, user: MACHINE_PG.adminUser });
  await admin.connect();
  try {
    const r = await admin.query("select count(*)::int n from pg_stat_activity where pid = $1", [pid]);
    return r.rows[0].n === 1;
  } finally {
    await admin.end();
  }
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`never happened: ${what}`);
}

before(async () => {
  gw = await startTestGateway({ tags: [{ key: "env", value: "dev" }] });
  creds = await gw.userWithAccess("fault", "iamdb_fault");
  await gw.provision("iamdb_fault");
});

after(async () => {
  await gw.close();
});

describe("gateway negotiation", () => {
  it("declines GSSENCRequest with 'N' and still offers TLS afterwards", async () => {
    const s = await raw(gw.port);
    s.write(startupPacket(GSSENC_REQUEST));
    const answer: Buffer = await new Promise((resolve) => s.once("data", resolve));
    assert.equal(answer.toString(), "N");
    s.write(startupPacket((1234 << 16) | 5679));
    const ssl: Buffer = await new Promise((resolve) => s.once("data", resolve));
    assert.equal(ssl.toString(), "S");
    const secure = tlsConnect({ socket: s, ca: gw.caPem, servername: "localhost" });
    await new Promise((resolve, reject) => {
      secure.once("secureConnect", resolve);
      secure.once("error", reject);
    });
    secure.write(startupMessage({ user: "iamdb_fault", database: "test" }));
    const auth: Buffer = await new Promise((resolve) => secure.once("data", resolve));
    assert.equal(auth[0], 0x52);
    assert.equal(auth.readInt32BE(5), 3, "AuthenticationCleartextPassword");
    secure.destroy();
  });

  it("closes a direct-TLS ClientHello cleanly (sslnegotiation=direct is refused), and logs why", async () => {
    const s = await raw(gw.port);
    // A TLS 1.2 record header for a handshake: content type 0x16, version 0x0303.
    s.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]));
    await readUntilClose(s);
    await eventually(async () => gw.log().at(-1)?.cause === "protocol-violation", "the refusal is logged");
    assert.match(String(gw.log().at(-1)?.detail), /direct TLS/);
  });
});

describe("policy context at connect time", () => {
  it("aws:ResourceTag/* is the instance's tags, and a tag change applies to the next login", async () => {
    const tagged = await gw.userWithAccess("tagged", "iamdb_fault", [
      {
        Sid: "OnlyDev",
        Effect: "Deny",
        Action: "rds-db:connect",
        Resource: "*",
        Condition: { StringNotEquals: { "aws:ResourceTag/env": "dev" } },
      },
    ]);
    const c = pgClient(gw.port, "iamdb_fault", token("iamdb_fault", tagged), gw.caPem);
    await c.connect();
    await c.end();
    await gw.registry.addTags("pg1", [{ key: "env", value: "prod" }]);
    try {
      const r = await refusal(pgClient(gw.port, "iamdb_fault", token("iamdb_fault", tagged), gw.caPem));
      assert.equal(r.code, "28000");
      assert.match(String(gw.log().at(-1)?.detail), /denied by statement "OnlyDev"/);
    } finally {
      await gw.registry.addTags("pg1", [{ key: "env", value: "dev" }]);
    }
  });

  it("aws:SourceIp and aws:SecureTransport reach the policy", async () => {
    const fenced = await gw.userWithAccess("fenced", "iamdb_fault", [
      {
        Sid: "NotFromLoopback",
        Effect: "Deny",
        Action: "rds-db:connect",
        Resource: `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:*/*`,
        Condition: { IpAddress: { "aws:SourceIp": "127.0.0.0/8" }, Bool: { "aws:SecureTransport": "true" } },
      },
    ]);
    await refusal(pgClient(gw.port, "iamdb_fault", token("iamdb_fault", fenced), gw.caPem));
    assert.match(String(gw.log().at(-1)?.detail), /denied by statement "NotFromLoopback"/);
  });
});

/**
 * A gateway whose backend accepts connections and never answers (a dialer whose peer reads and
 * stays silent), with an IAM user allowed to connect as iamdb_fault; `accepted` and `closed`
 * tell what the backend saw.
 */
async function silentBackendGateway(limits: Partial<GatewayLimits>) {
  const accepted: Socket[] = [];
  let closed = 0;
  const silent = new ScriptedDialer((peer) => {
    accepted.push(peer);
    peer.resume(); // read (and discard) the startup packet, so a close is seen
    peer.on("close", () => closed++);
  });
  const slow = await startTestGateway({ dialer: silent, limits });
  const c = await slow.userWithAccess("jane", "iamdb_fault");
  await slow.accounts.put("pg1", "iamdb_fault", "irrelevant");
  const t = generateAuthToken({
    hostname: "localhost",
    port: slow.port,
    username: "iamdb_fault",
    region: REGION,
    credentials: c,
  });
  return {
    slow,
    token: t,
    accepted,
    closed: () => closed,
    async close() {
      await slow.close();
      await silent.close();
    },
  };
}

describe("faults", () => {
  it("a backend that accepts but never answers: bounded wait, generic FATAL, nothing left open", async () => {
    const { slow, token: t, close } = await silentBackendGateway({ backendConnectTimeoutMs: 300 });
    try {
      const r = await refusal(pgClient(slow.port, "iamdb_fault", t, slow.caPem));
      assert.equal(r.code, "08006");
      assert.equal(slow.log().at(-1)?.cause, "backend-unavailable");
      assert.match(String(slow.log().at(-1)?.detail), /took longer than 300 ms/);
      assert.equal(slow.gateway.sessions.size, 0);
    } finally {
      await close();
    }
  });

  it("a client that resets mid-transaction takes its backend session with it", async () => {
    const c = pgClient(gw.port, "iamdb_fault", token(), gw.caPem);
    await c.connect();
    await c.query("begin");
    const pid = (await c.query("select pg_backend_pid() pid")).rows[0].pid;
    assert.equal(await backendAlive(pid), true);
    const stream = (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream;
    c.on("error", () => undefined);
    stream.destroy(); // no Terminate, no close_notify: the TCP connection just goes away
    // In a transaction the backend cannot be reset for another client: it must go.
    await eventually(async () => !(await backendAlive(pid)), "the backend session ends");
    await eventually(async () => gw.metrics.activeSessions("pg1") === 0, "the gateway forgets the session");
  });

  it("a backend that terminates the session closes the client's connection", async () => {
    const c = pgClient(gw.port, "iamdb_fault", token(), gw.caPem);
    await c.connect();
    const pid = (await c.query("select pg_backend_pid() pid")).rows[0].pid;
    const ended = new Promise((resolve) => {
      c.on("error", resolve);
      c.on("end", () => resolve(undefined));
    });
    const admin = new pg.Client({ ...MACHINE_PG, user: MACHINE_PG.adminUser });
    await admin.connect();
    await admin.query("select pg_terminate_backend($1)", [pid]);
    await admin.end();
    await ended;
    await eventually(async () => gw.metrics.activeSessions("pg1") === 0, "the gateway forgets the session");
  });
});

/** Logs in over raw TLS up to sending the password, then hands the socket back. */
async function sendPassword(port: number, ca: string, user: string, password: string) {
  const s = await raw(port);
  s.write(startupPacket((1234 << 16) | 5679));
  await new Promise((resolve) => s.once("data", resolve));
  const secure = tlsConnect({ socket: s, ca, servername: "localhost" });
  await new Promise((resolve) => secure.once("secureConnect", resolve));
  secure.write(startupMessage({ user, database: "test" }));
  await new Promise((resolve) => secure.once("data", resolve));
  const body = Buffer.from(`${password}\0`);
  const head = Buffer.alloc(5);
  head.write("p", 0);
  head.writeInt32BE(4 + body.length, 1);
  secure.write(Buffer.concat([head, body]));
  return secure;
}

describe("faults while the gateway is busy with a login", () => {
  it("a credential store that fails: generic FATAL with a correlation id, internal-error logged, the gateway stays up", async () => {
    const broken = await startTestGateway();
    try {
      const c = await broken.userWithAccess("jane", "iamdb_fault");
      // An account row whose sealed password does not open (another master key, or damage).
      const db = new Database(join(broken.dir, "iamdb.sqlite"));
      db.prepare(
        "INSERT INTO db_accounts VALUES ('pg1', 'iamdb_fault', 'v1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 0, 0)",
      ).run();
      db.close();
      const t = generateAuthToken({
        hostname: "localhost",
        port: broken.port,
        username: "iamdb_fault",
        region: REGION,
        credentials: c,
      });
      const r = await refusal(pgClient(broken.port, "iamdb_fault", t, broken.caPem));
      assert.equal(r.code, "08006");
      assert.match(r.message, /correlation id/);
      assert.equal(broken.log().at(-1)?.cause, "internal-error");
      // Still serving.
      const again = await refusal(pgClient(broken.port, "iamdb_fault", "not-a-token", broken.caPem));
      assert.equal(again.code, "28000");
    } finally {
      await broken.close();
    }
  });

  it("a client that hangs up during the backend login: logged as such, the backend connection closed, no session", async () => {
    const {
      slow,
      token: t,
      accepted,
      closed,
      close,
    } = await silentBackendGateway({ backendConnectTimeoutMs: 1_000 });
    try {
      const client = await sendPassword(slow.port, slow.caPem, "iamdb_fault", t);
      await eventually(async () => accepted.length === 1, "the gateway connects to the backend");
      client.destroy();
      await eventually(
        async () => slow.log().some((l) => l.cause === "client-closed"),
        "the hang-up is logged",
      );
      // /metrics counts it too, apart from the RDS-named counters.
      const id = slow.instance().identifier;
      assert.equal(await slow.metrics.ended(id, "client-closed"), 1);
      assert.match(
        await slow.metrics.render(),
        new RegExp(`iamdb_login_ended_total\\{instance="${id}",cause="client-closed"\\} 1\n`),
      );
      await eventually(async () => closed() === 1, "the backend connection is closed");
      assert.ok(!slow.log().some((l) => l.decision === "success"));
      assert.equal(slow.gateway.sessions.size, 0);
    } finally {
      await close();
    }
  });

  it("the login timeout also covers the backend login", async () => {
    const {
      slow,
      token: t,
      close,
    } = await silentBackendGateway({ loginTimeoutMs: 700, backendConnectTimeoutMs: 20_000 });
    try {
      const r = await refusal(pgClient(slow.port, "iamdb_fault", t, slow.caPem));
      assert.equal(r.code, "08006");
      assert.match(r.message, /login timeout/);
      assert.equal(slow.log().at(-1)?.cause, "login-timeout");
    } finally {
      await close();
    }
  });
});
