import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ensureAdministrator } from "../../src/api/bootstrap.js";
import { awsCliResult } from "../helpers/aws.js";
import { ACCOUNT, type Harness, policy, startHarness } from "./helpers.js";

/** The machine's `aws` (botocore), isolated from any real AWS configuration. */
const aws = awsCliResult;

// The aws CLI is part of the test setup (.ci/run installs Debian's awscli when it is missing).
describe("scripted scenario with the real aws CLI", () => {
  let h: Harness;
  let adminEnv: Record<string, string>;
  let endpoint: string[];
  before(async () => {
    h = await startHarness();
    endpoint = ["--endpoint-url", h.api.url, "--region", "us-east-1"];
    adminEnv = { AWS_ACCESS_KEY_ID: h.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: h.admin.secretAccessKey };
  });
  after(() => h.dispose());

  const json = async (args: string[], env = adminEnv) => {
    const r = await aws([...args, ...endpoint], env);
    assert.equal(r.code, 0, `aws ${args.join(" ")}: ${r.stderr}`);
    // biome-ignore lint/suspicious/noExplicitAny: aws prints free-form JSON; each field is asserted where read.
    return r.stdout.trim() === "" ? {} : (JSON.parse(r.stdout) as Record<string, any>);
  };

  it("users, keys, groups, policies, roles, assume-role, simulate and RDS", async () => {
    const user = await json(["iam", "create-user", "--user-name", "jane", "--tags", "Key=team,Value=db"]);
    assert.equal(user.User.Arn, `arn:aws:iam::${ACCOUNT}:user/jane`);
    const key = await json(["iam", "create-access-key", "--user-name", "jane"]);
    const janeEnv = {
      AWS_ACCESS_KEY_ID: key.AccessKey.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: key.AccessKey.SecretAccessKey,
    };
    assert.equal(
      (await json(["iam", "list-access-keys", "--user-name", "jane"])).AccessKeyMetadata.length,
      1,
    );

    const file = join(h.dir, "connect.json");
    const doc = policy({ Effect: "Allow", Action: "rds-db:connect", Resource: "*" });
    writeFileSync(file, doc);
    await json([
      "iam",
      "put-user-policy",
      "--user-name",
      "jane",
      "--policy-name",
      "connect",
      "--policy-document",
      `file://${file}`,
    ]);
    const inline = await json(["iam", "get-user-policy", "--user-name", "jane", "--policy-name", "connect"]);
    assert.deepEqual(inline.PolicyDocument, JSON.parse(doc));

    await json(["iam", "create-group", "--group-name", "readers"]);
    await json(["iam", "add-user-to-group", "--group-name", "readers", "--user-name", "jane"]);
    assert.deepEqual(
      (await json(["iam", "get-group", "--group-name", "readers"])).Users.map(
        (u: { UserName: string }) => u.UserName,
      ),
      ["jane"],
    );
    const managed = await json([
      "iam",
      "create-policy",
      "--policy-name",
      "describe-rds",
      "--policy-document",
      policy({ Effect: "Allow", Action: ["rds:DescribeDBInstances", "sts:AssumeRole"], Resource: "*" }),
    ]);
    await json(["iam", "attach-group-policy", "--group-name", "readers", "--policy-arn", managed.Policy.Arn]);
    assert.deepEqual(
      (await json(["iam", "list-attached-group-policies", "--group-name", "readers"])).AttachedPolicies,
      [{ PolicyName: "describe-rds", PolicyArn: managed.Policy.Arn }],
    );
    await json([
      "iam",
      "create-policy-version",
      "--policy-arn",
      managed.Policy.Arn,
      "--policy-document",
      policy({ Effect: "Allow", Action: ["rds:DescribeDBInstances", "sts:AssumeRole"], Resource: "*" }),
      "--set-as-default",
    ]);
    assert.equal(
      (await json(["iam", "get-policy", "--policy-arn", managed.Policy.Arn])).Policy.DefaultVersionId,
      "v2",
    );

    const trust = policy({
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/jane` },
      Action: "sts:AssumeRole",
    });
    await json(["iam", "create-role", "--role-name", "db-ops", "--assume-role-policy-document", trust]);
    await json([
      "iam",
      "put-role-policy",
      "--role-name",
      "db-ops",
      "--policy-name",
      "modify",
      "--policy-document",
      policy({ Effect: "Allow", Action: "rds:ModifyDBInstance", Resource: "*" }),
    ]);
    assert.deepEqual(
      (await json(["iam", "get-role", "--role-name", "db-ops"])).Role.AssumeRolePolicyDocument,
      JSON.parse(trust),
    );

    const me = await json(["sts", "get-caller-identity"], janeEnv);
    assert.equal(me.Arn, `arn:aws:iam::${ACCOUNT}:user/jane`);
    const assumed = await json(
      [
        "sts",
        "assume-role",
        "--role-arn",
        `arn:aws:iam::${ACCOUNT}:role/db-ops`,
        "--role-session-name",
        "jane-ops",
      ],
      janeEnv,
    );
    assert.equal(assumed.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/db-ops/jane-ops`);
    const roleEnv = {
      AWS_ACCESS_KEY_ID: assumed.Credentials.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: assumed.Credentials.SecretAccessKey,
      AWS_SESSION_TOKEN: assumed.Credentials.SessionToken,
    };

    const sim = await json([
      "iam",
      "simulate-principal-policy",
      "--policy-source-arn",
      `arn:aws:iam::${ACCOUNT}:user/jane`,
      "--action-names",
      "rds-db:connect",
      "rds:DescribeDBInstances",
      "rds:ModifyDBInstance",
    ]);
    assert.deepEqual(
      sim.EvaluationResults.map((e: { EvalActionName: string; EvalDecision: string }) => [
        e.EvalActionName,
        e.EvalDecision,
      ]),
      [
        ["rds-db:connect", "allowed"],
        ["rds:DescribeDBInstances", "allowed"],
        ["rds:ModifyDBInstance", "implicitDeny"],
      ],
    );

    const listed = await json(["rds", "describe-db-instances"], janeEnv);
    assert.deepEqual(
      listed.DBInstances.map((i: { DBInstanceIdentifier: string }) => i.DBInstanceIdentifier),
      ["billing", "orders"],
    );
    const denied = await aws(
      [
        "rds",
        "modify-db-instance",
        "--db-instance-identifier",
        "orders",
        "--enable-iam-database-authentication",
        ...endpoint,
      ],
      janeEnv,
    );
    assert.notEqual(denied.code, 0);
    assert.match(
      denied.stderr,
      new RegExp(
        `An error occurred \\(AccessDenied\\) when calling the ModifyDBInstance operation: User: arn:aws:iam::${ACCOUNT}:user/jane is not authorized to perform: rds:ModifyDBInstance on resource: arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
      ),
    );
    const modified = await json(
      [
        "rds",
        "modify-db-instance",
        "--db-instance-identifier",
        "orders",
        "--enable-iam-database-authentication",
        "--apply-immediately",
      ],
      roleEnv,
    );
    assert.equal(modified.DBInstance.IAMDatabaseAuthenticationEnabled, true);
    const one = await json(["rds", "describe-db-instances", "--db-instance-identifier", "orders"]);
    assert.equal(one.DBInstances[0].IAMDatabaseAuthenticationEnabled, true);
    assert.deepEqual(one.DBInstances[0].Endpoint, { Address: "orders.local", Port: 15432 });

    const missing = await aws(["iam", "get-user", "--user-name", "nobody", ...endpoint], adminEnv);
    assert.notEqual(missing.code, 0);
    assert.match(
      missing.stderr,
      /An error occurred \(NoSuchEntity\) when calling the GetUser operation: The user with name nobody cannot be found\./,
    );
    const dup = await aws(["iam", "create-user", "--user-name", "jane", ...endpoint], adminEnv);
    assert.match(dup.stderr, /\(EntityAlreadyExists\)/);
  });

  it("works with the administrator profile ensureAdministrator writes", async () => {
    const files = await ensureAdministrator({
      iam: h.iam,
      dataDir: h.dir,
      endpointUrl: h.api.url,
      region: "us-east-1",
    });
    const r = await aws(["sts", "get-caller-identity", "--profile", files.profile], {
      AWS_CONFIG_FILE: files.configFile,
      AWS_SHARED_CREDENTIALS_FILE: files.credentialsFile,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { Arn: string }).Arn, `arn:aws:iam::${ACCOUNT}:user/iamdb-admin`);
  });
});
