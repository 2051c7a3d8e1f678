import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import {
  type EmbeddedPostgres,
  EmbeddedPostgresError,
  startEmbeddedPostgres,
} from "../../src/embedded/index.js";
import {
  BackendParser,
  responseFields,
  SCRAM_SHA_256,
  ScramSha256Client,
  saslInitialResponse,
  saslResponse,
  scramVerifier,
  startupMessage,
} from "../../src/wire/postgres/index.js";
import { frontend, RawClient } from "./wire.js";

let root: string;
let dataDir: string;
let server: EmbeddedPostgres;

const client = (user = server.adminUser, extra: Partial<pg.ClientConfig> = {}) =>
  new pg.Client({ host: server.host, port: server.port, user, database: server.database, ...extra });

async function connected(user?: string, extra?: Partial<pg.ClientConfig>): Promise<pg.Client> {
  const c = client(user, extra);
  await c.connect();
  return c;
}

async function loginError(
  user: string,
  extra: Partial<pg.ClientConfig> = {},
): Promise<{ code?: string; message: string }> {
  const c = client(user, extra);
  c.on("error", () => {});
  try {
    await c.connect();
  } catch (e) {
    return e as { code?: string; message: string };
  } finally {
    await c.end().catch(() => {});
  }
  throw new Error(`${user} logged in`);
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), "iamdb-embedded-"));
  dataDir = join(root, "data");
  server = await startEmbeddedPostgres({ dataDir });
});

after(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe("embedded PostgreSQL (PGlite)", () => {
  it("listens on the port the OS picked and serves PostgreSQL 18 as postgres", async () => {
    assert.ok(server.port > 0);
    assert.equal(server.host, "127.0.0.1");
    const c = await connected();
    try {
      const { rows } = await c.query(
        "SELECT current_user, current_database(), current_setting('server_version_num')::int AS v",
      );
      assert.equal(rows[0].current_user, "postgres");
      assert.equal(rows[0].current_database, "postgres");
      assert.ok(rows[0].v >= 180000);
      await c.query("CREATE TABLE kv (k text PRIMARY KEY, v int)");
      await c.query("INSERT INTO kv VALUES ('kept', 42)");
    } finally {
      await c.end();
    }
  });

  it("serves several clients at once, each transaction kept to its own session", async () => {
    const clients = await Promise.all(Array.from({ length: 6 }, () => connected()));
    try {
      await clients[0]?.query("CREATE TABLE hits (who int, n int)");
      await Promise.all(
        clients.map(async (c, who) => {
          for (let round = 0; round < 5; round++) {
            await c.query("BEGIN");
            await c.query("INSERT INTO hits VALUES ($1, $2)", [who, round]);
            // Parameterised queries from different clients must never bind each other's statements.
            const mine = await c.query("SELECT count(*)::int AS n, $1::int AS who FROM hits WHERE who = $1", [
              who,
            ]);
            assert.deepEqual(mine.rows[0], { n: round + 1, who });
            await c.query("COMMIT");
            const typed = await c.query(who % 2 ? "SELECT $1::int + 1 AS v" : "SELECT $1::text || '!' AS v", [
              who,
            ]);
            assert.equal(typed.rows[0].v, who % 2 ? who + 1 : `${who}!`);
          }
        }),
      );
      const total = await clients[0]?.query("SELECT count(*)::int AS n FROM hits");
      assert.equal(total?.rows[0].n, 30);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it("keeps an extended-protocol sequence together when the client's bytes arrive apart", async () => {
    const raw = await RawClient.open(server.port);
    const other = await connected();
    try {
      raw.send(frontend.sslRequest());
      await waitFor(() => raw.received.toString("latin1") === "N");
      raw.send(frontend.startup({ user: "postgres", database: "postgres" }));
      const start = raw.received.length;
      await raw.until("Z", 1);
      const from = raw.received.length;
      raw.send(frontend.parse("SELECT 'from the raw client' AS v"));
      await raw.until("1", from); // ParseComplete: the backend is now this session's until Sync
      const pending = other.query("SELECT $1::text AS v", ["from pg"]);
      await new Promise((r) => setTimeout(r, 50));
      raw.send(frontend.bind(), frontend.execute(), frontend.sync());
      const messages = await raw.until("Z", from);
      const row = messages.find((m) => m.type === "D");
      assert.ok(row, `expected a DataRow, got ${messages.map((m) => m.type).join("")}`);
      assert.match(row.body.toString("utf8"), /from the raw client/);
      assert.equal((await pending).rows[0].v, "from pg");
      assert.ok(start > 0);
    } finally {
      raw.close();
      await other.end();
    }
  });

  it("rolls back what a client left open when it disconnects, and lets the others on", async () => {
    const quitter = await connected();
    quitter.on("error", () => {});
    await quitter.query("BEGIN");
    await quitter.query("INSERT INTO kv VALUES ('abandoned', 1)");
    // Logging in needs the one backend too, so this waits until the quitter's transaction ends.
    const c = client();
    const login = c.connect();
    await new Promise((r) => setTimeout(r, 50));
    (quitter as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await login;
    try {
      const { rows } = await c.query("SELECT count(*)::int AS n FROM kv WHERE k = 'abandoned'");
      assert.equal(rows[0].n, 0);
    } finally {
      await c.end();
    }
  });

  it("forgets a client that gives up while waiting for the backend", async () => {
    const holder = await connected();
    const quitter = await connected();
    quitter.on("error", () => {});
    try {
      await holder.query("BEGIN");
      const abandoned = quitter.query("SELECT 1").catch(() => "gave up");
      await new Promise((r) => setTimeout(r, 50));
      (quitter as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      assert.equal(await abandoned, "gave up");
      await holder.query("COMMIT");
      assert.equal((await holder.query("SELECT 2 AS v")).rows[0].v, 2);
    } finally {
      await holder.end();
    }
  });

  it("authenticates created roles with SCRAM and runs their sessions as them", async () => {
    const admin = await connected();
    try {
      await admin.query("CREATE ROLE alice LOGIN PASSWORD 'alice-secret'");
      // rds_iam exists from the start (the server makes it, for the grant below).
      await admin.query("GRANT rds_iam TO alice");
      await admin.query("CREATE ROLE carol LOGIN PASSWORD 'carol-secret'");
      await admin.query("CREATE ROLE nologin_role PASSWORD 'x'");
      await admin.query("CREATE TABLE private_t (x int)");
      await admin.query("CREATE TABLE shared_t (x int)");
      await admin.query("GRANT SELECT ON shared_t TO alice");
    } finally {
      await admin.end();
    }
    const alice = await connected("alice", { password: "alice-secret" });
    const admin2 = await connected();
    try {
      const { rows } = await alice.query(
        "SELECT current_user, session_user, pg_has_role('alice', 'rds_iam', 'member') AS iam",
      );
      assert.deepEqual(rows[0], { current_user: "alice", session_user: "alice", iam: true });
      await alice.query("SELECT * FROM shared_t");
      await assert.rejects(alice.query("SELECT * FROM private_t"), { code: "42501" });
      // Sessions alternate on the one backend; each keeps its own identity.
      assert.equal((await admin2.query("SELECT current_user AS u")).rows[0].u, "postgres");
      assert.equal((await alice.query("SELECT current_user AS u")).rows[0].u, "alice");
    } finally {
      await Promise.all([alice.end(), admin2.end()]);
    }
    // PostgreSQL 15+ lets only the owner create in public; the demo's IAM DB users may.
    const carol = await connected("carol", { password: "carol-secret" });
    const alice2 = await connected("alice", { password: "alice-secret" });
    try {
      await alice2.query("CREATE TABLE alice_notes (v int)");
      await alice2.query("INSERT INTO alice_notes VALUES (7)");
      assert.deepEqual((await alice2.query("SELECT v FROM alice_notes")).rows, [{ v: 7 }]);
      await assert.rejects(carol.query("CREATE TABLE carol_notes (v int)"), { code: "42501" });
    } finally {
      await Promise.all([carol.end(), alice2.end()]);
    }
    assert.equal((await loginError("alice", { password: "wrong" })).code, "28P01");
    assert.equal((await loginError("nobody")).code, "28000");
    assert.match((await loginError("nologin_role", { password: "x" })).message, /not permitted to log in/);
    const otherDb = await loginError("postgres", { database: "other" });
    assert.equal(otherDb.code, "3D000");
  });

  it("embedded-codec: reads a query larger than the login's message bound sent along with the startup packet", async () => {
    const raw = await RawClient.open(server.port);
    try {
      const big = "x".repeat(100_000);
      raw.send(
        frontend.startup({ user: "postgres", database: "postgres" }),
        frontend.query(`SELECT length('${big}') AS n`),
      );
      const messages = await raw.until("D");
      const row = messages.find((m) => m.type === "D");
      assert.match(row?.body.toString("latin1") ?? "", /100000/);
      assert.equal(messages.filter((m) => m.type === "E").length, 0);
    } finally {
      raw.close();
    }
  });

  it("embedded-codec: ends a session that breaks the protocol with 08P01 and keeps serving the others", async () => {
    const breakers: [string, Buffer][] = [
      ["invalid frontend message type 89", Buffer.from([0x59, 0, 0, 0, 4])],
      ["invalid message length", Buffer.from([0x51, 0, 0, 0, 2])],
    ];
    for (const [expected, bytes] of breakers) {
      const raw = await RawClient.open(server.port);
      try {
        raw.send(frontend.startup({ user: "postgres", database: "postgres" }));
        const from = (await raw.until("Z")).reduce((n, m) => n + 5 + m.body.length, 0);
        raw.send(bytes);
        const error = fields((await raw.until("E", from)).find((m) => m.type === "E"));
        assert.deepEqual([error.S, error.C, error.M], ["FATAL", "08P01", expected]);
      } finally {
        raw.close();
      }
    }
    const c = await connected();
    try {
      assert.equal((await c.query("SELECT 1 AS v")).rows[0].v, 1);
    } finally {
      await c.end();
    }
  });

  it("embedded-codec: SASL messages that break the protocol get 08P01", async () => {
    const role = "codec_sasl_role";
    const admin = await connected();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD 'codec-secret'`);
      const cases: [RegExp, Buffer][] = [
        [
          /invalid SASL authentication mechanism "SCRAM-SHA-1"/,
          frontend.saslInitial("SCRAM-SHA-1", "n,,n=,r=abc"),
        ],
        [/expected SASL response, got message type 81/, frontend.query("SELECT 1")],
        [/invalid SASLInitialResponse message/, frontend.password("SCRAM-SHA-256")],
        [/malformed SCRAM client-first message/, frontend.saslInitial("SCRAM-SHA-256", "n,,n=")],
      ];
      for (const [expected, bytes] of cases) {
        const raw = await RawClient.open(server.port);
        try {
          raw.send(frontend.startup({ user: role, database: "postgres" }));
          const sasl = (await raw.until("R")).find((m) => m.type === "R");
          assert.equal(sasl?.body.readInt32BE(0), 10, "AuthenticationSASL");
          raw.send(bytes);
          const error = fields((await raw.until("E")).find((m) => m.type === "E"));
          assert.equal(error.C, "08P01", error.M);
          assert.match(error.M ?? "", expected);
        } finally {
          raw.close();
        }
      }
    } finally {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it("embedded-codec: logs in a role whose password is the verifier provisioning writes, with pg and with our SCRAM client", async () => {
    const role = "codec_verifier_role";
    const password = "gateway-held-Password-1";
    const admin = await connected();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD ${admin.escapeLiteral(scramVerifier(password))}`);
      const c = await connected(role, { password });
      try {
        assert.equal((await c.query("SELECT current_user AS u")).rows[0].u, role);
      } finally {
        await c.end();
      }
      assert.equal((await loginError(role, { password: "not-it" })).code, "28P01");
      assert.equal(await scramLogin(server.port, role, password), "ReadyForQuery");
      assert.match(await scramLogin(server.port, role, "not-it"), /^28P01 password authentication failed/);
    } finally {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it("refuses a second server on the same data directory, and a directory that is not PostgreSQL's", async () => {
    await assert.rejects(startEmbeddedPostgres({ dataDir }), (e: unknown) => {
      assert.ok(e instanceof EmbeddedPostgresError);
      assert.match(e.message, /is in use by this process/);
      return true;
    });
    const foreign = join(root, "foreign");
    await mkdir(foreign);
    await writeFile(join(foreign, "notes.txt"), "hello");
    await assert.rejects(
      startEmbeddedPostgres({ dataDir: foreign }),
      /not empty and holds no PostgreSQL data/,
    );
  });

  it("keeps tables and roles across a restart on the same data directory", async () => {
    await server.close();
    server = await startEmbeddedPostgres({ dataDir, port: 0 });
    const c = await connected();
    const alice = await connected("alice", { password: "alice-secret" });
    try {
      assert.deepEqual((await c.query("SELECT v FROM kv WHERE k = 'kept'")).rows, [{ v: 42 }]);
      assert.equal((await c.query("SELECT count(*)::int AS n FROM hits")).rows[0].n, 30);
      assert.equal((await alice.query("SELECT current_user AS u")).rows[0].u, "alice");
    } finally {
      await Promise.all([c.end(), alice.end()]);
    }
  });
});

/** The fields of an ErrorResponse RawClient collected. */
function fields(message: { body: Buffer } | undefined): Record<string, string> {
  assert.ok(message, "expected an ErrorResponse");
  return responseFields(Buffer.concat([Buffer.alloc(5), message.body]));
}

/**
 * Logs in as the gateway does toward a backend (codec + ScramSha256Client); the first message
 * that ends the login: "ReadyForQuery", or the error's SQLSTATE and message.
 */
async function scramLogin(port: number, user: string, password: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  const parser = new BackendParser();
  const scram = new ScramSha256Client(password);
  try {
    return await new Promise<string>((resolve, reject) => {
      socket.on("error", reject);
      socket.on("close", () => reject(new Error("closed before the login ended")));
      socket.on("data", (chunk: Buffer) => {
        for (const m of parser.push(chunk)) {
          if (m.kind === "AuthenticationSASL")
            socket.write(saslInitialResponse(SCRAM_SHA_256, scram.clientFirstMessage()));
          else if (m.kind === "AuthenticationSASLContinue")
            socket.write(saslResponse(scram.handleServerFirst(m.data)));
          else if (m.kind === "AuthenticationSASLFinal") scram.verifyServerFinal(m.data);
          else if (m.kind === "ErrorResponse") resolve(`${m.fields.C} ${m.fields.M}`);
          else if (m.kind === "ReadyForQuery") resolve("ReadyForQuery");
        }
      });
      socket.write(startupMessage({ user, database: "postgres" }));
    });
  } finally {
    socket.destroy();
  }
}

async function waitFor(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
}
