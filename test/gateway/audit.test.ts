// The statement audit end to end: real psql, pg, pgbench, mariadb and mysql2 through the
// gateway, the machine's PostgreSQL and MariaDB behind it. One JSON line per statement with
// the session's identity, never a bind value; the file 0600; under pgbench nothing is lost
// below the queue bound, and above it every statement is either written or counted dropped.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import { DEFAULTS } from "../../src/config/load.js";
import type { StatementAuditConfig } from "../../src/config/types.js";
import { pgClient, psql } from "./clients.js";
import { ACCOUNT, startTestGateway, type TestGateway } from "./fixture.js";
import { mariadbCli, startMysqlTestGateway } from "./mysql-fixture.js";

const run = promisify(execFile);
const suffix = randomBytes(3).toString("hex");

type Line = Record<string, unknown>;

function auditConfig(dir: string, name: string, o: Partial<StatementAuditConfig> = {}): StatementAuditConfig {
  return { ...DEFAULTS.audit, file: join(dir, "audit", `${name}.jsonl`), ...o };
}

function lines(file: string): Line[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
}

async function flushed(gw: TestGateway, id: string): Promise<void> {
  await gw.gateway.audit.get(id)?.flush();
}

async function pgbench(gw: TestGateway, user: string, password: string, args: string[]): Promise<string> {
  const { stdout } = await run(
    "pgbench",
    ["-n", "-h", "localhost", "-p", String(gw.port), "-U", user, ...args, "test"],
    {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        PGPASSWORD: password,
        PGSSLMODE: "verify-full",
        PGSSLROOTCERT: gw.caFile,
      },
      timeout: 120_000,
    },
  );
  return stdout;
}

describe("statement audit: PostgreSQL", () => {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-aud-pg-"));
  const dbUser = `aud_pg_${suffix}`;
  const config = auditConfig(dir, "pg1");
  let gw: TestGateway;
  let key: { accessKeyId: string; secretAccessKey: string };
  const token = () => gw.token(dbUser, key);

  before(async () => {
    gw = await startTestGateway({ audit: config });
    await gw.provision(dbUser);
    key = await gw.userWithAccess("aud-pg-jane", dbUser);
  });
  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("psql's simple Query: one line with the session's identity, the text as sent", async () => {
    const r = await psql(
      `host=localhost port=${gw.port} user=${dbUser} dbname=test sslmode=verify-full sslrootcert=${gw.caFile}`,
      "SELECT 42 AS aud_simple, 'é' AS aud_accent",
      token(),
    );
    assert.equal(r.code, 0, r.stderr);
    await flushed(gw, "pg1");
    const line = lines(config.file).find((l) => String(l.text).includes("aud_simple"));
    assert.ok(line, "a line for the query");
    assert.equal(line.text, "SELECT 42 AS aud_simple, 'é' AS aud_accent");
    assert.equal(line.kind, "query");
    assert.equal(line.instance, "pg1");
    assert.equal(line.engine, "postgres");
    assert.equal(line.principalArn, `arn:aws:iam::${ACCOUNT}:user/aud-pg-jane`);
    assert.equal(line.accessKeyId, key.accessKeyId);
    assert.equal(line.dbUser, dbUser);
    assert.equal(line.database, "test");
    assert.equal(line.statement, undefined);
    assert.equal(line.truncated, undefined);
    assert.ok(!Number.isNaN(Date.parse(String(line.time))));
    // The session id leads to the login's auth-log line.
    const login = gw.log().find((l) => l.decision === "success" && l.correlationId === line.correlationId);
    assert.ok(login, "the auth log's success line has the same correlation id");
    assert.equal(line.sessionId, line.correlationId);
  });

  it("pg's extended protocol: unnamed and named Parse texts, never the bind values; the file is 0600", async () => {
    const c = pgClient(gw.port, dbUser, token(), gw.caPem);
    await c.connect();
    try {
      await c.query("SELECT $1::text AS aud_unnamed", ["aud-secret-bind-1"]);
      await c.query({
        name: "aud_named",
        text: "SELECT $1::text AS aud_named",
        values: ["aud-secret-bind-2"],
      });
      // A named statement is parsed once; executing it again sends no Parse.
      await c.query({
        name: "aud_named",
        text: "SELECT $1::text AS aud_named",
        values: ["aud-secret-bind-3"],
      });
    } finally {
      await c.end();
    }
    await flushed(gw, "pg1");
    const all = lines(config.file);
    const unnamed = all.filter((l) => String(l.text).includes("aud_unnamed"));
    assert.deepEqual(
      unnamed.map((l) => [l.kind, l.statement, l.text]),
      [["parse", "", "SELECT $1::text AS aud_unnamed"]],
    );
    const named = all.filter((l) => String(l.text).includes("AS aud_named"));
    assert.deepEqual(
      named.map((l) => [l.kind, l.statement, l.text]),
      [["parse", "aud_named", "SELECT $1::text AS aud_named"]],
    );
    assert.equal(named[0]?.sessionId, unnamed[0]?.sessionId, "one session");
    assert.doesNotMatch(readFileSync(config.file, "utf8"), /aud-secret-bind/);
    assert.equal(statSync(config.file).mode & 0o777, 0o600);
  });

  it("a text beyond maxTextBytes is cut, and the line says so with its whole length", async () => {
    const long = `SELECT '${"a".repeat(DEFAULTS.audit.maxTextBytes + 100)}' AS aud_long`;
    const c = pgClient(gw.port, dbUser, token(), gw.caPem);
    await c.connect();
    try {
      await c.query(long);
    } finally {
      await c.end();
    }
    await flushed(gw, "pg1");
    const line = lines(config.file).find((l) => String(l.text).startsWith("SELECT 'aaaa") && l.truncated);
    assert.ok(line);
    assert.equal(line.truncated, true);
    assert.equal(line.textBytes, Buffer.byteLength(long));
    assert.equal(line.text, long.slice(0, DEFAULTS.audit.maxTextBytes));
  });

  it("pgbench, 4 clients × 200 transactions below the queue bound: a line for every statement, none dropped", async () => {
    const script = join(dir, "bench.sql");
    writeFileSync(
      script,
      "\\set v random(1, 1000000)\nSELECT :v + 0 AS aud_bench;\nSELECT 2 AS aud_bench2;\n",
    );
    const before = lines(config.file).length;
    const out = await pgbench(gw, dbUser, token(), ["-c", "4", "-j", "2", "-t", "200", "-f", script]);
    assert.match(out, /number of transactions actually processed: 800\/800/);
    await flushed(gw, "pg1");
    const added = lines(config.file).slice(before);
    assert.equal(added.filter((l) => /AS aud_bench;?$/.test(String(l.text))).length, 800);
    assert.equal(added.filter((l) => String(l.text).includes("aud_bench2")).length, 800);
    assert.equal(added.length, 1600, "pgbench sends nothing else");
    assert.equal(new Set(added.map((l) => l.sessionId)).size, 4, "one session per client");
    assert.equal(
      await gw.metrics.value("iamdb_audit_statements_dropped_total", {
        instance: "pg1",
        reason: "queue-full",
      }),
      0,
    );
    assert.equal(
      await gw.metrics.value("iamdb_audit_statements_written_total", { instance: "pg1" }),
      lines(config.file).length,
    );
  });
});

describe("statement audit: PostgreSQL above the queue bound (pipelined Parse messages, queueLines 1)", () => {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-aud-pgq-"));
  const dbUser = `aud_pgq_${suffix}`;
  const config = auditConfig(dir, "pg1", { queueLines: 1 });
  let gw: TestGateway;
  let key: { accessKeyId: string; secretAccessKey: string };

  before(async () => {
    gw = await startTestGateway({ audit: config });
    await gw.provision(dbUser);
    key = await gw.userWithAccess("aud-pgq-jane", dbUser);
  });
  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("every statement is written or counted dropped, and drops are counted", async () => {
    // pgbench sends a pipeline's messages in one write at \endpipeline (libpq flushes a
    // pipeline at its sync): 10 Parse messages reach the relay in one chunk, and with room for
    // one line, at least 9 of each 10 are dropped, whatever the disk's speed.
    const script = join(dir, "pipeline.sql");
    writeFileSync(script, `\\startpipeline\n${"SELECT 1 AS aud_pipe;\n".repeat(10)}\\endpipeline\n`);
    const out = await pgbench(gw, dbUser, gw.token(dbUser, key), [
      "-M",
      "extended",
      "-c",
      "2",
      "-j",
      "1",
      "-t",
      "20",
      "-f",
      script,
    ]);
    assert.match(out, /number of transactions actually processed: 40\/40/);
    await flushed(gw, "pg1");
    const statements = 2 * 20 * 10;
    const written = lines(config.file);
    assert.ok(
      written.every((l) => l.kind === "parse" && l.statement === "" && l.text === "SELECT 1 AS aud_pipe;"),
    );
    const dropped = await gw.metrics.value("iamdb_audit_statements_dropped_total", {
      instance: "pg1",
      reason: "queue-full",
    });
    assert.ok(dropped >= statements * 0.9, `dropped ${dropped}`);
    assert.equal(written.length + dropped, statements);
    assert.equal(
      await gw.metrics.value("iamdb_audit_statements_written_total", { instance: "pg1" }),
      written.length,
    );
    assert.match(
      await gw.metrics.render(),
      /iamdb_audit_statements_dropped_total\{instance="pg1",reason="write-error"\} 0/,
    );
  });
});

describe("statement audit: MySQL (MariaDB)", () => {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-aud-my-"));
  const dbUser = `aud_my_${suffix}`;
  const config = auditConfig(dir, "my1");
  let gw: TestGateway;
  let key: { accessKeyId: string; secretAccessKey: string };
  const token = () => gw.token(dbUser, key, "127.0.0.1");

  before(async () => {
    gw = await startMysqlTestGateway({ audit: config });
    await gw.provision(dbUser);
    key = await gw.userWithAccess("aud-my-jane", dbUser);
  });
  after(async () => {
    await gw?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("the mariadb CLI's COM_QUERY: one line with the session's identity", async () => {
    const r = await mariadbCli(
      gw.port,
      gw.caFile,
      dbUser,
      token(),
      "SELECT 42 AS aud_simple, 'é' AS aud_accent",
      [
        "--enable-cleartext-plugin",
        // The text is UTF-8; without this the CLI declares latin1 here (no locale), and the
        // line shows what the server reads then: "Ã©".
        "--default-character-set=utf8mb4",
      ],
    );
    assert.equal(r.code, 0, r.stderr);
    await flushed(gw, "my1");
    const line = lines(config.file).find((l) => String(l.text).includes("aud_simple"));
    assert.ok(line, "a line for the query");
    assert.equal(line.text, "SELECT 42 AS aud_simple, 'é' AS aud_accent");
    assert.equal(line.kind, "query");
    assert.equal(line.engine, "mariadb");
    assert.equal(line.instance, "my1");
    assert.equal(line.principalArn, `arn:aws:iam::${ACCOUNT}:user/aud-my-jane`);
    assert.equal(line.accessKeyId, key.accessKeyId);
    assert.equal(line.dbUser, dbUser);
    assert.equal(line.database, "test");
  });

  it("mysql2 execute: COM_STMT_PREPARE's text as kind prepare, never the bound values; the file is 0600", async () => {
    const c = await mysql.createConnection({
      host: "127.0.0.1",
      port: gw.port,
      user: dbUser,
      password: token(),
      database: "test",
      ssl: { ca: gw.caPem },
      enableCleartextPlugin: true,
    });
    try {
      await c.execute("SELECT ? AS aud_prepared", ["aud-secret-bind-my"]);
      await c.query("SELECT 7 AS aud_text_query");
    } finally {
      await c.end();
    }
    await flushed(gw, "my1");
    const all = lines(config.file);
    assert.deepEqual(
      all.filter((l) => String(l.text).includes("aud_prepared")).map((l) => [l.kind, l.text]),
      [["prepare", "SELECT ? AS aud_prepared"]],
    );
    assert.deepEqual(
      all.filter((l) => String(l.text).includes("aud_text_query")).map((l) => [l.kind, l.text]),
      [["query", "SELECT 7 AS aud_text_query"]],
    );
    assert.doesNotMatch(readFileSync(config.file, "utf8"), /aud-secret-bind/);
    assert.equal(statSync(config.file).mode & 0o777, 0o600);
  });
});
