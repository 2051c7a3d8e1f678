// The MySQL/MariaDB gateway end to end: the real mariadb CLI, mysql2, real aws CLI tokens,
// the machine's MariaDB behind it. Every refusal: 1045 on the wire, the exact cause in the log.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { type AddressInfo, createServer, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import mysql from "mysql2/promise";
import { withMysqlAdmin } from "../../src/engines/mysql/provision.js";
import { generateAuthToken } from "../../src/index.js";
import { newDbPassword } from "../../src/instances/accounts.js";
import { parseServerHandshake } from "../../src/wire/mysql/index.js";
import { awsAuthToken } from "../helpers/aws.js";
import { raw, readUntilClose } from "./clients.js";
import {
  ID,
  MACHINE_MARIADB,
  type MysqlTestGateway,
  mariadbCli,
  REGION,
  startMysqlTestGateway,
} from "./mysql-fixture.js";

let gw: MysqlTestGateway;
let jane: { accessKeyId: string; secretAccessKey: string };
const secrets: string[] = [];
const DENIED = "ERROR 1045 (28000): Access denied for user 'iamdb_jane'@'127.0.0.1' (using password: YES)";

function token(user = "iamdb_jane", o: { port?: number; credentials?: typeof jane } = {}): string {
  const t = generateAuthToken({
    hostname: "127.0.0.1",
    port: o.port ?? gw.port,
    username: user,
    region: REGION,
    credentials: o.credentials ?? jane,
  }) as string;
  secrets.push(t);
  return t;
}

/** The failure entries the auth log gained while `fn` ran. */
async function logged<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; failures: Array<Record<string, unknown>> }> {
  const n = gw.log().length;
  const result = await fn();
  await new Promise((r) => setTimeout(r, 50));
  return {
    result,
    failures: gw
      .log()
      .slice(n)
      .filter((l) => l.decision === "failure"),
  };
}

function mysql2(user: string, password: string, extra: mysql.ConnectionOptions = {}) {
  return mysql.createConnection({
    host: "127.0.0.1",
    port: gw.port,
    user,
    password,
    database: "test",
    ssl: { ca: gw.caPem },
    enableCleartextPlugin: true,
    ...extra,
  });
}

/** Reads one MySQL packet (header + payload) from a raw socket. */
function readPacket(s: Socket): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const onData = (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (buf.length >= 4 && buf.length >= 4 + buf.readUIntLE(0, 3)) {
        s.off("data", onData);
        resolve(buf);
      }
    };
    s.on("data", onData);
    s.once("error", reject);
  });
}

function sslRequestPacket(): Buffer {
  const payload = Buffer.alloc(32);
  payload.writeUInt32LE((1 << 9) | (1 << 11) | (1 << 15) | (1 << 19), 0);
  payload.writeUInt32LE(1 << 24, 4);
  payload[8] = 45;
  const head = Buffer.from([32, 0, 0, 1]);
  return Buffer.concat([head, payload]);
}

before(async () => {
  gw = await startMysqlTestGateway();
  jane = await gw.userWithAccess("jane", "iamdb_jane");
  secrets.push(jane.secretAccessKey);
  await gw.provision("iamdb_jane");
});

after(async () => {
  await gw.unprovision("iamdb_jane");
  await gw.unprovision("iamdb_bob");
  await gw.close();
});

describe("MySQL gateway: sessions", () => {
  it("mariadb CLI, --ssl-verify-server-cert, token from the real aws CLI: a MariaDB session as the user", async () => {
    const t = await awsAuthToken(
      { hostname: "127.0.0.1", port: gw.port, username: "iamdb_jane", region: REGION },
      jane,
    );
    secrets.push(t);
    const r = await mariadbCli(
      gw.port,
      gw.caFile,
      "iamdb_jane",
      t,
      "select user(), current_user(), database()",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^iamdb_jane@\S+\tiamdb_jane@\S+\ttest$/);
    assert.ok(gw.log().some((l) => l.decision === "success" && l.dbUser === "iamdb_jane"));
  });

  it("mariadb CLI with --default-auth=mysql_clear_password: the token in the first response", async () => {
    const r = await mariadbCli(gw.port, gw.caFile, "iamdb_jane", token(), "select 42", [
      "--default-auth=mysql_clear_password",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "42");
  });

  it("a 5 MB result reaches the mariadb CLI intact", async () => {
    const size = 5 * 1024 * 1024;
    const r = await mariadbCli(
      gw.port,
      gw.caFile,
      "iamdb_jane",
      token(),
      `select repeat('abcdefgh', ${size / 8}), sha2(repeat('abcdefgh', ${size / 8}), 256)`,
    );
    assert.equal(r.code, 0, r.stderr);
    const [data, digest] = r.stdout.split("\t");
    assert.equal(data?.length, size);
    assert.equal(
      digest,
      createHash("sha256")
        .update(data ?? "")
        .digest("hex"),
    );
  });

  it("mysql2 (enableCleartextPlugin): a 5 MB insert and its read-back, multi-statements, a token reused", async () => {
    const t = token();
    const c = await mysql2("iamdb_jane", t, { multipleStatements: true });
    try {
      const blob = randomBytes(5 * 1024 * 1024);
      await c.query("create temporary table big (b longblob)");
      await c.query("insert into big values (?)", [blob]);
      const [rows] = await c.query("select b, sha2(b, 256) h from big");
      const row = (rows as Array<{ b: Buffer; h: string }>)[0];
      assert.ok(row?.b.equals(blob));
      assert.equal(row?.h, createHash("sha256").update(blob).digest("hex"));
      const [multi] = await c.query("select 1 a; select 2 b");
      assert.equal((multi as unknown[]).length, 2);
    } finally {
      await c.end();
    }
    const again = await mysql2("iamdb_jane", t);
    await again.end();
  });

  it("mysql2 with an authPlugins entry and a pool that fetches a fresh token per connection", async () => {
    const pool = mysql.createPool({
      host: "127.0.0.1",
      port: gw.port,
      user: "iamdb_jane",
      database: "test",
      ssl: { ca: gw.caPem },
      connectionLimit: 3,
      authPlugins: { mysql_clear_password: () => () => Buffer.from(`${token()}\0`) },
    });
    try {
      const results = await Promise.all(
        [1, 2, 3].map((i) => pool.query("select ? + 0 n, connection_id() id", [i])),
      );
      assert.deepEqual(
        results.map(([rows]) => (rows as Array<{ n: number }>)[0]?.n),
        [1, 2, 3],
      );
    } finally {
      await pool.end();
    }
  });

  it("COM_CHANGE_USER to an account without a token (root, empty password): 1045 and the session closed; the backend never sees it", async () => {
    const c = await mysql2("iamdb_jane", token());
    const { result, failures } = await logged(() =>
      c.changeUser({ user: "root", password: "" }).then(
        () => undefined,
        (err: { errno?: number; message: string }) => err,
      ),
    );
    assert.equal(result?.errno, 1045, result?.message);
    assert.match(String(failures[0]?.detail), /COM_CHANGE_USER/);
    await assert.rejects(c.query("select 1"));
    c.destroy();
  });
});

describe("MySQL gateway: the server version it announces", () => {
  const withoutPrefix = (v: string) => v.replace(/^5\.5\.5-/, "");

  it("is the backend's (SELECT VERSION()) with -iamdb: to the first client of a new gateway, and as mysql2 reads it", async () => {
    const backend = await withMysqlAdmin(MACHINE_MARIADB, async (c) => {
      const [rows] = await c.query("SELECT VERSION() AS v");
      return String((rows as Array<{ v: string }>)[0]?.v);
    });
    assert.match(backend, /MariaDB/);
    const fresh = await startMysqlTestGateway();
    try {
      // Before any login: the gateway read the backend's greeting for it.
      const s = await raw(fresh.port);
      const greeting = parseServerHandshake((await readPacket(s)).subarray(4));
      s.destroy();
      assert.equal(withoutPrefix(greeting.serverVersion), `${backend}-iamdb`);
    } finally {
      await fresh.close();
    }
    const c = await mysql2("iamdb_jane", token());
    try {
      // mysql2 keeps the greeting it read on the underlying connection (not public API).
      const handshake = (c as unknown as { connection: { _handshakePacket: { serverVersion: string } } })
        .connection._handshakePacket;
      assert.equal(withoutPrefix(handshake.serverVersion), `${backend}-iamdb`);
      const [rows] = await c.query("SELECT VERSION() AS v");
      assert.equal((rows as Array<{ v: string }>)[0]?.v, backend);
    } finally {
      await c.end();
    }
  });
});

describe("MySQL gateway: refusals", () => {
  async function refusedCli(user: string, password: string) {
    const { result, failures } = await logged(() =>
      mariadbCli(gw.port, gw.caFile, user, password, "select 1"),
    );
    assert.notEqual(result.code, 0);
    return { stderr: result.stderr.trim(), failure: failures[0] ?? {} };
  }

  it("an unknown access key: 1045, cause in the log", async () => {
    const r = await refusedCli(
      "iamdb_jane",
      token("iamdb_jane", {
        credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "x".repeat(40) },
      }),
    );
    assert.equal(r.stderr, DENIED);
    assert.equal(r.failure.errorCode, "InvalidToken");
    assert.match(String(r.failure.message), /token is malformed or otherwise invalid/);
  });

  it("a token for another DB user, another port, or garbage: 1045 each, with the precise cause", async () => {
    const other = await refusedCli("iamdb_jane", token("iamdb_bob"));
    assert.equal(other.stderr, DENIED);
    assert.match(String(other.failure.cause), /user/);
    const port = await refusedCli("iamdb_jane", token("iamdb_jane", { port: gw.port + 1 }));
    assert.equal(port.stderr, DENIED);
    assert.match(String(port.failure.cause), /port/);
    const garbage = await refusedCli("iamdb_jane", "not-a-token");
    assert.equal(garbage.stderr, DENIED);
    assert.equal(garbage.failure.cause, "malformed");
  });

  it("no rds-db:connect permission: 1045, NotAuthorized", async () => {
    await gw.iam.createUser({ userName: "mallory" });
    const key = await gw.iam.createAccessKey({ userName: "mallory" });
    secrets.push(key.secretAccessKey);
    const r = await refusedCli("iamdb_jane", token("iamdb_jane", { credentials: key }));
    assert.equal(r.stderr, DENIED);
    assert.equal(r.failure.cause, "not-authorized");
    assert.equal(r.failure.errorCode, "NotAuthorized");
  });

  it("a DB user that is not an IAM account, and IAM switched off: 1045 with those causes", async () => {
    const bob = await gw.userWithAccess("bob", "iamdb_bob");
    const r = await refusedCli("iamdb_bob", token("iamdb_bob", { credentials: bob }));
    assert.match(r.stderr, /ERROR 1045 \(28000\): Access denied for user 'iamdb_bob'/);
    assert.equal(r.failure.cause, "db-user-not-iam-enabled");
    gw.registry.setIamAuth(ID, false);
    try {
      const off = await refusedCli("iamdb_jane", token());
      assert.equal(off.stderr, DENIED);
      assert.equal(off.failure.cause, "iam-disabled");
    } finally {
      gw.registry.setIamAuth(ID, true);
    }
  });

  it("the backend refusing the gateway-held password: 1045, and the log says how to fix it", async () => {
    await withMysqlAdmin(MACHINE_MARIADB, async (c) => {
      await c.query("ALTER USER 'iamdb_jane'@'%' IDENTIFIED BY ?", [newDbPassword()]);
      // Connections logged in before the change stay logged in: the pooled ones go, so that the
      // next login is a backend login (an out-of-band change; db-user rotate changes the pool key).
      const [rows] = await c.query("select id from information_schema.processlist where user = 'iamdb_jane'");
      for (const r of rows as Array<{ id: number }>) await c.query(`kill connection ${Number(r.id)}`);
    });
    await new Promise((r) => setTimeout(r, 200));
    try {
      const r = await refusedCli("iamdb_jane", token());
      assert.equal(r.stderr, DENIED);
      assert.equal(r.failure.cause, "backend-login-failed");
      assert.match(String(r.failure.detail), /db-user rotate/);
    } finally {
      await gw.provision("iamdb_jane");
    }
  });

  it("a client without TLS is refused before any password is asked for", async () => {
    const { result, failures } = await logged(() =>
      mariadbCli(gw.port, gw.caFile, "iamdb_jane", token(), "select 1", ["--skip-ssl"]),
    );
    assert.match(result.stderr, /ERROR 3159 .*insecure transport/);
    assert.match(String(failures[0]?.detail), /did not request TLS/);
    // On the wire: the handshake, then a plaintext HandshakeResponse, then our ERR; never an AuthSwitchRequest.
    const s = await raw(gw.port);
    await readPacket(s);
    const user = Buffer.from("iamdb_jane\0");
    const payload = Buffer.concat([Buffer.alloc(32), user, Buffer.from([0])]);
    payload.writeUInt32LE((1 << 9) | (1 << 15) | (1 << 19), 0);
    const head = Buffer.alloc(4);
    head.writeUIntLE(payload.length, 0, 3);
    head[3] = 1;
    s.write(Buffer.concat([head, payload]));
    const reply = await readUntilClose(s);
    assert.equal(reply[4], 0xff);
    assert.equal(reply.readUInt16LE(5), 3159);
  });

  it("plaintext after the SSL request, before TLS: refused", async () => {
    const s = await raw(gw.port);
    await readPacket(s);
    const { result, failures } = await logged(async () => {
      s.write(Buffer.concat([sslRequestPacket(), Buffer.from([5, 0, 0, 2, 3, 0x73, 0x65, 0x6c, 0x31])]));
      return readUntilClose(s);
    });
    assert.equal(result[4], 0xff);
    assert.match(String(failures[0]?.detail), /unencrypted data after the SSL request/);
  });

  it("a pre-auth packet claiming 0xFFFFFF bytes is refused at once", async () => {
    const s = await raw(gw.port);
    await readPacket(s);
    const { result, failures } = await logged(async () => {
      s.write(Buffer.from([0xff, 0xff, 0xff, 1, 0]));
      return readUntilClose(s);
    });
    assert.equal(result[4], 0xff);
    assert.match(String(failures[0]?.detail), /exceeds the limit/);
  });

  it("a second SSL request inside TLS is a protocol violation", async () => {
    const s = await raw(gw.port);
    await readPacket(s);
    s.write(sslRequestPacket());
    const secure = tlsConnect({ socket: s, ca: gw.caPem, servername: "localhost" });
    await new Promise((r) => secure.once("secureConnect", r));
    const { result, failures } = await logged(async () => {
      const packet = sslRequestPacket();
      packet[3] = 2;
      secure.write(packet);
      return readUntilClose(secure as unknown as Socket);
    });
    assert.equal(result[4], 0xff);
    assert.match(String(failures[0]?.detail), /second SSL request/);
  });

  it("no token, auth log or metric line ever holds a secret", () => {
    const text = gw.logText();
    for (const s of secrets) assert.ok(!text.includes(s), "a secret reached the auth log");
    assert.ok(!/X-Amz-Signature=/.test(text));
  });
});

describe("MySQL gateway: anonymous accounts", () => {
  it("anonymous ''@'localhost' / ''@'127.0.0.1' shadow 'u'@'%'; db-user creates 'u' at those hosts too", async () => {
    const admin = MACHINE_MARIADB;
    const direct = (password: string) =>
      mysql.createConnection({ host: "127.0.0.1", port: admin.port, user: "iamdb_anon", password }).then(
        (c) => c.end().then(() => "ok"),
        (err: { errno?: number }) => String(err.errno),
      );
    await withMysqlAdmin(admin, async (c) => {
      // Which of the two names a 127.0.0.1 connection gets depends on skip_name_resolve.
      await c.query("DROP USER IF EXISTS ''@'localhost', ''@'127.0.0.1'");
      await c.query("CREATE USER ''@'localhost', ''@'127.0.0.1'");
    });
    try {
      // The shadowing is real: only '%', and the right password is refused.
      await gw.unprovision("iamdb_anon");
      await withMysqlAdmin(admin, (c) => c.query("CREATE USER 'iamdb_anon'@'%' IDENTIFIED BY 'pw-1234'"));
      assert.equal(await direct("pw-1234"), "1045");
      await gw.unprovision("iamdb_anon");
      await gw.provision("iamdb_anon");
      const { mysqlAccounts } = await import("../../src/engines/mysql/provision.js");
      assert.deepEqual(await mysqlAccounts.hosts(admin, "iamdb_anon"), ["%", "127.0.0.1", "localhost"]);
      const anon = await gw.userWithAccess("anon", "iamdb_anon");
      const r = await mariadbCli(
        gw.port,
        gw.caFile,
        "iamdb_anon",
        token("iamdb_anon", { credentials: anon }),
        "select current_user()",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^iamdb_anon@/);
    } finally {
      await withMysqlAdmin(admin, (c) => c.query("DROP USER IF EXISTS ''@'localhost', ''@'127.0.0.1'"));
      await gw.unprovision("iamdb_anon");
    }
  });
});

describe("MySQL gateway: login timeout", () => {
  it("a client that goes silent after the handshake is closed", async () => {
    const slow = await startMysqlTestGateway({ limits: { loginTimeoutMs: 300 } });
    try {
      const s = await raw(slow.port);
      const started = Date.now();
      await readUntilClose(s, 5_000);
      assert.ok(Date.now() - started < 3_000);
      await new Promise((r) => setTimeout(r, 50));
      assert.match(String(slow.log()[0]?.detail), /login timeout/);
    } finally {
      await slow.close();
    }
  });
});

describe("MySQL gateway: overload and backend faults", () => {
  it("over the pending-login cap: ERR 1040 before any handshake, counted as throttling", async () => {
    const full = await startMysqlTestGateway({ limits: { maxPendingLogins: 0 } });
    try {
      const reply = await readUntilClose(await raw(full.port));
      assert.equal(reply[4], 0xff);
      assert.equal(reply.readUInt16LE(5), 1040);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(full.log()[0]?.cause, "throttled");
    } finally {
      await full.close();
    }
  });

  it("a backend that is down: a generic error to the client, backend-unavailable in the log", async () => {
    const down = await startMysqlTestGateway({
      backend: { ...MACHINE_MARIADB, port: 1 },
      limits: { backendConnectTimeoutMs: 2_000 },
    });
    try {
      const key = await down.userWithAccess("jane", "iamdb_jane");
      await down.accounts.put(ID, "iamdb_jane", newDbPassword());
      const t = token("iamdb_jane", { port: down.port, credentials: key });
      const r = await mariadbCli(down.port, down.caFile, "iamdb_jane", t, "select 1");
      assert.match(r.stderr, /ERROR 1105 .*could not connect to the database/);
      await new Promise((res) => setTimeout(res, 50));
      const failure = down.log().find((l) => l.decision === "failure");
      assert.equal(failure?.cause, "backend-unavailable");
      assert.ok(!down.logText().includes(t));
    } finally {
      await down.close();
    }
  });

  it("a backend that accepts but never answers: the login timeout ends the attempt, the client gets an error", async () => {
    const accepted: Socket[] = [];
    const silent = createServer((socket) => {
      accepted.push(socket);
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const slow = await startMysqlTestGateway({
      backend: { ...MACHINE_MARIADB, port: (silent.address() as AddressInfo).port },
      limits: { loginTimeoutMs: 700, backendConnectTimeoutMs: 20_000 },
    });
    try {
      const key = await slow.userWithAccess("jane", "iamdb_jane");
      await slow.accounts.put(ID, "iamdb_jane", newDbPassword());
      const t = token("iamdb_jane", { port: slow.port, credentials: key });
      const r = await mariadbCli(slow.port, slow.caFile, "iamdb_jane", t, "select 1");
      assert.match(r.stderr, /could not log in within the login timeout/);
      await new Promise((res) => setTimeout(res, 50));
      const failure = slow.log().find((l) => l.decision === "failure");
      assert.equal(failure?.cause, "login-timeout");
      assert.equal(slow.gateway.sessions.size, 0);
    } finally {
      await slow.close();
      silent.close();
      for (const s of accepted) s.destroy();
    }
  });
});
