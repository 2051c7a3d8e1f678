// COM_CHANGE_USER through the MySQL gateway: re-authenticated with a token as a login is, the
// session moved to the new user's IAM-only account, the live session following the new
// identity; any failure ends the session with 1045 and nothing reaches the backend as is.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import { generateAuthToken } from "../../src/index.js";
import { ID, type MysqlTestGateway, REGION, startMysqlTestGateway } from "./mysql-fixture.js";

const ALICE = "par_cu_alice";
const BOB = "par_cu_bob";
const PLAIN = "par_cu_plain";
let gw: MysqlTestGateway;
let alice: { accessKeyId: string; secretAccessKey: string };
let bob: { accessKeyId: string; secretAccessKey: string };
const secrets: string[] = [];

function token(user: string, credentials: typeof alice, port = gw.port): string {
  const t = generateAuthToken({
    hostname: "127.0.0.1",
    port,
    username: user,
    region: REGION,
    credentials,
  }) as string;
  secrets.push(t);
  return t;
}

/** The auth log lines added while `fn` ran. */
async function logged<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; lines: Array<Record<string, unknown>> }> {
  const n = gw.log().length;
  const result = await fn();
  await new Promise((r) => setTimeout(r, 50));
  return { result, lines: gw.log().slice(n) };
}

/** mysql2 with its default options: the token as the password (caching_sha2_password). */
function connect(user: string, password: string) {
  return mysql.createConnection({
    host: "127.0.0.1",
    port: gw.port,
    user,
    password,
    database: "test",
    ssl: { ca: gw.caPem },
  });
}

async function whoAmI(c: mysql.Connection): Promise<string> {
  const [rows] = await c.query("select current_user() u");
  return String((rows as Array<{ u: string }>)[0]?.u);
}

/** Calls changeUser and returns its error (undefined when it succeeded). */
function changeUser(c: mysql.Connection, options: mysql.ConnectionOptions) {
  return c.changeUser(options).then(
    () => undefined,
    (err: { errno?: number; message: string }) => err,
  );
}

before(async () => {
  gw = await startMysqlTestGateway();
  alice = await gw.userWithAccess("par-cu-alice", ALICE);
  bob = await gw.userWithAccess("par-cu-bob", BOB);
  secrets.push(alice.secretAccessKey, bob.secretAccessKey);
  await gw.provision(ALICE);
  await gw.provision(BOB);
});

after(async () => {
  try {
    for (const u of [ALICE, BOB, PLAIN]) await gw.unprovision(u);
  } finally {
    await gw.close();
  }
});

describe("MySQL gateway: COM_CHANGE_USER with a token", () => {
  it("mysql2 changeUser to another IAM user: the session is that user's, and the live session follows", async () => {
    const c = await connect(ALICE, token(ALICE, alice));
    try {
      await c.query("set @before_change = 1");
      assert.match(await whoAmI(c), /^par_cu_alice@/);
      const before = gw.gateway.live.list({}).filter((r) => r.dbUser === ALICE);
      assert.equal(before.length, 1);
      const { result, lines } = await logged(() =>
        changeUser(c, { user: BOB, password: token(BOB, bob), database: "test" }),
      );
      assert.equal(result, undefined, result?.message);
      assert.match(await whoAmI(c), /^par_cu_bob@/);
      // A new backend session: nothing of Alice's is left.
      const [rows] = await c.query("select @before_change v");
      assert.equal((rows as Array<{ v: unknown }>)[0]?.v, null);
      const ok = lines.find((l) => l.decision === "success");
      assert.equal(ok?.dbUser, BOB);
      assert.equal(ok?.accessKeyId, bob.accessKeyId);
      assert.match(String(ok?.detail), /COM_CHANGE_USER/);
      const live = gw.gateway.live.list({});
      assert.equal(live.filter((r) => r.dbUser === ALICE).length, 0);
      const now = live.filter((r) => r.dbUser === BOB);
      assert.equal(now.length, 1);
      assert.equal(now[0]?.accessKeyId, bob.accessKeyId);
      assert.equal(now[0]?.sessionId, ok?.correlationId);
      // And back again: a second change on the same connection.
      assert.equal(
        await changeUser(c, { user: ALICE, password: token(ALICE, alice), database: "test" }),
        undefined,
      );
      assert.match(await whoAmI(c), /^par_cu_alice@/);
    } finally {
      await c.end();
    }
  });

  it("an administrator's termination reaches a session after its change of user", async () => {
    const c = await connect(ALICE, token(ALICE, alice));
    c.on("error", () => undefined);
    try {
      assert.equal(
        await changeUser(c, { user: BOB, password: token(BOB, bob), database: "test" }),
        undefined,
      );
      const n = gw.gateway.live.terminateLocal({ dbUser: BOB }, { reason: "test", kind: "terminated" });
      assert.equal(n, 1);
      await assert.rejects(c.query("select 1"), (err: { errno?: number }) => err.errno === 1927);
    } finally {
      c.destroy();
    }
  });

  it("a token for another DB user, another port, or a non-IAM account: 1045, the session ends, the cause in the log", async () => {
    await gw.unprovision(PLAIN);
    await withRoot((r) => r.query(`create user '${PLAIN}'@'%' identified by ''`));
    const cases: Array<[string, mysql.ConnectionOptions, RegExp]> = [
      ["another user's token", { user: BOB, password: token(ALICE, alice) }, /DBUser|user/i],
      ["another port", { user: BOB, password: token(BOB, bob, gw.port + 1) }, /port|host/i],
      ["not an IAM account", { user: PLAIN, password: "" }, /./],
      ["the backend's root", { user: "root", password: "" }, /./],
    ];
    for (const [name, options, cause] of cases) {
      const c = await connect(ALICE, token(ALICE, alice));
      c.on("error", () => undefined);
      const { result, lines } = await logged(() => changeUser(c, { ...options, database: "test" }));
      assert.equal(result?.errno, 1045, `${name}: ${result?.message}`);
      const failure = lines.find((l) => l.decision === "failure");
      assert.match(String(failure?.detail), /COM_CHANGE_USER/, name);
      assert.match(String(failure?.detail), cause, name);
      await assert.rejects(c.query("select 1"), name);
      c.destroy();
    }
    assert.equal(
      gw.gateway.live.list({}).filter((r) => r.dbUser === ALICE).length,
      0,
      "no live session left",
    );
  });

  it("COM_CHANGE_USER with a password that is no token: 1045, logged and counted as an invalid token, as such a login is", async () => {
    const counter = (name: string) => gw.metrics.counter(name, ID);
    const requests = await counter("iam_db_auth_connection_requests_total");
    const invalid = await counter("iam_db_auth_connection_failure_invalid_token_total");
    const c = await connect(ALICE, token(ALICE, alice));
    c.on("error", () => undefined);
    try {
      const { result, lines } = await logged(() =>
        changeUser(c, { user: BOB, password: "not-a-token", database: "test" }),
      );
      assert.equal(result?.errno, 1045, result?.message);
      const failure = lines.find((l) => l.decision === "failure");
      assert.equal(failure?.cause, "malformed");
      assert.match(String(failure?.detail), /^COM_CHANGE_USER \(session /);
      // The login counted one request; the change of user one more, and one invalid token.
      assert.equal(await counter("iam_db_auth_connection_requests_total"), requests + 2);
      assert.equal(await counter("iam_db_auth_connection_failure_invalid_token_total"), invalid + 1);
    } finally {
      c.destroy();
    }
  });

  it("no token reached the auth log", () => {
    const text = gw.logText();
    for (const s of secrets) assert.ok(!text.includes(s), "a secret reached the auth log");
  });
});

async function withRoot(fn: (c: mysql.Connection) => Promise<unknown>): Promise<void> {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", database: "test" });
  try {
    await fn(c);
  } finally {
    await c.end();
  }
}
