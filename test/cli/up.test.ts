// `iamdb up` on a fresh data directory, as a user runs it: the built bin, the embedded
// PostgreSQL, the admin API driven by the real aws CLI, a DB user, a token, and psql.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { IamdbStatus } from "../../src/app/status.js";
import { psql } from "../gateway/clients.js";
import { awsCli } from "../helpers/aws.js";
import { iamdb } from "../helpers/cli.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "iamdb.js");

let dir: string;
let child: ChildProcess;
let stdout = "";
let status: IamdbStatus;

function waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`iamdb up did not print ${pattern} within ${timeoutMs} ms; output:\n${stdout}`)),
      timeoutMs,
    );
    const check = () => {
      if (pattern.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", (d) => {
      stdout += d;
      check();
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`iamdb up exited (${code}) early; output:\n${stdout}`));
    });
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "iamdb-up-"));
  const config = join(dir, "iamdb.json");
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir, "data"),
      api: { port: 0 },
      ops: { port: 0 },
      instances: [
        { identifier: "iamdb-postgres", listen: { port: 0 }, port: 0, endpoints: ["localhost", "127.0.0.1"] },
      ],
    }),
  );
  child = spawn(process.execPath, [BIN, "up", "--config", config], {
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.on("data", (d) => {
    stdout += d;
  });
  await waitFor(/psql "host=/, 60_000);
  const r = await iamdb(["status", "--json", "--config", config]);
  assert.equal(r.code, 0, r.stderr);
  status = JSON.parse(r.stdout) as IamdbStatus;
});

after(async () => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("iamdb up", () => {
  it("reports what runs: API URL, instances with listen address, endpoints and CA file, admin credentials", () => {
    assert.match(status.apiUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    const pg = status.instances[0];
    assert.ok(pg);
    assert.equal(pg.identifier, "iamdb-postgres");
    assert.equal(pg.engine, "postgres");
    assert.ok(pg.listen.port > 0 && pg.port === pg.listen.port);
    assert.deepEqual(pg.endpoints, ["localhost", "127.0.0.1"]);
    assert.match(pg.dbiResourceId, /^db-[A-Z0-9]{26}$/);
    assert.ok(pg.caFile && readFileSync(pg.caFile, "utf8").includes("BEGIN CERTIFICATE"));
    assert.equal(pg.backend.embedded, true);
    assert.equal(
      statSync(status.adminCredentials.credentialsFile).mode & 0o077,
      0,
      "admin credentials are 0600",
    );
    assert.ok(!stdout.includes("aws_secret_access_key"), "the admin secret is never printed");
  });

  it("the quickstart works: aws CLI creates a user, key and policy; db-user create; token; psql verify-full", async () => {
    const admin = {
      AWS_SHARED_CREDENTIALS_FILE: status.adminCredentials.credentialsFile,
      AWS_CONFIG_FILE: status.adminCredentials.configFile,
      AWS_PROFILE: status.adminCredentials.profile,
    };
    const aws = (args: string[]) =>
      awsCli(["--endpoint-url", status.apiUrl, "--region", "us-east-1", ...args], admin);
    await aws(["iam", "create-user", "--user-name", "jane"]);
    const key = JSON.parse(await aws(["iam", "create-access-key", "--user-name", "jane"])).AccessKey;
    const pg = status.instances[0] as IamdbStatus["instances"][number];
    const arn = `arn:aws:rds-db:us-east-1:000000000000:dbuser:${pg.dbiResourceId}/jane`;
    await aws([
      "iam",
      "put-user-policy",
      "--user-name",
      "jane",
      "--policy-name",
      "connect",
      "--policy-document",
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: arn }],
      }),
    ]);
    const created = await iamdb([
      "db-user",
      "create",
      "--db-instance-identifier",
      "iamdb-postgres",
      "--username",
      "jane",
      "--data-dir",
      status.dataDir,
    ]);
    assert.equal(created.code, 0, created.stderr);
    const tok = await iamdb(
      [
        "token",
        "--hostname",
        "localhost",
        "--port",
        String(pg.port),
        "--username",
        "jane",
        "--region",
        "us-east-1",
      ],
      { AWS_ACCESS_KEY_ID: key.AccessKeyId, AWS_SECRET_ACCESS_KEY: key.SecretAccessKey },
    );
    assert.equal(tok.code, 0, tok.stderr);
    const conninfo = `host=localhost port=${pg.port} sslmode=verify-full sslrootcert=${pg.caFile} dbname=postgres user=jane`;
    const r = await psql(conninfo, "select current_user", tok.stdout.trim());
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "jane");
    // What a person tries next: a table. PostgreSQL 15+ lets only the owner create in
    // public; the embedded database lets IAM DB users (rds_iam) do it.
    const t = await psql(
      conninfo,
      "create table notes (v int); insert into notes values (1); select v, pg_get_userbyid(relowner) from notes, pg_class where relname = 'notes'",
      tok.stdout.trim(),
    );
    assert.equal(t.code, 0, t.stderr);
    assert.match(t.stdout, /(^|\n)1\|jane$/);
  });

  it("serves metrics and health", async () => {
    const metrics = await (await fetch(`${status.opsUrl}/metrics`)).text();
    assert.match(metrics, /iam_db_auth_connection_success_total\{instance="iamdb-postgres"\} [1-9]/);
    assert.equal((await fetch(`${status.opsUrl}/healthz`)).status, 200);
    assert.equal((await fetch(`${status.opsUrl}/readyz`)).status, 200);
  });

  it("SIGTERM drains and exits 0, and status then reports nothing running (exit 1)", async () => {
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    assert.equal(await exited, 0);
    const r = await iamdb(["status", "--json", "--data-dir", status.dataDir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not running/);
  });
});
