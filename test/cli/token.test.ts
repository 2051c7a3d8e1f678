// `iamdb token` and `iamdb inspect-token` as a user runs them: the built bin, real
// credential files, the real aws CLI beside it.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { generateAuthToken, parseAuthToken, verifyAuthToken } from "../../src/index.js";
import { awsCli } from "../helpers/aws.js";
import { iamdb, isolatedHome } from "../helpers/cli.js";
import { CREDS, customToken, TEMP_CREDS } from "../helpers/sign.js";
import { rawParam } from "../helpers/tokens.js";

const ENV_CREDS = { AWS_ACCESS_KEY_ID: CREDS.accessKeyId, AWS_SECRET_ACCESS_KEY: CREDS.secretAccessKey };
const ARGS = ["--hostname", "db.example.com", "--port", "5432", "--username", "jane"];

function signedAt(token: string): Date {
  const p = parseAuthToken(token);
  assert.ok(p.ok, `not a token: ${token.slice(0, 40)}`);
  return new Date(p.token.signedAtMs);
}

/** What the library signs for these inputs at the token's own time: equality proves the CLI used them. */
function expectSignedWith(
  token: string,
  credentials: typeof CREDS & { sessionToken?: string },
  region: string,
) {
  const expected = generateAuthToken({
    hostname: "db.example.com",
    port: 5432,
    username: "jane",
    region,
    credentials,
    signingDate: signedAt(token),
  });
  assert.equal(token, expected);
}

function homeWithProfiles(): string {
  const home = isolatedHome();
  mkdirSync(join(home, ".aws"));
  writeFileSync(
    join(home, ".aws", "credentials"),
    `[default]\naws_access_key_id = ${CREDS.accessKeyId}\naws_secret_access_key = ${CREDS.secretAccessKey}\n\n` +
      `[temp]\naws_access_key_id = ${TEMP_CREDS.accessKeyId}\naws_secret_access_key = ${TEMP_CREDS.secretAccessKey}\n` +
      `aws_session_token = ${TEMP_CREDS.sessionToken}\n`,
  );
  const script = join(home, "creds.sh");
  writeFileSync(
    script,
    `#!/bin/sh\necho '${JSON.stringify({ Version: 1, AccessKeyId: TEMP_CREDS.accessKeyId, SecretAccessKey: TEMP_CREDS.secretAccessKey, SessionToken: TEMP_CREDS.sessionToken })}'\n`,
  );
  chmodSync(script, 0o755);
  writeFileSync(
    join(home, ".aws", "config"),
    `[default]\nregion = eu-central-1\n\n[profile temp]\nregion = ap-southeast-2\n\n` +
      `[profile proc]\nregion = us-west-2\ncredential_process = ${script}\n`,
  );
  return home;
}

describe("iamdb token", () => {
  it("signs with environment credentials like `aws rds generate-db-auth-token`", async () => {
    const env = { ...ENV_CREDS, AWS_DEFAULT_REGION: "us-west-2" };
    const aws = await awsCli(["rds", "generate-db-auth-token", ...ARGS], env);
    const ours = await iamdb(["token", ...ARGS], env);
    assert.equal(ours.code, 0, ours.stderr);
    const token = ours.stdout.trim();
    expectSignedWith(token, CREDS, "us-west-2");
    expectSignedWith(aws, CREDS, "us-west-2");
    // Same inputs and, once the clocks are aligned, the same bytes.
    const awsAtOurTime = generateAuthToken({
      hostname: "db.example.com",
      port: 5432,
      username: "jane",
      region: "us-west-2",
      credentials: CREDS,
      signingDate: signedAt(aws),
    });
    assert.equal(aws, awsAtOurTime);
  });

  it("reads the default profile and its region from ~/.aws", async () => {
    const r = await iamdb(["token", ...ARGS], { HOME: homeWithProfiles() });
    assert.equal(r.code, 0, r.stderr);
    expectSignedWith(r.stdout.trim(), CREDS, "eu-central-1");
  });

  it("uses --profile, and AWS_PROFILE, with the session token of temporary credentials", async () => {
    const home = homeWithProfiles();
    for (const [args, env] of [
      [["--profile", "temp"], { HOME: home }],
      [[], { HOME: home, AWS_PROFILE: "temp" }],
    ] as const) {
      const r = await iamdb(["token", ...ARGS, ...args], env);
      assert.equal(r.code, 0, r.stderr);
      expectSignedWith(r.stdout.trim(), TEMP_CREDS, "ap-southeast-2");
    }
  });

  it("--profile wins over environment credentials, as in the AWS CLI", async () => {
    const r = await iamdb(["token", ...ARGS, "--profile", "temp"], {
      HOME: homeWithProfiles(),
      ...ENV_CREDS,
    });
    assert.equal(r.code, 0, r.stderr);
    expectSignedWith(r.stdout.trim(), TEMP_CREDS, "ap-southeast-2");
  });

  it("runs credential_process", async () => {
    const r = await iamdb(["token", ...ARGS, "--profile", "proc"], { HOME: homeWithProfiles() });
    assert.equal(r.code, 0, r.stderr);
    expectSignedWith(r.stdout.trim(), TEMP_CREDS, "us-west-2");
  });

  it("--region overrides the profile's region", async () => {
    const r = await iamdb(["token", ...ARGS, "--region", "sa-east-1"], { HOME: homeWithProfiles() });
    assert.equal(r.code, 0, r.stderr);
    expectSignedWith(r.stdout.trim(), CREDS, "sa-east-1");
  });

  it("prints a token the verifier accepts", async () => {
    const r = await iamdb(["token", ...ARGS, "--region", "us-east-1"], ENV_CREDS);
    const v = await verifyAuthToken(r.stdout.trim(), {
      hostnames: ["db.example.com"],
      port: 5432,
      region: "us-east-1",
      dbUser: "jane",
      lookupCredential: (id) =>
        id === CREDS.accessKeyId ? { secretAccessKey: CREDS.secretAccessKey, status: "Active" } : undefined,
    });
    assert.equal(v.ok ? "ok" : v.detail, "ok");
  });

  it("says how to provide credentials when there are none (exit 1)", async () => {
    const r = await iamdb(["token", ...ARGS, "--region", "us-east-1"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no AWS credentials found: set AWS_ACCESS_KEY_ID .*aws configure/);
    assert.equal(r.stdout, "");
  });

  it("says how to set a region when there is none (exit 1)", async () => {
    const r = await iamdb(["token", ...ARGS], ENV_CREDS);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no AWS region: pass --region/);
  });

  it("names a missing profile (exit 1)", async () => {
    const r = await iamdb(["token", ...ARGS, "--profile", "nope"], { HOME: homeWithProfiles() });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /profile "nope"/);
  });

  it("exits 2 on usage errors", async () => {
    for (const args of [
      ["token", "--hostname", "h"],
      ["token", ...ARGS.slice(0, 2), "--port", "x", "--username", "u"],
      ["nonsense"],
    ]) {
      const r = await iamdb(args, ENV_CREDS);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.notEqual(r.stderr, "");
    }
  });

  it("exits 1 with the reason for a port out of range", async () => {
    const r = await iamdb(
      ["token", "--hostname", "h", "--port", "70000", "--username", "u", "--region", "us-east-1"],
      ENV_CREDS,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /port must be an integer from 1 to 65535/);
  });
});

describe("iamdb and the AWS SDK's warnings", () => {
  // The SDK warns at its first client on Node < 22 (on Node >= 22 this test holds trivially).
  it("a profile that assumes a role (the SDK builds an STS client): no NodeVersionSupportWarning on stderr", async () => {
    const home = homeWithProfiles();
    writeFileSync(
      join(home, ".aws", "config"),
      "[profile assumer]\nregion = us-east-1\nrole_arn = arn:aws:iam::123456789012:role/db\nsource_profile = default\n",
    );
    // An STS that refuses the connection: the client is built, the call fails at once.
    const r = await iamdb(["token", ...ARGS, "--profile", "assumer"], {
      HOME: home,
      AWS_ENDPOINT_URL_STS: "http://127.0.0.1:1",
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /profile "assumer" gave no credentials/);
    assert.doesNotMatch(r.stderr, /NodeVersionSupportWarning/);
  });
});

describe("iamdb inspect-token", () => {
  it("decodes a fresh token without printing its secrets (exit 0)", async () => {
    const token = generateAuthToken({
      hostname: "db.example.com",
      port: 5432,
      username: "jane",
      region: "us-east-1",
      credentials: TEMP_CREDS,
    });
    const r = await iamdb(["inspect-token", "--json", token]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.host, "db.example.com");
    assert.equal(report.port, 5432);
    assert.equal(report.dbUser, "jane");
    assert.equal(report.accessKeyId, TEMP_CREDS.accessKeyId);
    assert.equal(report.sessionToken, "present");
    assert.ok(report.secondsLeft > 890 && report.secondsLeft <= 900);
    assert.ok(!r.stdout.includes(rawParam(token, "X-Amz-Signature")));
    assert.ok(!r.stdout.includes(rawParam(token, "X-Amz-Security-Token")));
  });

  it("reads stdin with '-' and reports an expired token (exit 1)", async () => {
    const r = await iamdb(["inspect-token", "-"], {}, `${customToken({ at: Date.now() - 3600_000 })}\n`);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /DB user: +jane/);
    assert.match(r.stdout, /problem: +expired \d+ s ago: generate a new token/);
  });

  it("reports what looks wrong: too long a life, scope date, key/session mismatch", async () => {
    const long = customToken({ expires: 3600, at: Date.now() });
    const r = await iamdb(["inspect-token", long]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /X-Amz-Expires is 3600 s/);
    const odd = customToken({ credentials: { ...CREDS, sessionToken: "s" }, at: Date.now() });
    const s = await iamdb(["inspect-token", odd]);
    assert.match(s.stdout, /AKIA \(long-term\) key with a session token/);
  });

  it("explains that a password is not a token (exit 1), without echoing it", async () => {
    const r = await iamdb(["inspect-token", "correct-horse-battery"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /not an RDS auth token/);
    assert.ok(!r.stdout.includes("correct-horse"));
  });

  it("on garbage, says the real problem first and no fields it could not read", async () => {
    const r = await iamdb(["inspect-token", "-"], {}, "not a token at all\n");
    assert.equal(r.code, 1);
    assert.match(r.stdout.split("\n")[0] ?? "", /^problem: +the password is not an RDS auth token/);
    assert.doesNotMatch(r.stdout, /session token/);
  });

  it("a reader that goes away (| head -3) ends it quietly: no EPIPE stack, the command's own exit code", async () => {
    const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "iamdb.js");
    const child = spawn(process.execPath, [bin, "inspect-token", "-"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: isolatedHome() },
      stdio: ["pipe", "pipe", "pipe"],
    });
    // Our end of its stdout closes before it has written anything (it waits for stdin).
    child.stdout.destroy();
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const code = new Promise<number | null>((resolve) => child.on("close", resolve));
    child.stdin.end(`${customToken({ at: Date.now() })}\n`);
    assert.equal(await code, 0);
    assert.equal(stderr, "");
  });
});
