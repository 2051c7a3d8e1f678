// `iamdb up --config` as a user runs it: every command the quickstart prints, run verbatim;
// the auth log's fix hint run verbatim; and `iamdb doctor` on good and broken logins.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { IamdbStatus } from "../../src/app/status.js";
import { callIamdb } from "../../src/cli/admin/iamdb-client.js";
import { generateAuthToken } from "../../src/token/index.js";
import { psql } from "../gateway/clients.js";
import { type CliResult, iamdb } from "../helpers/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIN = join(ROOT, "bin", "iamdb.js");
const ID = "iamdb-postgres";

let dir: string;
let configFile: string;
let child: ChildProcess;
let stdout = "";
let status: IamdbStatus;
let jane: { AccessKeyId: string; SecretAccessKey: string };
let home: string;

/** Runs a printed command line as a shell would, from the directory `iamdb up` ran in. */
function sh(line: string, env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const c = spawn("bash", ["-c", line], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        AWS_EC2_METADATA_DISABLED: "true",
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    c.stdout.on("data", (d) => {
      out += d;
    });
    c.stderr.on("data", (d) => {
      err += d;
    });
    c.on("error", reject);
    c.on("close", (code) => resolve({ code, stdout: out, stderr: err }));
  });
}

/** The quickstart line that starts with `prefix` (joined with its continuation line). */
function printed(prefix: string): string {
  const lines = stdout.split("\n").map((l) => l.trim());
  const n = lines.findIndex((l) => l.startsWith(prefix));
  assert.ok(n >= 0, `the quickstart prints ${prefix}:\n${stdout}`);
  const line = lines[n] as string;
  return (line.endsWith("\\") ? `${line.slice(0, -1)} ${lines[n + 1]}` : line).replace(/\s+#.*$/, "");
}

const janeEnv = () => ({ AWS_ACCESS_KEY_ID: jane.AccessKeyId, AWS_SECRET_ACCESS_KEY: jane.SecretAccessKey });
const port = () => (status.instances[0] as IamdbStatus["instances"][number]).port;
const tokenFor = (o: { host?: string; port?: number; user?: string; at?: Date; keyId?: string } = {}) =>
  generateAuthToken({
    hostname: o.host ?? "localhost",
    port: o.port ?? port(),
    username: o.user ?? "jane",
    region: "us-east-1",
    credentials: { accessKeyId: o.keyId ?? jane.AccessKeyId, secretAccessKey: jane.SecretAccessKey },
    ...(o.at === undefined ? {} : { signingDate: o.at }),
  });
const doctor = (args: string[], env: Record<string, string> = {}) =>
  iamdb(["doctor", "--db-instance-identifier", ID, "--config", configFile, ...args], { HOME: home, ...env });

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "iamdb-dr-"));
  home = mkdtempSync(join(tmpdir(), "iamdb-dr-home-"));
  configFile = join(dir, "app.json");
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: join(dir, "state"),
      api: { port: 0 },
      ops: { port: 0 },
      instances: [
        // The first name does not resolve: the quickstart must sign for the one that does.
        {
          identifier: ID,
          listen: { port: 0 },
          port: 0,
          endpoints: ["iamdb-dr-nowhere.invalid", "localhost"],
        },
      ],
    }),
  );
  child = spawn(process.execPath, [BIN, "up", "--config", configFile], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: home },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.on("data", (d) => {
    stdout += d;
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`iamdb up printed no quickstart:\n${stdout}`)), 60_000);
    child.stdout?.on("data", (d) => {
      stdout += d;
      if (/psql "host=/.test(stdout)) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once("exit", (code) => reject(new Error(`iamdb up exited (${code}):\n${stdout}`)));
  });
  const r = await iamdb(["status", "--json", "--config", configFile], { HOME: home });
  assert.equal(r.code, 0, r.stderr);
  status = JSON.parse(r.stdout) as IamdbStatus;
});

after(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

describe("the quickstart under --config", () => {
  it("signs for the endpoint that resolves, says why, and names the instance's database", () => {
    assert.match(
      stdout,
      /the first endpoint, iamdb-dr-nowhere\.invalid, does not resolve on this host; signing for localhost/,
    );
    assert.match(stdout, /generate-db-auth-token --hostname localhost --port \d+ /);
    assert.match(stdout, /psql "host=localhost port=\d+ .* dbname=postgres user=jane password=\$TOKEN"/);
  });

  it("every printed admin command carries --config and works as printed", async () => {
    const create = printed("./bin/iamdb.js iam create-user");
    assert.match(create, new RegExp(`--config ${configFile}$`));
    let r = await sh(create);
    assert.equal(r.code, 0, r.stderr);
    r = await sh(printed("./bin/iamdb.js iam create-access-key"));
    assert.equal(r.code, 0, r.stderr);
    jane = JSON.parse(r.stdout).AccessKey;
    r = await sh(printed("./bin/iamdb.js iam put-user-policy"));
    assert.equal(r.code, 0, r.stderr);
    const dbUser = printed("./bin/iamdb.js db-user create");
    assert.match(dbUser, new RegExp(`--config ${configFile}$`));
    assert.doesNotMatch(dbUser, /--data-dir/);
    r = await sh(dbUser);
    assert.equal(r.code, 0, r.stderr);
  });

  it("the printed token and psql lines log in", async () => {
    const token = (
      await sh(printed("TOKEN=$(aws rds").replace(/^TOKEN=\$\((.*)\)$/, "$1"), janeEnv())
    ).stdout.trim();
    const conninfo = /psql "(.*) password=\$TOKEN"/.exec(stdout)?.[1] as string;
    const r = await psql(conninfo, "select current_user", token);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "jane");
  });

  it("the auth log's fix for db-user-not-iam-enabled carries --config and works as printed", async () => {
    const conninfo = `host=localhost port=${port()} sslmode=verify-full sslrootcert=${status.instances[0]?.caFile} dbname=postgres user=iamdb_dr_bob`;
    const r = await psql(conninfo, "select 1", tokenFor({ user: "iamdb_dr_bob" }));
    assert.notEqual(r.code, 0);
    // The auth log is written after the client has its answer: wait for the line (functional deadline).
    const refusal = () =>
      readFileSync(join(dir, "state", "auth.log"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l))
        .reverse()
        .find((e) => e.cause === "db-user-not-iam-enabled");
    let entry = refusal();
    for (let i = 0; entry === undefined && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      entry = refusal();
    }
    assert.ok(entry, "the refusal is in the auth log");
    const fix = /create it with: (iamdb db-user create .*?) \(or take over/.exec(entry.detail)?.[1];
    assert.equal(
      fix,
      `iamdb db-user create --db-instance-identifier ${ID} --username iamdb_dr_bob --config ${configFile}`,
    );
    // doctor tells the same cause and sentence, before the fix is run.
    const d = await doctor(["--token", tokenFor({ user: "iamdb_dr_bob" }), "--json"]);
    assert.equal(d.code, 1, d.stderr);
    const report = JSON.parse(d.stdout);
    assert.equal(report.Cause, "db-user-not-iam-enabled");
    assert.equal(report.Detail, entry.detail);
    const ran = await sh(fix.replace(/^iamdb /, "./bin/iamdb.js "));
    assert.equal(ran.code, 0, ran.stderr);
    const del = await sh(
      `./bin/iamdb.js db-user delete --db-instance-identifier ${ID} --username iamdb_dr_bob --config ${configFile}`,
    );
    assert.equal(del.code, 0, del.stderr);
  });

  it("an unknown instance names the served ones; without --config the error points at --config", async () => {
    let r = await iamdb(
      ["db-user", "list", "--db-instance-identifier", "app-postgres", "--config", configFile],
      { HOME: home },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /DBInstance app-postgres not found\..*serves iamdb-postgres in us-east-1/);
    r = await iamdb(
      ["db-user", "list", "--db-instance-identifier", "app-postgres", "--data-dir", status.dataDir],
      { HOME: home },
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pass the --config FILE that iamdb up runs with/);
  });
});

describe("iamdb doctor", () => {
  it("a good token (--username signs it with the caller's AWS credentials): would succeed, exit 0, no secret echoed", async () => {
    const r = await doctor(["--username", "jane"], janeEnv());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /The login would succeed\./);
    assert.match(
      r.stdout,
      /ok +policy +rds-db:connect on arn:aws:rds-db:us-east-1:000000000000:dbuser:db-[A-Z0-9]{26}\/jane allowed by statement #0 of identity policy "connect"/,
    );
    assert.match(r.stdout, /signer: arn:aws:iam::000000000000:user\/jane/);
    for (const name of [
      "iam-switch",
      "token-format",
      "scope",
      "time",
      "endpoint",
      "db-user",
      "key",
      "key-status",
      "db-account",
    ]) {
      assert.match(r.stdout, new RegExp(`ok +${name} `));
    }
    assert.ok(!r.stdout.includes(jane.SecretAccessKey));
    assert.doesNotMatch(r.stdout, /X-Amz-Signature|[0-9a-f]{64}/);
  });

  it("--token - reads the token from stdin and never prints it", async () => {
    const token = tokenFor();
    const r = await iamdb(
      ["doctor", "--db-instance-identifier", ID, "--config", configFile, "--token", "-", "--json"],
      { HOME: home },
      token,
    );
    assert.equal(r.code, 0, r.stderr);
    const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(token)?.[1] as string;
    assert.ok(!r.stdout.includes(signature) && !r.stdout.includes(token));
    const report = JSON.parse(r.stdout);
    assert.equal(report.WouldSucceed, true);
    assert.equal(report.Token.AccessKeyId, jane.AccessKeyId);
    assert.equal(report.PolicyDecision.Decision, "allowed");
  });

  for (const [name, make, cause, detail] of [
    [
      "expired",
      () => tokenFor({ at: new Date(Date.now() - 20 * 60_000) }),
      "expired",
      /the token age is longer than 900 s: it expired \d+ s ago; generate a new token/,
    ],
    [
      "wrong host",
      () => tokenFor({ host: "db.example.com" }),
      "host-mismatch",
      /generated for host db\.example\.com, but this endpoint answers for iamdb-dr-nowhere\.invalid, localhost/,
    ],
    [
      "wrong port",
      () => tokenFor({ port: 1 }),
      "port-mismatch",
      /generated for port 1, but this endpoint's port is \d+/,
    ],
    [
      "unknown key",
      () => tokenFor({ keyId: "AKIAIAMDBDRNOSUCHKEY" }),
      "unknown-key",
      /access key AKIAIAMDBDRNOSUCHKEY does not exist/,
    ],
  ] as const) {
    it(`${name}: fails with ${cause}, exit 1, the cause's sentence and what to do`, async () => {
      const r = await doctor(["--token", make()]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(r.stdout, new RegExp(`The login would FAIL: ${cause} \\(`));
      assert.match(r.stdout, detail);
      assert.match(r.stdout, /-- +policy +not evaluated: the token was refused/);
      if (cause !== "expired" && cause !== "host-mismatch") assert.match(r.stdout, /^Fix: /m);
    });
  }

  it("a DB user that is not IAM-enabled: db-user-not-iam-enabled with the command to run", async () => {
    const r = await doctor(["--username", "iamdb_dr_nobody"], janeEnv());
    assert.equal(r.code, 1);
    assert.match(r.stdout, /FAIL db-account +DB user "iamdb_dr_nobody" is not an IAM-enabled account/);
    assert.match(
      r.stdout,
      new RegExp(
        `The login would FAIL: db-user-not-iam-enabled .*--username iamdb_dr_nobody --config ${configFile}`,
      ),
    );
  });

  it("the IAM switch off: iam-disabled, named first, with the command that turns it on", async () => {
    const off = await iamdb(
      [
        "rds",
        "modify-db-instance",
        "--db-instance-identifier",
        ID,
        "--no-enable-iam-database-authentication",
        "--config",
        configFile,
      ],
      { HOME: home },
    );
    assert.equal(off.code, 0, off.stderr);
    try {
      const r = await doctor(["--username", "jane"], janeEnv());
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        new RegExp(
          `The login would FAIL: iam-disabled .*--enable-iam-database-authentication --config ${configFile}`,
        ),
      );
      assert.match(r.stdout, /ok +policy /, "the other checks still run");
    } finally {
      const on = await iamdb(
        [
          "rds",
          "modify-db-instance",
          "--db-instance-identifier",
          ID,
          "--enable-iam-database-authentication",
          "--config",
          configFile,
        ],
        { HOME: home },
      );
      assert.equal(on.code, 0, on.stderr);
    }
  });

  it("a policy denial names the statement that decided", async () => {
    const deny = JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Sid: "NoJaneHere", Effect: "Deny", Action: "rds-db:connect", Resource: "*" }],
    });
    const put = await iamdb(
      [
        "iam",
        "put-user-policy",
        "--user-name",
        "jane",
        "--policy-name",
        "guard",
        "--policy-document",
        deny,
        "--config",
        configFile,
      ],
      { HOME: home },
    );
    assert.equal(put.code, 0, put.stderr);
    try {
      const r = await doctor(["--username", "jane"], janeEnv());
      assert.equal(r.code, 1);
      assert.match(
        r.stdout,
        /The login would FAIL: not-authorized \(NotAuthorized, status 403\): 'arn:aws:iam::000000000000:user\/jane' is not authorized to perform rds-db:connect: .* denied by statement "NoJaneHere" \(#0\) of identity policy "guard"/,
      );
      assert.match(r.stdout, /Deny statement "NoJaneHere" \(#0\) of identity policy "guard"/);
      assert.match(r.stdout, /^Fix: an explicit deny wins/m);
    } finally {
      await iamdb(
        [
          "iam",
          "delete-user-policy",
          "--user-name",
          "jane",
          "--policy-name",
          "guard",
          "--config",
          configFile,
        ],
        { HOME: home },
      );
    }
  });

  it("the admin API refuses ExplainDBLogin to a caller without iamdb:ExplainDBLogin", async () => {
    const run = (args: string[]) => iamdb([...args, "--config", configFile], { HOME: home });
    await run(["iam", "create-user", "--user-name", "iamdb_dr_reader"]);
    await run([
      "iam",
      "put-user-policy",
      "--user-name",
      "iamdb_dr_reader",
      "--policy-name",
      "rds",
      "--policy-document",
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: ["rds:*", "iamdb:ListDBUsers"], Resource: "*" }],
      }),
    ]);
    const key = JSON.parse(
      (await run(["iam", "create-access-key", "--user-name", "iamdb_dr_reader"])).stdout,
    ).AccessKey;
    const connection = {
      endpoint: status.apiUrl,
      region: "us-east-1",
      credentials: { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey },
    };
    await assert.rejects(
      callIamdb(connection, "ExplainDBLogin", { DBInstanceIdentifier: ID, Token: tokenFor() }),
      (err: Error) => {
        assert.match(err.message, /\(AccessDenied\).*iamdb:ExplainDBLogin/);
        return true;
      },
    );
    // The same caller may do what its policy allows: the refusal is the action's.
    await callIamdb(connection, "ListDBUsers", { DBInstanceIdentifier: ID });
  });
});
