// The refusal edge: every login failure cause on each engine, driven through the one edge
// (applyRefusal with the engine's table), asserting the client's bytes as a client decodes
// them, the auth-log line, and the change in /metrics. Then a few refusals end to end with
// real clients (pg, mysql2) and raw sockets, against the machine's PostgreSQL and MariaDB.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { connect as tlsConnect } from "node:tls";
import mysql from "mysql2/promise";
import { mysqlRefusalPacket } from "../../src/engines/mysql/refusals.js";
import { postgresRefusalBytes } from "../../src/engines/postgres/refusals.js";
import { type AuthAttempt, AuthLog } from "../../src/gateway/auth-log.js";
import { GatewayMetrics, LOGIN_FAILURE_CAUSES } from "../../src/gateway/metrics.js";
import type { LoginFailureCause } from "../../src/gateway/outcome.js";
import {
  applyRefusal,
  countFailuresByCause,
  type Refusal,
  type RefusalEncoder,
  type RefusalSubject,
} from "../../src/gateway/refusal.js";
import {
  Capability,
  encodePacket,
  handshakeResponse41,
  PacketParser,
  Plugin,
  sslRequest,
} from "../../src/wire/mysql/index.js";
import {
  errorFields,
  pgClient,
  raw,
  readUntilClose,
  refusal,
  startupMessage,
  startupPacket,
} from "./clients.js";
import { startTestGateway, type TestGateway } from "./fixture.js";
import { type MysqlTestGateway, startMysqlTestGateway } from "./mysql-fixture.js";

const INSTANCE = "refusals-db";
const CORRELATION = "0b7c2f9e-refusal-edge-test";
const SUBJECT: RefusalSubject = {
  stage: "password",
  dbUser: "alice",
  database: "appdb",
  clientAddress: "10.0.0.7",
  correlationId: CORRELATION,
};
const ATTEMPT: AuthAttempt = {
  correlationId: CORRELATION,
  client: "10.0.0.7:50432",
  instance: INSTANCE,
  engine: "postgres",
  dbUser: "alice",
  accessKeyId: "AKIAREFUSALTEST00001",
  principalArn: "arn:aws:iam::123456789012:user/alice",
};
/** The fields an auth-log failure line may have: the edge adds nothing else (no refusal internals, no secrets). */
const LINE_KEYS = [
  "time",
  "correlationId",
  "client",
  "instance",
  "engine",
  "dbUser",
  "accessKeyId",
  "principalArn",
  "decision",
  "statusCode",
  "errorCode",
  "cause",
  "message",
  "detail",
].sort();

const NOT_AUTHENTICATION = new Set(["tls-required", "client-closed", "protocol-violation", "login-timeout"]);
/** RDS's metric family per cause, written out by hand (the counter's name suffix); none for the four above. */
function family(cause: LoginFailureCause): string | undefined {
  if (NOT_AUTHENTICATION.has(cause)) return undefined;
  if (cause === "not-authorized") return "insufficient_permissions";
  if (cause === "throttled") return "throttling";
  if (["backend-unavailable", "backend-login-failed", "internal-error", "lookup-failed"].includes(cause))
    return "server_error";
  return "invalid_token";
}
const FAMILIES = ["invalid_token", "insufficient_permissions", "throttling", "server_error"];
/** The status code the auth log writes, by family. */
const STATUS: Record<string, number> = {
  invalid_token: 400,
  insufficient_permissions: 403,
  throttling: 429,
  server_error: 500,
};

/** RDS's error code in the auth log, by cause, written out by hand. */
function errorCodeFor(cause: LoginFailureCause): string {
  if (cause === "expired" || cause === "session-expired") return "ExpiredToken";
  const f = family(cause);
  if (f === "insufficient_permissions") return "NotAuthorized";
  if (f === "throttling") return "ThrottlingException";
  if (f === "server_error") return "InternalError";
  return "InvalidToken";
}

/** The refusal each cause is walked with: the client's words where the cause's are not fixed. */
function refusalFor(cause: LoginFailureCause): Refusal {
  const detail = `what went wrong for ${cause}, and what to do`;
  if (cause === "protocol-violation") return { cause, detail, message: "expected a startup packet" };
  if (cause === "throttled") return { cause, detail, message: "too many sessions for this principal" };
  if (cause === "internal-error") return { cause, detail, message: "could not authenticate" };
  if (cause === "expired") return { cause, detail, tokenErrorCode: "ExpiredToken" };
  return { cause, detail };
}

/** One gateway's sinks: an in-memory auth log counted into /metrics as the gateway wires it. */
function sinks() {
  const lines: Array<Record<string, unknown>> = [];
  const authLog = new AuthLog({ write: (l) => lines.push(JSON.parse(l)) }, { noise: false });
  const metrics = new GatewayMetrics([INSTANCE], { defaultMetrics: false });
  countFailuresByCause({ authLog, metrics });
  return { authLog, metrics, lines };
}

type Sinks = ReturnType<typeof sinks>;

/** The counters a refusal may move, for one instance and cause. */
async function counters(m: GatewayMetrics, cause: LoginFailureCause): Promise<Record<string, number>> {
  const out: Record<string, number> = {
    requests: await m.counter("iam_db_auth_connection_requests_total", INSTANCE),
    failures: await m.counter("iam_db_auth_connection_failure_total", INSTANCE),
    byCause: await m.value("iamdb_login_failures_total", { instance: INSTANCE, cause }),
    ended: await m.value("iamdb_login_ended_total", { instance: INSTANCE, cause }),
  };
  for (const f of FAMILIES) out[f] = await m.counter(`iam_db_auth_connection_failure_${f}_total`, INSTANCE);
  return out;
}

/** Drives one refusal through the edge; returns the bytes and what changed in the log and metrics. */
async function drive<Own>(
  s: Sinks,
  r: Refusal<Own>,
  encode: RefusalEncoder<Own>,
  subject: RefusalSubject = SUBJECT,
  requestCounted = false,
) {
  const before = await counters(s.metrics, r.cause);
  const n = s.lines.length;
  const bytes = applyRefusal(s, ATTEMPT, r, subject, encode, requestCounted);
  const after = await counters(s.metrics, r.cause);
  const delta = Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)]));
  return { bytes, lines: s.lines.slice(n), delta };
}

/** The metric changes every cause must show, written from the cause's kind. */
function expectedDelta(cause: LoginFailureCause, requestCounted: boolean): Record<string, number> {
  const f = family(cause);
  const out: Record<string, number> = {
    requests: f !== undefined && !requestCounted ? 1 : 0,
    failures: f === undefined ? 0 : 1,
    byCause: 1,
    ended: f === undefined ? 1 : 0,
  };
  for (const x of FAMILIES) out[x] = x === f ? 1 : 0;
  return out;
}

function assertLine(lines: Array<Record<string, unknown>>, r: Refusal<unknown>): void {
  assert.equal(lines.length, 1, "exactly one auth-log line");
  const line = lines[0] as Record<string, unknown>;
  assert.deepEqual(Object.keys(line).sort(), LINE_KEYS);
  assert.equal(line.decision, "failure");
  assert.equal(line.cause, r.cause);
  assert.equal(line.detail, r.detail);
  assert.equal(line.correlationId, CORRELATION);
  assert.equal(line.dbUser, "alice");
  assert.equal(line.accessKeyId, ATTEMPT.accessKeyId);
  assert.equal(line.statusCode, STATUS[family(r.cause) ?? "invalid_token"]);
  assert.equal(line.errorCode, errorCodeFor(r.cause));
  assert.match(String(line.message), /^PAM: Authentication failure for user "alice" because /);
}

/** A PostgreSQL ErrorResponse as a client reads it: type 'E', its length the whole buffer, then its fields. */
function pgError(bytes: Buffer): Record<string, string> {
  assert.equal(String.fromCharCode(bytes[0] as number), "E");
  assert.equal(bytes.readInt32BE(1) + 1, bytes.length, "one whole message");
  return errorFields(bytes);
}

/** A MySQL ERR packet as a client reads it: header, 0xFF, error number, optional '#' SQLSTATE, message. */
function mysqlErr(bytes: Buffer): {
  seq: number;
  code: number;
  sqlState: string | undefined;
  message: string;
} {
  assert.equal(bytes.readUIntLE(0, 3) + 4, bytes.length, "one whole packet");
  assert.equal(bytes[4], 0xff, "an ERR packet");
  const code = bytes.readUInt16LE(5);
  const marked = bytes[7] === 0x23;
  return {
    seq: bytes[3] as number,
    code,
    sqlState: marked ? bytes.toString("latin1", 8, 13) : undefined,
    message: bytes.toString("utf8", marked ? 13 : 7),
  };
}

/** What a PostgreSQL client sees for each cause, written out by hand. */
function pgExpected(cause: LoginFailureCause): Record<string, string> | undefined {
  const pam = {
    S: "FATAL",
    V: "FATAL",
    C: "28000",
    M: 'PAM authentication failed for user "alice"',
    D: `iamdb correlation id ${CORRELATION}`,
  };
  switch (cause) {
    case "client-closed":
      return undefined;
    case "tls-required":
      return {
        S: "FATAL",
        V: "FATAL",
        C: "28000",
        M: 'no pg_hba.conf entry for host "10.0.0.7", user "alice", database "appdb", no encryption',
        H: "IAM authentication requires TLS: connect with sslmode=verify-full sslrootcert=<the iamdb CA file>",
      };
    case "protocol-violation":
      return { S: "FATAL", V: "FATAL", C: "08P01", M: "expected a startup packet" };
    case "throttled":
      return {
        S: "FATAL",
        V: "FATAL",
        C: "53300",
        M: "too many sessions for this principal",
        D: `iamdb correlation id ${CORRELATION}`,
      };
    case "login-timeout":
      return {
        S: "FATAL",
        V: "FATAL",
        C: "08006",
        M: `could not log in within the login timeout (iamdb correlation id ${CORRELATION})`,
      };
    case "internal-error":
      return {
        S: "FATAL",
        V: "FATAL",
        C: "08006",
        M: `could not authenticate (iamdb correlation id ${CORRELATION})`,
      };
    case "backend-unavailable":
      return {
        S: "FATAL",
        V: "FATAL",
        C: "08006",
        M: `could not connect to the database (iamdb correlation id ${CORRELATION})`,
        H: "the gateway could not reach or log in to its backend; the operator's auth log has the cause",
      };
    default:
      return pam;
  }
}

/** What a MySQL client sees for each cause (in the authentication exchange), written out by hand. */
function mysqlExpected(cause: LoginFailureCause) {
  const denied = {
    code: 1045,
    sqlState: "28000",
    message: "Access denied for user 'alice'@'10.0.0.7' (using password: YES)",
  };
  switch (cause) {
    case "client-closed":
      return undefined;
    case "tls-required":
      return {
        code: 3159,
        sqlState: "HY000",
        message:
          "Connections using insecure transport are prohibited: IAM authentication requires TLS (connect with --ssl-ca=<the iamdb CA file> --ssl-verify-server-cert)",
      };
    case "throttled":
      return {
        code: 1040,
        sqlState: "08004",
        message: "Too many connections: too many sessions for this principal",
      };
    case "login-timeout":
      return {
        code: 1043,
        sqlState: "08S01",
        message: `could not log in within the login timeout (iamdb correlation id ${CORRELATION})`,
      };
    case "internal-error":
      return {
        code: 1043,
        sqlState: "08S01",
        message: `could not authenticate (iamdb correlation id ${CORRELATION})`,
      };
    case "backend-unavailable":
      return {
        code: 1105,
        sqlState: "HY000",
        message: `could not connect to the database (iamdb correlation id ${CORRELATION}); the operator's auth log has the cause`,
      };
    default:
      // Every failed login, protocol violations in the authentication exchange included.
      return denied;
  }
}

describe("refusal edge: every cause × engine", () => {
  it("refusal edge: the walk covers every cause the auth log knows", () => {
    assert.ok(LOGIN_FAILURE_CAUSES.length >= 31, `${LOGIN_FAILURE_CAUSES.length} causes`);
    for (const c of ["tls-required", "protocol-violation", "client-closed", "db-user-name-too-long"])
      assert.ok(LOGIN_FAILURE_CAUSES.includes(c as LoginFailureCause), c);
  });

  for (const cause of LOGIN_FAILURE_CAUSES) {
    it(`refusal edge: ${cause} on postgres: the client's error, one log line, the metrics`, async () => {
      const s = sinks();
      const r = refusalFor(cause);
      const { bytes, lines, delta } = await drive(s, r, postgresRefusalBytes);
      const want = pgExpected(cause);
      if (want === undefined) assert.equal(bytes, undefined, "nobody to tell");
      else assert.deepEqual(pgError(bytes as Buffer), want);
      assertLine(lines, r);
      assert.deepEqual(delta, expectedDelta(cause, false));
    });

    it(`refusal edge: ${cause} on mysql: the client's error, one log line, the metrics`, async () => {
      const s = sinks();
      const r = refusalFor(cause);
      const { bytes, lines, delta } = await drive(s, r, (x, subject) => mysqlRefusalPacket(3, x, subject));
      const want = mysqlExpected(cause);
      if (want === undefined) assert.equal(bytes, undefined, "nobody to tell");
      else {
        const got = mysqlErr(bytes as Buffer);
        assert.equal(got.seq, 3, "answers the client's last packet");
        assert.deepEqual({ code: got.code, sqlState: got.sqlState, message: got.message }, want);
      }
      assertLine(lines, r);
      assert.deepEqual(delta, expectedDelta(cause, false));
    });
  }

  it("refusal edge: an attempt already counted as a request is not counted again", async () => {
    const s = sinks();
    for (const cause of LOGIN_FAILURE_CAUSES) {
      const { delta } = await drive(s, refusalFor(cause), postgresRefusalBytes, SUBJECT, true);
      assert.deepEqual(delta, expectedDelta(cause, true), cause);
    }
  });

  it("refusal edge: before any handshake, each engine's server words for too many connections", async () => {
    const s = sinks();
    const accept: RefusalSubject = { ...SUBJECT, stage: "accept", dbUser: "" };
    const r: Refusal = { cause: "throttled", detail: "too many connections are logging in at once" };
    const pg = await drive(s, r, postgresRefusalBytes, accept);
    assert.deepEqual(pgError(pg.bytes as Buffer), {
      S: "FATAL",
      V: "FATAL",
      C: "53300",
      M: "sorry, too many clients already",
    });
    assert.deepEqual(pg.delta, expectedDelta("throttled", false));
    const my = await drive(s, r, (x, subject) => mysqlRefusalPacket(0, x, subject), accept);
    assert.deepEqual(mysqlErr(my.bytes as Buffer), {
      seq: 0,
      code: 1040,
      sqlState: undefined,
      message: "Too many connections",
    });
  });

  it("refusal edge: a MySQL protocol violation before the authentication exchange is Bad handshake", async () => {
    const s = sinks();
    const r: Refusal = { cause: "protocol-violation", detail: "a second SSL request inside TLS" };
    const { bytes, delta } = await drive(s, r, (x, subject) => mysqlRefusalPacket(2, x, subject), {
      ...SUBJECT,
      stage: "startup",
    });
    assert.deepEqual(mysqlErr(bytes as Buffer), {
      seq: 2,
      code: 1043,
      sqlState: "08S01",
      message: "Bad handshake",
    });
    assert.deepEqual(delta, expectedDelta("protocol-violation", false));
  });

  it("refusal edge: the backend's own refusal of the session reaches the client as the backend said it", async () => {
    const s = sinks();
    const pg = await drive(
      s,
      {
        cause: "backend-login-failed",
        detail: "backend refused the session: 3D000",
        own: { code: "3D000", message: 'database "nope" does not exist', detail: "from the backend" },
      },
      postgresRefusalBytes,
    );
    assert.deepEqual(pgError(pg.bytes as Buffer), {
      S: "FATAL",
      V: "FATAL",
      C: "3D000",
      M: 'database "nope" does not exist',
      D: "from the backend",
    });
    const my = await drive(
      s,
      {
        cause: "backend-login-failed",
        detail: "backend refused the session",
        own: { code: 1049, sqlState: "42000", message: "Unknown database 'nope'" },
      },
      (x, subject) => mysqlRefusalPacket(3, x, subject),
    );
    assert.deepEqual(mysqlErr(my.bytes as Buffer), {
      seq: 3,
      code: 1049,
      sqlState: "42000",
      message: "Unknown database 'nope'",
    });
    assert.deepEqual(my.delta, expectedDelta("backend-login-failed", false));
  });

  it("refusal edge: a PostgreSQL protocol violation keeps the SQLSTATE the server uses for it", async () => {
    const s = sinks();
    const { bytes } = await drive(
      s,
      {
        cause: "protocol-violation",
        detail: "the startup packet names no user (protocol violation)",
        own: { code: "28000", message: "no PostgreSQL user name specified in startup packet" },
      },
      postgresRefusalBytes,
      { ...SUBJECT, stage: "startup" },
    );
    assert.deepEqual(pgError(bytes as Buffer), {
      S: "FATAL",
      V: "FATAL",
      C: "28000",
      M: "no PostgreSQL user name specified in startup packet",
    });
  });
});

/** The auth-log lines a gateway wrote while `fn` ran, once the refusal's line is there. */
async function loggedBy<T>(gw: TestGateway, fn: () => Promise<T>) {
  const n = gw.log().length;
  const result = await fn();
  for (let i = 0; i < 100 && gw.log().length === n; i++) await new Promise((r) => setTimeout(r, 20));
  return { result, lines: gw.log().slice(n) };
}

describe("refusal edge end to end: PostgreSQL", () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw?.close();
  });
  const id = () => gw.instance().identifier;

  it("refusal edge e2e (pg): no TLS: 28000 with the fix, a tls-required line, counted apart from RDS's", async () => {
    const ended = await gw.metrics.ended(id(), "tls-required");
    const failures = await gw.metrics.counter("iam_db_auth_connection_failure_total", id());
    const { result, lines } = await loggedBy(gw, () =>
      refusal(pgClient(gw.port, "alice", "x", gw.caPem, { ssl: false })),
    );
    assert.equal(result.code, "28000");
    assert.match(result.message, /no pg_hba\.conf entry .* no encryption/);
    assert.equal(lines[0]?.cause, "tls-required");
    assert.equal(await gw.metrics.ended(id(), "tls-required"), ended + 1);
    assert.equal(await gw.metrics.counter("iam_db_auth_connection_failure_total", id()), failures);
  });

  it("refusal edge e2e (pg): a garbage token: PAM failure, cause malformed, one InvalidToken", async () => {
    const before = await gw.metrics.counter("iam_db_auth_connection_failure_invalid_token_total", id());
    const { result, lines } = await loggedBy(gw, () =>
      refusal(pgClient(gw.port, "alice", "not-a-token", gw.caPem)),
    );
    assert.equal(result.code, "28000");
    assert.equal(result.message, 'PAM authentication failed for user "alice"');
    assert.equal(lines[0]?.cause, "malformed");
    assert.equal(
      await gw.metrics.counter("iam_db_auth_connection_failure_invalid_token_total", id()),
      before + 1,
    );
    assert.ok(!gw.logText().includes("not-a-token"), "the password never reaches the log");
  });

  it("refusal edge e2e (pg): a startup packet without a user: 28000, and now an auth-log line", async () => {
    const s = await raw(gw.port);
    const { result, lines } = await loggedBy(gw, async () => {
      s.write(startupMessage({ database: "test" }));
      return readUntilClose(s);
    });
    const e = errorFields(result);
    assert.equal(e.C, "28000");
    assert.equal(e.M, "no PostgreSQL user name specified in startup packet");
    assert.equal(lines[0]?.cause, "protocol-violation");
    assert.match(String(lines[0]?.detail), /names no user/);
  });

  it("refusal edge e2e (pg): GSSENCRequest inside TLS: 08P01, and now an auth-log line", async () => {
    const s = await raw(gw.port);
    s.write(startupPacket((1234 << 16) | 5679));
    const answer: Buffer = await new Promise((resolve) => s.once("data", resolve));
    assert.equal(answer.toString(), "S");
    const secure = tlsConnect({ socket: s, ca: gw.caPem, servername: "localhost" });
    await new Promise((r) => secure.once("secureConnect", r));
    const { result, lines } = await loggedBy(gw, async () => {
      secure.write(startupPacket((1234 << 16) | 5680));
      return readUntilClose(secure);
    });
    const e = errorFields(result);
    assert.equal(e.C, "08P01");
    assert.equal(e.M, "GSSENCRequest received on an encrypted connection");
    assert.equal(lines[0]?.cause, "protocol-violation");
    assert.match(String(lines[0]?.detail), /GSSENCRequest inside TLS/);
  });
});

describe("refusal edge end to end: MySQL", () => {
  let gw: MysqlTestGateway;
  before(async () => {
    gw = await startMysqlTestGateway();
  });
  after(async () => {
    await gw?.close();
  });
  const id = () => gw.instance().identifier;

  it("refusal edge e2e (mysql2): no TLS: 3159, a tls-required line", async () => {
    const { result, lines } = await loggedBy(gw, async () => {
      try {
        await mysql.createConnection({ host: "127.0.0.1", port: gw.port, user: "alice", password: "x" });
      } catch (err) {
        return err as { errno?: number; message: string };
      }
      assert.fail("the connection was accepted");
    });
    assert.equal(result.errno, 3159);
    assert.match(result.message, /insecure transport.*--ssl-ca/);
    assert.equal(lines[0]?.cause, "tls-required");
  });

  it("refusal edge e2e (mysql2): a garbage token: 1045, cause malformed, one InvalidToken", async () => {
    const before = await gw.metrics.counter("iam_db_auth_connection_failure_invalid_token_total", id());
    const { result, lines } = await loggedBy(gw, async () => {
      try {
        await mysql.createConnection({
          host: "localhost",
          port: gw.port,
          user: "alice",
          password: "not-a-token",
          ssl: { ca: gw.caPem },
        });
      } catch (err) {
        return err as { errno?: number; message: string };
      }
      assert.fail("the connection was accepted");
    });
    assert.equal(result.errno, 1045);
    assert.equal(lines[0]?.cause, "malformed");
    assert.equal(
      await gw.metrics.counter("iam_db_auth_connection_failure_invalid_token_total", id()),
      before + 1,
    );
  });

  it("refusal edge e2e (raw TLS): asking for the RSA key is a protocol violation, not an invalid token", async () => {
    const requests = await gw.metrics.counter("iam_db_auth_connection_requests_total", id());
    const invalid = await gw.metrics.counter("iam_db_auth_connection_failure_invalid_token_total", id());
    const violations = await gw.metrics.ended(id(), "protocol-violation");
    const tcp = await raw(gw.port);
    await new Promise((resolve) => tcp.once("data", resolve));
    const caps =
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Capability.SSL;
    tcp.write(encodePacket(1, sslRequest(caps, 45)));
    const secure = tlsConnect({ socket: tcp, ca: gw.caPem, servername: "localhost" });
    await new Promise((r) => secure.once("secureConnect", r));
    const parser = new PacketParser();
    const packets: Buffer[] = [];
    secure.on("data", (c: Buffer) => {
      for (const e of parser.push(c)) if (e.kind === "packet") packets.push(e.payload);
    });
    secure.write(
      encodePacket(
        2,
        handshakeResponse41({
          capabilities: caps,
          charset: 45,
          username: "alice",
          authResponse: randomBytes(32),
          database: undefined,
          authPlugin: Plugin.CACHING_SHA2,
          attributes: undefined,
        }),
      ),
    );
    for (let i = 0; i < 200 && packets.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(packets[0], Buffer.of(0x01, 0x04), "perform full authentication");
    const { result, lines } = await loggedBy(gw, async () => {
      secure.write(encodePacket(4, Buffer.of(0x02)));
      await readUntilClose(secure);
      return packets[1];
    });
    assert.equal(result?.readUInt16LE(1), 1045, "the client still sees a failed login");
    assert.equal(lines[0]?.cause, "protocol-violation");
    assert.match(String(lines[0]?.detail), /RSA public key/);
    assert.equal(await gw.metrics.counter("iam_db_auth_connection_requests_total", id()), requests);
    assert.equal(
      await gw.metrics.counter("iam_db_auth_connection_failure_invalid_token_total", id()),
      invalid,
    );
    assert.equal(await gw.metrics.ended(id(), "protocol-violation"), violations + 1);
  });
});
