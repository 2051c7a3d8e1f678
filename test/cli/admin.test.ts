import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Command, CommanderError } from "commander";
import { ensureAdministrator } from "../../src/api/bootstrap.js";
import { registerAdminCommands } from "../../src/cli/admin/register.js";
import { EXIT_USAGE } from "../../src/cli/errors.js";
import type { CliIO } from "../../src/cli/io.js";
import { ACCOUNT, type Harness, policy, startHarness } from "../api/helpers.js";

interface Run {
  code: number;
  out: string;
  err: string;
}

/** Runs `iamdb ARGS` through a program set up as src/cli/main.ts sets it up. */
async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = {
    out: (t) => out.push(t),
    err: (t) => err.push(t),
    readStdin: async () => "",
    env,
  };
  let code = 0;
  const program = new Command("iamdb")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  registerAdminCommands(program, io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    code = e.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("iamdb iam|sts|rds", () => {
  let h: Harness;
  let dd: string[];
  before(async () => {
    h = await startHarness();
    await ensureAdministrator({ iam: h.iam, dataDir: h.dir, endpointUrl: h.api.url, region: "us-east-1" });
    dd = ["--data-dir", h.dir];
  });
  after(() => h.dispose());

  it("creates a user and prints aws's JSON shape", async () => {
    const r = await run(["iam", "create-user", "--user-name", "jane", "--tags", "Key=team,Value=db", ...dd]);
    assert.equal(r.code, 0, r.err);
    const parsed = JSON.parse(r.out) as { User: Record<string, unknown> };
    assert.deepEqual(Object.keys(parsed.User), ["Path", "UserName", "UserId", "Arn", "CreateDate", "Tags"]);
    assert.equal(parsed.User.Arn, `arn:aws:iam::${ACCOUNT}:user/jane`);
    assert.match(String(parsed.User.CreateDate), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    assert.deepEqual(parsed.User.Tags, [{ Key: "team", Value: "db" }]);
    assert.match(r.out, /^\{\n {4}"User": \{\n {8}"Path": "\/",/);
  });

  it("creates an access key", async () => {
    const r = await run(["iam", "create-access-key", "--user-name", "jane", ...dd]);
    assert.equal(r.code, 0, r.err);
    const k = (JSON.parse(r.out) as { AccessKey: Record<string, string> }).AccessKey;
    assert.deepEqual(Object.keys(k).sort(), [
      "AccessKeyId",
      "CreateDate",
      "SecretAccessKey",
      "Status",
      "UserName",
    ]);
  });

  it("reads --policy-document file:// and prints the document decoded", async () => {
    const file = join(h.dir, "p.json");
    const doc = policy({ Effect: "Allow", Action: "rds-db:connect", Resource: "*" });
    writeFileSync(file, doc);
    const put = await run([
      "iam",
      "put-user-policy",
      "--user-name",
      "jane",
      "--policy-name",
      "connect",
      "--policy-document",
      `file://${file}`,
      ...dd,
    ]);
    assert.equal(put.code, 0, put.err);
    assert.equal(put.out, "");
    const got = await run([
      "iam",
      "get-user-policy",
      "--user-name",
      "jane",
      "--policy-name",
      "connect",
      ...dd,
    ]);
    assert.deepEqual(JSON.parse(got.out), {
      UserName: "jane",
      PolicyName: "connect",
      PolicyDocument: JSON.parse(doc),
    });
  });

  it("prints AWS errors like aws and exits 1", async () => {
    const r = await run(["iam", "get-user", "--user-name", "nobody", ...dd]);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.equal(
      r.err,
      "\nAn error occurred (NoSuchEntity) when calling the GetUser operation: The user with name nobody cannot be found.",
    );
  });

  it("exits 2 on usage errors", async () => {
    const missing = await run(["iam", "create-user", ...dd]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /--user-name/);
    const badInt = await run(["iam", "list-users", "--max-items", "zero", ...dd]);
    assert.equal(badInt.code, 2);
  });

  it("pages like aws: all items by default, NextToken with --max-items", async () => {
    for (const n of ["pa", "pb", "pc"])
      await run(["iam", "create-user", "--user-name", n, "--path", "/p/", ...dd]);
    const all = JSON.parse(
      (await run(["iam", "list-users", "--path-prefix", "/p/", "--page-size", "1", ...dd])).out,
    ) as {
      Users: { UserName: string }[];
    };
    assert.deepEqual(
      all.Users.map((u) => u.UserName),
      ["pa", "pb", "pc"],
    );
    assert.equal("IsTruncated" in all, false);
    const first = JSON.parse(
      (await run(["iam", "list-users", "--path-prefix", "/p/", "--max-items", "2", ...dd])).out,
    ) as {
      Users: { UserName: string }[];
      NextToken: string;
    };
    assert.deepEqual(
      first.Users.map((u) => u.UserName),
      ["pa", "pb"],
    );
    const rest = JSON.parse(
      (await run(["iam", "list-users", "--path-prefix", "/p/", "--starting-token", first.NextToken, ...dd]))
        .out,
    ) as { Users: { UserName: string }[] };
    assert.deepEqual(
      rest.Users.map((u) => u.UserName),
      ["pc"],
    );
  });

  it("simulates a principal policy", async () => {
    const r = await run([
      "iam",
      "simulate-principal-policy",
      "--policy-source-arn",
      `arn:aws:iam::${ACCOUNT}:user/jane`,
      "--action-names",
      "rds-db:connect",
      "iam:CreateUser",
      ...dd,
    ]);
    assert.equal(r.code, 0, r.err);
    const results = (
      JSON.parse(r.out) as { EvaluationResults: { EvalActionName: string; EvalDecision: string }[] }
    ).EvaluationResults;
    assert.deepEqual(
      results.map((e) => [e.EvalActionName, e.EvalDecision]),
      [
        ["rds-db:connect", "allowed"],
        ["iam:CreateUser", "implicitDeny"],
      ],
    );
  });

  it("assumes a role and reports the caller", async () => {
    const trust = policy({
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
      Action: "sts:AssumeRole",
    });
    const created = await run([
      "iam",
      "create-role",
      "--role-name",
      "ops",
      "--assume-role-policy-document",
      trust,
      ...dd,
    ]);
    assert.equal(created.code, 0, created.err);
    const role = JSON.parse(created.out) as { Role: { AssumeRolePolicyDocument: unknown } };
    assert.deepEqual(role.Role.AssumeRolePolicyDocument, JSON.parse(trust));
    const r = await run([
      "sts",
      "assume-role",
      "--role-arn",
      `arn:aws:iam::${ACCOUNT}:role/ops`,
      "--role-session-name",
      "s1",
      ...dd,
    ]);
    assert.equal(r.code, 0, r.err);
    const out = JSON.parse(r.out) as {
      Credentials: { Expiration: string };
      AssumedRoleUser: { Arn: string };
    };
    assert.equal(out.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/ops/s1`);
    assert.match(out.Credentials.Expiration, /\+00:00$/);
    const me = JSON.parse((await run(["sts", "get-caller-identity", ...dd])).out) as { Arn: string };
    assert.equal(me.Arn, `arn:aws:iam::${ACCOUNT}:user/iamdb-admin`);
  });

  it("describes and modifies DB instances", async () => {
    const on = await run([
      "rds",
      "modify-db-instance",
      "--db-instance-identifier",
      "orders",
      "--enable-iam-database-authentication",
      "--apply-immediately",
      ...dd,
    ]);
    assert.equal(on.code, 0, on.err);
    assert.equal(
      (JSON.parse(on.out) as { DBInstance: { IAMDatabaseAuthenticationEnabled: boolean } }).DBInstance
        .IAMDatabaseAuthenticationEnabled,
      true,
    );
    const d = JSON.parse(
      (await run(["rds", "describe-db-instances", "--db-instance-identifier", "orders", ...dd])).out,
    ) as {
      DBInstances: { IAMDatabaseAuthenticationEnabled: boolean; Endpoint: object }[];
    };
    assert.equal(d.DBInstances[0]?.IAMDatabaseAuthenticationEnabled, true);
    assert.deepEqual(d.DBInstances[0]?.Endpoint, { Address: "orders.local", Port: 15432 });
    const off = await run([
      "rds",
      "modify-db-instance",
      "--db-instance-identifier",
      "orders",
      "--no-enable-iam-database-authentication",
      ...dd,
    ]);
    assert.equal(
      (JSON.parse(off.out) as { DBInstance: { IAMDatabaseAuthenticationEnabled: boolean } }).DBInstance
        .IAMDatabaseAuthenticationEnabled,
      false,
    );
    const filtered = JSON.parse(
      (await run(["rds", "describe-db-instances", "--filters", "Name=engine,Values=mysql", ...dd])).out,
    ) as { DBInstances: { DBInstanceIdentifier: string }[] };
    assert.deepEqual(
      filtered.DBInstances.map((i) => i.DBInstanceIdentifier),
      ["billing"],
    );
    const tag = await run([
      "rds",
      "add-tags-to-resource",
      "--resource-name",
      `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
      "--tags",
      "Key=env,Value=prod",
      ...dd,
    ]);
    assert.equal(tag.code, 0, tag.err);
    const tags = JSON.parse(
      (
        await run([
          "rds",
          "list-tags-for-resource",
          "--resource-name",
          `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
          ...dd,
        ])
      ).out,
    ) as { TagList: object[] };
    assert.deepEqual(tags.TagList, [{ Key: "env", Value: "prod" }]);
  });

  it("uses --endpoint-url, --profile and --region like aws", async () => {
    const none = await run(["iam", "list-users", "--data-dir", join(h.dir, "missing")]);
    assert.equal(none.code, 1);
    assert.match(none.err, /iamdb up/);
    const refused = await run(["iam", "list-users", "--endpoint-url", "http://127.0.0.1:1", ...dd]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /Could not connect to the endpoint URL: "http:\/\/127\.0\.0\.1:1\/"/);
    const env = { AWS_ACCESS_KEY_ID: h.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: h.admin.secretAccessKey };
    const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    Object.assign(process.env, env);
    try {
      const r = await run(
        [
          "sts",
          "get-caller-identity",
          "--endpoint-url",
          h.api.url,
          "--region",
          "eu-west-1",
          "--data-dir",
          join(h.dir, "missing"),
        ],
        env,
      );
      assert.equal(r.code, 0, r.err);
      assert.equal((JSON.parse(r.out) as { Arn: string }).Arn, `arn:aws:iam::${ACCOUNT}:user/root-admin`);
    } finally {
      if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      else process.env.AWS_ACCESS_KEY_ID = saved.id;
      if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    }
  });
});
