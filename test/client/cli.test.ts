// `iamdb proxy` and `iamdb connect` as a user runs them: child processes, credentials from
// the standard chain's environment variables, real psql / mariadb, real gateways.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { REGION, startTestGateway, type TestGateway } from "../gateway/fixture.js";
import { type MysqlTestGateway, startMysqlTestGateway } from "../gateway/mysql-fixture.js";
import { kitName, psqlNoPassword, startForward } from "./helpers.js";

const ENTRY = join(dirname(fileURLToPath(import.meta.url)), "iamdb-entry.ts");
let pgGw: TestGateway;
let myGw: MysqlTestGateway;
let pgCreds: { accessKeyId: string; secretAccessKey: string };
let myCreds: { accessKeyId: string; secretAccessKey: string };
const pgUser = kitName();
const myUser = kitName();
const home = mkdtempSync(join(tmpdir(), "kit-home-"));
const children: ChildProcess[] = [];

/** The environment a user would have: AWS keys in the standard variables, a HOME of its own. */
function env(
  creds: { accessKeyId: string; secretAccessKey: string } | undefined,
  extra: Record<string, string> = {},
) {
  return {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: home,
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: join(home, "aws-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(home, "aws-credentials"),
    IAMDB_LOG_LEVEL: "info",
    ...(creds ? { AWS_ACCESS_KEY_ID: creds.accessKeyId, AWS_SECRET_ACCESS_KEY: creds.secretAccessKey } : {}),
    ...extra,
  };
}

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function iamdb(args: string[], environment: Record<string, string>): Run {
  const child = spawn(process.execPath, ["--import", "tsx", ENTRY, ...args], {
    env: environment,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  let err = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    err += d;
  });
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** Waits for the proxy's start line and returns the port it listens on. */
async function listeningPort(r: Run): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const m = /iamdb proxy: \w+ [\d.]+:(\d+)/.exec(r.stdout());
    if (m) return Number(m[1]);
    if (r.child.exitCode !== null) break;
    await sleep(50);
  }
  throw new Error(`the proxy did not start:\n${r.stdout()}\n${r.stderr()}`);
}

before(async () => {
  pgGw = await startTestGateway();
  pgCreds = await pgGw.userWithAccess(kitName("kitiam"), pgUser);
  await pgGw.provision(pgUser);
  myGw = await startMysqlTestGateway();
  myCreds = await myGw.userWithAccess(kitName("kitiam"), myUser);
  await myGw.provision(myUser);
});

after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  try {
    await pgGw.close();
  } finally {
    await myGw.close();
    rmSync(home, { recursive: true, force: true });
  }
});

describe("iamdb proxy (command line)", () => {
  it("the documented form serves psql -w, and SIGTERM drains an open session, then exits 0", async () => {
    const r = iamdb(
      [
        "proxy",
        "--engine",
        "postgres",
        "--target",
        `127.0.0.1:${pgGw.port}`,
        "--listen",
        "127.0.0.1:0",
        "--username",
        pgUser,
        "--region",
        REGION,
        "--ca-file",
        pgGw.caFile,
        "--token-host",
        "localhost",
      ],
      env(pgCreds),
    );
    const port = await listeningPort(r);
    assert.match(r.stdout(), new RegExp(`connect: psql "host=127\\.0\\.0\\.1 port=${port} user=${pgUser}"`));
    const q = await psqlNoPassword(`host=127.0.0.1 port=${port} dbname=test`, "select current_user");
    assert.equal(q.code, 0, q.stderr);
    assert.equal(q.stdout, pgUser);

    const c = new pg.Client({ host: "127.0.0.1", port, database: "test" });
    await c.connect();
    c.on("error", () => undefined);
    const query = c.query("select pg_sleep(0.5), 'finished' as f");
    r.child.kill("SIGTERM");
    assert.equal((await query).rows[0]?.f, "finished");
    await c.end();
    assert.equal(await r.exit, 0);
    // Structured lines on stderr (JSON when not a terminal), and never a secret.
    const lines = r
      .stderr()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { msg: string });
    assert.ok(lines.some((l) => l.msg === "iamdb proxy listening"));
    assert.ok(lines.some((l) => /SIGTERM: no new connections; draining/.test(l.msg)));
    assert.ok(!r.stderr().includes(pgCreds.secretAccessKey) && !r.stderr().includes("X-Amz-Signature"));
  });

  it("refuses a non-loopback --listen without --allow-non-loopback (exit 2), and says why", async () => {
    const r = iamdb(
      [
        "proxy",
        "--engine",
        "postgres",
        "--target",
        `127.0.0.1:${pgGw.port}`,
        "--listen",
        "0.0.0.0:0",
        "--username",
        pgUser,
        "--region",
        REGION,
      ],
      env(pgCreds),
    );
    assert.equal(await r.exit, 2);
    assert.match(
      r.stderr(),
      /--listen 0\.0\.0\.0 is not a loopback address.*logs in .* with your AWS identity.*--allow-non-loopback/,
    );
  });

  it("with --allow-non-loopback it binds 0.0.0.0", async () => {
    const r = iamdb(
      [
        "proxy",
        "--engine",
        "postgres",
        "--target",
        `127.0.0.1:${pgGw.port}`,
        "--token-host",
        "localhost",
        "--ca-file",
        pgGw.caFile,
        "--listen",
        "0.0.0.0:0",
        "--allow-non-loopback",
        "--username",
        pgUser,
        "--region",
        REGION,
      ],
      env(pgCreds),
    );
    const port = await listeningPort(r);
    assert.match(r.stdout(), /iamdb proxy: postgres 0\.0\.0\.0:/);
    const q = await psqlNoPassword(`host=127.0.0.1 port=${port} dbname=test`, "select 1");
    assert.equal(q.code, 0, q.stderr);
    r.child.kill("SIGTERM");
    assert.equal(await r.exit, 0);
  });

  it("no AWS credentials: exit 1 with what to run; an SSO profile: aws sso login --profile", async () => {
    const args = [
      "proxy",
      "--engine",
      "postgres",
      "--target",
      `127.0.0.1:${pgGw.port}`,
      "--listen",
      "127.0.0.1:0",
      "--username",
      pgUser,
      "--region",
      REGION,
    ];
    const none = iamdb(args, env(undefined));
    assert.equal(await none.exit, 1);
    assert.match(
      none.stderr(),
      /no AWS credentials found .*set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME/,
    );
    writeFileSync(
      join(home, "aws-config"),
      "[profile kitsso]\nsso_session = kit\nsso_account_id = 123456789012\nsso_role_name = Dev\nregion = us-east-1\n[sso-session kit]\nsso_start_url = https://kit.awsapps.com/start\nsso_region = us-east-1\n",
    );
    try {
      const sso = iamdb([...args, "--profile", "kitsso"], env(undefined));
      assert.equal(await sso.exit, 1);
      assert.match(sso.stderr(), /no AWS credentials: run `aws sso login --profile kitsso`/);
    } finally {
      rmSync(join(home, "aws-config"), { force: true });
    }
  });

  it("--config with two targets, PostgreSQL and MySQL, in one process", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kit-cfg-"));
    try {
      const file = join(dir, "proxy.json");
      writeFileSync(
        file,
        JSON.stringify({
          targets: [
            {
              name: "pg",
              engine: "postgres",
              target: `127.0.0.1:${pgGw.port}`,
              tokenHost: "localhost",
              listen: "127.0.0.1:0",
              username: pgUser,
              caFile: pgGw.caFile,
              region: REGION,
            },
            {
              name: "my",
              engine: "mariadb",
              target: `127.0.0.1:${myGw.port}`,
              tokenHost: "localhost",
              listen: "127.0.0.1:0",
              username: myUser,
              caFile: myGw.caFile,
              region: REGION,
              database: "test",
            },
          ],
        }),
      );
      // Each gateway user may connect only as its own DB user: one identity signing for both here.
      const both = await pgGw.userWithAccess(kitName("kitiam"), pgUser);
      const r = iamdb(["proxy", "--config", file], env(both));
      await listeningPort(r);
      for (let i = 0; i < 100 && !/mysql/.test(r.stdout()); i++) await sleep(50);
      const ports = [...r.stdout().matchAll(/iamdb proxy: (\w+) [\d.]+:(\d+)/g)].map(
        (m) => [m[1], Number(m[2])] as const,
      );
      assert.deepEqual(
        ports.map(([e]) => e),
        ["postgres", "mysql"],
      );
      const q = await psqlNoPassword(
        `host=127.0.0.1 port=${ports[0]?.[1]} dbname=test`,
        "select current_user",
      );
      assert.equal(q.code, 0, q.stderr);
      assert.equal(q.stdout, pgUser);
      r.child.kill("SIGTERM");
      assert.equal(await r.exit, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("iamdb connect", () => {
  it("runs psql with a fresh token (verify-full), never on its command line", async () => {
    const r = iamdb(
      [
        "connect",
        "--host",
        "localhost",
        "--port",
        String(pgGw.port),
        "--username",
        pgUser,
        "--database",
        "test",
        "--region",
        REGION,
        "--ca-file",
        pgGw.caFile,
        "--",
        "-XAt",
        "-c",
        "select current_user, pg_sleep(1)",
      ],
      env(pgCreds),
    );
    // While psql runs, look at every process's command line for a token.
    let seen = false;
    while (r.child.exitCode === null) {
      for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        let cmdline = "";
        try {
          cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
          continue;
        }
        // Debian's /usr/bin/psql is a wrapper that execs /usr/lib/postgresql/N/bin/psql.
        if (/^(\S*\/)?psql\0/.test(cmdline)) {
          if (cmdline.includes(String(pgGw.port))) seen = true;
          assert.ok(!cmdline.includes("X-Amz"), "the token is on psql's command line");
        }
      }
      await sleep(100);
    }
    assert.equal(await r.exit, 0, r.stderr());
    assert.ok(seen, "psql's command line was never seen");
    assert.equal(r.stdout().trim(), `${pgUser}|`);
    assert.match(r.stdout() + (pgGw.log().at(-1)?.decision as string), /success/);
  });

  it("psql through a forward with --token-host NAME:PORT (certificate checked for NAME)", async () => {
    const fwd = await startForward({ host: "127.0.0.1", port: pgGw.port });
    try {
      const r = iamdb(
        [
          "connect",
          "--host",
          "127.0.0.1",
          "--port",
          String(fwd.port),
          "--token-host",
          `localhost:${pgGw.port}`,
          "--username",
          pgUser,
          "--database",
          "test",
          "--region",
          REGION,
          "--ca-file",
          pgGw.caFile,
          "--",
          "-XAtc",
          "select current_user",
        ],
        env(pgCreds),
      );
      assert.equal(await r.exit, 0, r.stderr());
      assert.equal(r.stdout().trim(), pgUser);
    } finally {
      await fwd.close();
    }
  });

  it("runs the mariadb client with the token in an option file on fd 3, not on its command line", async () => {
    const r = iamdb(
      [
        "connect",
        "--engine",
        "mysql",
        "--host",
        "localhost",
        "--port",
        String(myGw.port),
        "--username",
        myUser,
        "--database",
        "test",
        "--region",
        REGION,
        "--ca-file",
        myGw.caFile,
        "--",
        "-N",
        "-B",
        "-e",
        "select current_user()",
      ],
      env(myCreds),
    );
    assert.equal(await r.exit, 0, r.stderr());
    assert.equal(r.stdout().trim(), `${myUser}@%`);
  });

  it("passes the client's exit code on, with its error", async () => {
    const r = iamdb(
      [
        "connect",
        "--host",
        "localhost",
        "--port",
        String(pgGw.port),
        "--username",
        pgUser,
        "--database",
        "test",
        "--region",
        REGION,
        "--ca-file",
        pgGw.caFile,
        "--",
        "-XAtc",
        "select * from kit_no_such_table",
      ],
      env(pgCreds),
    );
    assert.equal(await r.exit, 1);
    assert.match(r.stderr(), /relation "kit_no_such_table" does not exist/);
  });
});
