import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CreateAccessKeyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteRoleCommand,
  DeleteUserCommand,
  GetRoleCommand,
  GetUserCommand,
  ListUsersCommand,
  PutRolePolicyCommand,
  PutUserPolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateUserCommand,
} from "@aws-sdk/client-iam";
import {
  AddTagsToResourceCommand,
  DescribeDBInstancesCommand,
  ListTagsForResourceCommand,
  ModifyDBInstanceCommand,
  RemoveTagsFromResourceCommand,
} from "@aws-sdk/client-rds";
import {
  AssumeRoleCommand,
  type AssumeRoleCommandOutput,
  GetCallerIdentityCommand,
  GetSessionTokenCommand,
} from "@aws-sdk/client-sts";
import { evaluate } from "../../src/policy/index.js";
import {
  ACCOUNT,
  errorOf,
  type Harness,
  instance,
  type Keys,
  policy,
  rawCall,
  startHarness,
} from "./helpers.js";

const sessionKeys = (r: AssumeRoleCommandOutput): Keys => ({
  accessKeyId: r.Credentials?.AccessKeyId ?? "",
  secretAccessKey: r.Credentials?.SecretAccessKey ?? "",
  sessionToken: r.Credentials?.SessionToken ?? "",
});

/** The gateway's question for a session: may it rds-db:connect as `dbUser`? */
async function connectDecision(h: Harness, keys: Keys, dbUser: string): Promise<string> {
  const cred = await h.iam.lookupCredential(keys.accessKeyId);
  assert.ok(cred);
  const set = await h.iam.policySetFor(cred.principal);
  assert.ok(set);
  return evaluate(
    {
      action: "rds-db:connect",
      resource: `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ORDERS/${dbUser}`,
      principal: set.principal,
    },
    set.policies,
  ).decision;
}

describe("STS through @aws-sdk/client-sts", () => {
  let h: Harness;
  let jane: Keys;
  before(async () => {
    h = await startHarness();
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "jane" }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "jane" }));
    jane = {
      accessKeyId: k.AccessKey?.AccessKeyId ?? "",
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
    };
    await iam.send(
      new CreateRoleCommand({
        RoleName: "db-admin",
        AssumeRolePolicyDocument: policy({
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/jane` },
          Action: "sts:AssumeRole",
        }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: "db-admin",
        PolicyName: "rds",
        PolicyDocument: policy({ Effect: "Allow", Action: ["rds:*", "iam:ListUsers"], Resource: "*" }),
      }),
    );
  });
  after(() => h.dispose());

  it("GetCallerIdentity needs no permission", async () => {
    const id = await h.clients(jane).sts.send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, `arn:aws:iam::${ACCOUNT}:user/jane`);
    assert.equal(id.Account, ACCOUNT);
    assert.match(id.UserId ?? "", /^AIDA/);
  });

  it("AssumeRole issues credentials that act as the role session", async () => {
    const r = await h.clients(jane).sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin`,
        RoleSessionName: "ops",
        DurationSeconds: 900,
      }),
    );
    assert.match(r.Credentials?.AccessKeyId ?? "", /^ASIA/);
    assert.ok(r.Credentials?.Expiration instanceof Date);
    const life = (r.Credentials?.Expiration?.getTime() ?? 0) - Date.now();
    assert.ok(life > 800_000 && life <= 901_000, `life ${life}`);
    assert.equal(r.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/db-admin/ops`);
    assert.match(r.AssumedRoleUser?.AssumedRoleId ?? "", /^AROA[A-Z0-9]+:ops$/);

    const session = {
      accessKeyId: r.Credentials?.AccessKeyId ?? "",
      secretAccessKey: r.Credentials?.SecretAccessKey ?? "",
      sessionToken: r.Credentials?.SessionToken ?? "",
    };
    const c = h.clients(session);
    const id = await c.sts.send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/db-admin/ops`);
    await c.iam.send(new ListUsersCommand({}));
    const denied = await errorOf(c.iam.send(new CreateUserCommand({ UserName: "x" })));
    assert.equal(denied.name, "AccessDenied");
    assert.equal(
      denied.message,
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/db-admin/ops is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::${ACCOUNT}:user/x`,
    );
    const noUser = await errorOf(c.iam.send(new GetUserCommand({})));
    assert.equal(noUser.name, "ValidationError");

    const tampered = { ...session, sessionToken: `${session.sessionToken}x` };
    const bad = await errorOf(h.clients(tampered).sts.send(new GetCallerIdentityCommand({})));
    assert.equal(bad.name, "InvalidClientTokenId");
  });

  it("AssumeRole with a session policy narrows the session", async () => {
    const r = await h.clients(jane).sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin`,
        RoleSessionName: "narrow",
        Policy: policy({ Effect: "Allow", Action: "rds:Describe*", Resource: "*" }),
      }),
    );
    assert.ok((r.PackedPolicySize ?? 0) > 0);
    const c = h.clients({
      accessKeyId: r.Credentials?.AccessKeyId ?? "",
      secretAccessKey: r.Credentials?.SecretAccessKey ?? "",
      sessionToken: r.Credentials?.SessionToken ?? "",
    });
    await c.rds.send(new DescribeDBInstancesCommand({}));
    const denied = await errorOf(c.iam.send(new ListUsersCommand({})));
    assert.equal(denied.name, "AccessDenied");
  });

  it("AssumeRole with PolicyArns: managed session policies narrow the session", async () => {
    const { iam } = h.clients();
    const describe = await iam.send(
      new CreatePolicyCommand({
        PolicyName: "describe-and-create",
        // rds:Describe* the role has; iam:CreateUser it has not.
        PolicyDocument: policy({
          Effect: "Allow",
          Action: ["rds:Describe*", "iam:CreateUser"],
          Resource: "*",
        }),
      }),
    );
    const arn = describe.Policy?.Arn ?? "";
    const r = await h.clients(jane).sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin`,
        RoleSessionName: "managed",
        PolicyArns: [{ arn }],
      }),
    );
    assert.equal(r.PackedPolicySize, Math.ceil((arn.length / 2048) * 100));
    const c = h.clients(sessionKeys(r));
    await c.rds.send(new DescribeDBInstancesCommand({}));
    const notInSession = await errorOf(c.iam.send(new ListUsersCommand({})));
    assert.equal(notInSession.name, "AccessDenied");
    const notInRole = await errorOf(c.iam.send(new CreateUserCommand({ UserName: "x" })));
    assert.equal(notInRole.name, "AccessDenied");

    const tooMany = await errorOf(
      h.clients(jane).sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin`,
          RoleSessionName: "many",
          PolicyArns: Array.from({ length: 11 }, () => ({ arn })),
        }),
      ),
    );
    assert.equal(tooMany.name, "ValidationError");
    assert.match(tooMany.message, /'policyArns'.*less than or equal to 10/);
    const ghost = `arn:aws:iam::${ACCOUNT}:policy/ghost`;
    const missing = await errorOf(
      h.clients(jane).sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin`,
          RoleSessionName: "ghost",
          PolicyArns: [{ arn }, { arn: ghost }],
        }),
      ),
    );
    assert.equal(missing.name, "MalformedPolicyDocumentException");
    assert.equal(missing.status, 400);
    assert.equal(missing.message, `Policy ${ghost} does not exist or is not attachable.`);
  });

  it("AssumeRole with Tags: sts:TagSession in the trust policy, then aws:PrincipalTag decides rds-db:connect", async () => {
    const { iam } = h.clients();
    await iam.send(
      new CreateRoleCommand({
        RoleName: "team-db",
        AssumeRolePolicyDocument: policy({
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/jane` },
          Action: "sts:AssumeRole",
        }),
        Tags: [{ Key: "team", Value: "web" }],
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: "team-db",
        PolicyName: "connect-as-team",
        PolicyDocument: policy({
          Effect: "Allow",
          Action: "rds-db:connect",
          Resource: `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ORDERS/\${aws:PrincipalTag/team}`,
        }),
      }),
    );
    const assume = (input: Partial<ConstructorParameters<typeof AssumeRoleCommand>[0]>) =>
      h.clients(jane).sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/team-db`,
          RoleSessionName: "tagged",
          ...input,
        }),
      );
    const refused = await errorOf(assume({ Tags: [{ Key: "Team", Value: "db" }] }));
    assert.equal(refused.name, "AccessDenied");
    assert.equal(
      refused.message,
      `User: arn:aws:iam::${ACCOUNT}:user/jane is not authorized to perform: sts:TagSession on resource: arn:aws:iam::${ACCOUNT}:role/team-db`,
    );
    await iam.send(
      new UpdateAssumeRolePolicyCommand({
        RoleName: "team-db",
        PolicyDocument: policy({
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/jane` },
          Action: ["sts:AssumeRole", "sts:TagSession"],
        }),
      }),
    );
    const r = await assume({ Tags: [{ Key: "Team", Value: "db" }] });
    assert.ok((r.PackedPolicySize ?? 0) > 0);
    const tagged = sessionKeys(r);
    assert.equal(await connectDecision(h, tagged, "db"), "allowed");
    assert.equal(
      await connectDecision(h, tagged, "web"),
      "implicitDeny",
      "the session tag overrides the role's",
    );
    const plain = sessionKeys(await assume({}));
    assert.equal(await connectDecision(h, plain, "web"), "allowed");
    assert.equal(await connectDecision(h, plain, "db"), "implicitDeny");

    const duplicate = await errorOf(
      assume({
        Tags: [
          { Key: "team", Value: "a" },
          { Key: "TEAM", Value: "b" },
        ],
      }),
    );
    assert.equal(duplicate.name, "InvalidParameterValue");
    const tooMany = await errorOf(
      assume({ Tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: "v" })) }),
    );
    assert.equal(tooMany.name, "ValidationError");
  });

  it("AssumeRole with TransitiveTagKeys: transitive tags survive role chaining and cannot be overridden", async () => {
    const { iam } = h.clients();
    const trusting = (...who: string[]) =>
      policy({ Effect: "Allow", Principal: { AWS: who }, Action: ["sts:AssumeRole", "sts:TagSession"] });
    await iam.send(
      new CreateRoleCommand({
        RoleName: "hop1",
        AssumeRolePolicyDocument: trusting(`arn:aws:iam::${ACCOUNT}:user/jane`),
      }),
    );
    await iam.send(
      new CreateRoleCommand({
        RoleName: "hop2",
        AssumeRolePolicyDocument: trusting(`arn:aws:iam::${ACCOUNT}:role/hop1`),
      }),
    );
    await iam.send(new TagRoleCommand({ RoleName: "hop2", Tags: [{ Key: "team", Value: "web" }] }));
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: "hop2",
        PolicyName: "connect-as-team",
        PolicyDocument: policy({
          Effect: "Allow",
          Action: "rds-db:connect",
          Resource: `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ORDERS/\${aws:PrincipalTag/team}`,
        }),
      }),
    );
    const first = await h.clients(jane).sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/hop1`,
        RoleSessionName: "first",
        Tags: [
          { Key: "team", Value: "db" },
          { Key: "cost", Value: "42" },
        ],
        TransitiveTagKeys: ["team"],
      }),
    );
    const hop1 = h.clients(sessionKeys(first));
    const second = await hop1.sts.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/hop2`, RoleSessionName: "second" }),
    );
    const secondKeys = sessionKeys(second);
    assert.equal(await connectDecision(h, secondKeys, "db"), "allowed", "the transitive tag came along");
    assert.equal(await connectDecision(h, secondKeys, "web"), "implicitDeny");
    const cred = await h.iam.lookupCredential(secondKeys.accessKeyId);
    assert.ok(cred);
    assert.deepEqual((await h.iam.policySetFor(cred.principal))?.principal.tags, { team: "db" });

    const override = await errorOf(
      hop1.sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/hop2`,
          RoleSessionName: "override",
          Tags: [{ Key: "Team", Value: "web" }],
        }),
      ),
    );
    assert.equal(override.name, "InvalidParameterValue");
    assert.equal(
      override.message,
      "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
    );
    const notPassed = await errorOf(
      h.clients(jane).sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/hop1`,
          RoleSessionName: "bad",
          Tags: [{ Key: "team", Value: "db" }],
          TransitiveTagKeys: ["cost"],
        }),
      ),
    );
    assert.equal(notPassed.name, "InvalidParameterValue");
  });

  it("AssumeRole is refused when the trust policy does not name the caller, and bounds duration", async () => {
    const denied = await errorOf(
      h.clients().sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin`,
          RoleSessionName: "admin",
        }),
      ),
    );
    assert.equal(denied.name, "AccessDenied");
    assert.equal(denied.status, 403);
    assert.match(
      denied.message,
      /is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role\/db-admin/,
    );
    const tooLong = await errorOf(
      h.clients(jane).sts.send(
        new AssumeRoleCommand({
          RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin`,
          RoleSessionName: "long",
          DurationSeconds: 7200,
        }),
      ),
    );
    assert.equal(tooLong.name, "ValidationError");
    const missing = await errorOf(
      h
        .clients(jane)
        .sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/db-admin` } as never)),
    );
    assert.equal(missing.name, "ValidationError");
    assert.match(missing.message, /Value null at 'roleSessionName'/);
  });

  it("GetSessionToken issues session credentials for the user", async () => {
    const r = await h.clients(jane).sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
    assert.match(r.Credentials?.AccessKeyId ?? "", /^ASIA/);
    const c = h.clients({
      accessKeyId: r.Credentials?.AccessKeyId ?? "",
      secretAccessKey: r.Credentials?.SecretAccessKey ?? "",
      sessionToken: r.Credentials?.SessionToken ?? "",
    });
    const id = await c.sts.send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, `arn:aws:iam::${ACCOUNT}:user/jane`);
    const again = await errorOf(c.sts.send(new GetSessionTokenCommand({})));
    assert.equal(again.name, "AccessDenied");
  });
});

describe("trust policies bind users and roles to their unique ids", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.dispose());

  const keysOf = async (userName: string): Promise<Keys> => {
    const k = await h.clients().iam.send(new CreateAccessKeyCommand({ UserName: userName }));
    return {
      accessKeyId: k.AccessKey?.AccessKeyId ?? "",
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
    };
  };
  const trusting = (...arns: string[]) =>
    policy({
      Effect: "Allow",
      Principal: { AWS: arns.length === 1 ? arns[0] : arns },
      Action: "sts:AssumeRole",
    });
  const trustOf = async (roleName: string) =>
    JSON.parse(
      decodeURIComponent(
        (await h.clients().iam.send(new GetRoleCommand({ RoleName: roleName }))).Role
          ?.AssumeRolePolicyDocument ?? "",
      ),
    ) as { Statement: { Principal: { AWS: string | string[] } }[] };
  const assume = (keys: Keys, roleName: string) =>
    h.clients(keys).sts.send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${ACCOUNT}:role/${roleName}`,
        RoleSessionName: "ti-session",
      }),
    );

  it("a user deleted and re-created under the same name cannot assume the role", async () => {
    const { iam } = h.clients();
    const bobArn = `arn:aws:iam::${ACCOUNT}:user/ti-bob`;
    const bob = await iam.send(new CreateUserCommand({ UserName: "ti-bob" }));
    const first = await keysOf("ti-bob");
    await iam.send(
      new CreateRoleCommand({ RoleName: "ti-role", AssumeRolePolicyDocument: trusting(bobArn) }),
    );
    await assume(first, "ti-role");
    // While bob exists, GetRole shows his ARN.
    assert.equal((await trustOf("ti-role")).Statement[0]?.Principal.AWS, bobArn);

    await iam.send(new DeleteAccessKeyCommand({ UserName: "ti-bob", AccessKeyId: first.accessKeyId }));
    await iam.send(new DeleteUserCommand({ UserName: "ti-bob" }));
    // Once he is gone, his unique id stands in place of the ARN, as in AWS.
    assert.equal((await trustOf("ti-role")).Statement[0]?.Principal.AWS, bob.User?.UserId);

    // Anyone allowed iam:CreateUser re-creates the name: the new user is not the one trusted.
    await iam.send(new CreateUserCommand({ UserName: "ti-bob" }));
    const impostor = await keysOf("ti-bob");
    const refused = await errorOf(assume(impostor, "ti-role"));
    assert.equal(refused.name, "AccessDenied");
    assert.equal(
      refused.message,
      `User: ${bobArn} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${ACCOUNT}:role/ti-role`,
    );
    assert.equal((await trustOf("ti-role")).Statement[0]?.Principal.AWS, bob.User?.UserId);
    // Saving the trust policy again binds the name to the user who has it now.
    await iam.send(
      new UpdateAssumeRolePolicyCommand({ RoleName: "ti-role", PolicyDocument: trusting(bobArn) }),
    );
    await assume(impostor, "ti-role");
  });

  it("a role re-created under the same name: its sessions cannot assume a role that trusted the old one", async () => {
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "ti-dev" }));
    const dev = await keysOf("ti-dev");
    const srcArn = `arn:aws:iam::${ACCOUNT}:role/ti-src`;
    const src = await iam.send(
      new CreateRoleCommand({
        RoleName: "ti-src",
        AssumeRolePolicyDocument: trusting(`arn:aws:iam::${ACCOUNT}:user/ti-dev`),
      }),
    );
    await iam.send(
      new CreateRoleCommand({ RoleName: "ti-target", AssumeRolePolicyDocument: trusting(srcArn) }),
    );
    await assume(sessionKeys(await assume(dev, "ti-src")), "ti-target");
    await iam.send(new DeleteRoleCommand({ RoleName: "ti-src" }));
    await iam.send(
      new CreateRoleCommand({
        RoleName: "ti-src",
        AssumeRolePolicyDocument: trusting(`arn:aws:iam::${ACCOUNT}:user/ti-dev`),
      }),
    );
    const refused = await errorOf(assume(sessionKeys(await assume(dev, "ti-src")), "ti-target"));
    assert.equal(refused.name, "AccessDenied");
    assert.equal((await trustOf("ti-target")).Statement[0]?.Principal.AWS, src.Role?.RoleId);
  });

  it("a renamed user stays trusted and is shown by its new ARN; unknown principals are refused on save", async () => {
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "ti-carol" }));
    const carol = await keysOf("ti-carol");
    await iam.send(
      new CreateRoleCommand({
        RoleName: "ti-shared",
        AssumeRolePolicyDocument: trusting(
          `arn:aws:iam::${ACCOUNT}:user/ti-carol`,
          `arn:aws:iam::${ACCOUNT}:root`,
        ),
      }),
    );
    await iam.send(new UpdateUserCommand({ UserName: "ti-carol", NewUserName: "ti-carol2", NewPath: "/x/" }));
    await assume(carol, "ti-shared");
    assert.deepEqual((await trustOf("ti-shared")).Statement[0]?.Principal.AWS, [
      `arn:aws:iam::${ACCOUNT}:user/x/ti-carol2`,
      `arn:aws:iam::${ACCOUNT}:root`,
    ]);
    for (const ghost of [
      `arn:aws:iam::${ACCOUNT}:user/ti-nobody`,
      `arn:aws:iam::${ACCOUNT}:user/other/ti-carol2`,
    ]) {
      const bad = await errorOf(
        iam.send(new CreateRoleCommand({ RoleName: "ti-ghost", AssumeRolePolicyDocument: trusting(ghost) })),
      );
      assert.equal(bad.name, "MalformedPolicyDocumentException");
      assert.equal(bad.message, `Invalid principal in policy: "AWS":"${ghost}"`);
    }
  });
});

describe("GetSessionToken credentials (no MFA in iamdb)", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.dispose());

  it("cannot call IAM, nor STS besides AssumeRole and GetCallerIdentity, but can call RDS", async () => {
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "gst-user" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "gst-user",
        PolicyName: "all",
        PolicyDocument: policy({ Effect: "Allow", Action: "*", Resource: "*" }),
      }),
    );
    await iam.send(
      new CreateRoleCommand({
        RoleName: "gst-role",
        AssumeRolePolicyDocument: policy({
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/gst-user` },
          Action: "sts:AssumeRole",
        }),
      }),
    );
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "gst-user" }));
    const longTerm = h.clients({
      accessKeyId: k.AccessKey?.AccessKeyId ?? "",
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
    });
    // The long-term key may call IAM.
    await longTerm.iam.send(new ListUsersCommand({}));
    const r = await longTerm.sts.send(new GetSessionTokenCommand({ DurationSeconds: 900 }));
    const session = h.clients({
      accessKeyId: r.Credentials?.AccessKeyId ?? "",
      secretAccessKey: r.Credentials?.SecretAccessKey ?? "",
      sessionToken: r.Credentials?.SessionToken ?? "",
    });
    // IAM: refused whatever the user's policies allow, with AWS's answer.
    for (const call of [
      () => session.iam.send(new ListUsersCommand({})),
      () => session.iam.send(new GetUserCommand({})),
      () => session.iam.send(new CreateUserCommand({ UserName: "gst-escalated" })),
    ]) {
      const e = await errorOf(call());
      assert.equal(e.name, "InvalidClientTokenId");
      assert.equal(e.status, 403);
      assert.match(e.message, /^The security token included in the request is invalid\./);
      assert.match(e.message, /GetSessionToken/);
    }
    await assert.rejects(iam.send(new GetUserCommand({ UserName: "gst-escalated" })), /cannot be found/);
    // STS: GetCallerIdentity and AssumeRole work; GetSessionToken does not.
    const id = await session.sts.send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, `arn:aws:iam::${ACCOUNT}:user/gst-user`);
    await session.sts.send(
      new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${ACCOUNT}:role/gst-role`, RoleSessionName: "gst" }),
    );
    const again = await errorOf(session.sts.send(new GetSessionTokenCommand({})));
    assert.equal(again.name, "AccessDenied");
    assert.equal(again.message, "Cannot call GetSessionToken with session credentials");
    // Other services work as the user.
    await session.rds.send(new DescribeDBInstancesCommand({}));
  });
});

describe("RDS through @aws-sdk/client-rds", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h.dispose());

  it("describes instances with the RDS fields clients read", async () => {
    const { rds } = h.clients();
    const all = await rds.send(new DescribeDBInstancesCommand({}));
    assert.deepEqual(
      all.DBInstances?.map((i) => i.DBInstanceIdentifier),
      ["billing", "orders"],
    );
    const one = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: "orders" }));
    const i = one.DBInstances?.[0];
    assert.equal(one.DBInstances?.length, 1);
    assert.equal(i?.Engine, "postgres");
    assert.deepEqual(i?.Endpoint, { Address: "orders.local", Port: 15432 });
    assert.match(i?.DbiResourceId ?? "", /^db-[A-Z0-9]{26}$/);
    assert.equal(i?.IAMDatabaseAuthenticationEnabled, false);
    assert.equal(i?.DBInstanceArn, `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`);
    assert.deepEqual(i?.TagList, []);

    const filtered = await rds.send(
      new DescribeDBInstancesCommand({ Filters: [{ Name: "engine", Values: ["mysql"] }] }),
    );
    assert.deepEqual(
      filtered.DBInstances?.map((x) => x.DBInstanceIdentifier),
      ["billing"],
    );
    const missing = await errorOf(rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: "nope" })));
    assert.equal(missing.name, "DBInstanceNotFoundFault");
    assert.equal(missing.status, 404);
    assert.equal(missing.message, "DBInstance nope not found.");
  });

  it("enables and disables IAM database authentication", async () => {
    const { rds } = h.clients();
    const on = await rds.send(
      new ModifyDBInstanceCommand({
        DBInstanceIdentifier: "orders",
        EnableIAMDatabaseAuthentication: true,
        ApplyImmediately: true,
      }),
    );
    assert.equal(on.DBInstance?.IAMDatabaseAuthenticationEnabled, true);
    assert.equal(h.instances.get("orders")?.iamAuthEnabled, true);
    const off = await rds.send(
      new ModifyDBInstanceCommand({ DBInstanceIdentifier: "orders", EnableIAMDatabaseAuthentication: false }),
    );
    assert.equal(off.DBInstance?.IAMDatabaseAuthenticationEnabled, false);
    const unsupported = await errorOf(
      rds.send(new ModifyDBInstanceCommand({ DBInstanceIdentifier: "orders", AllocatedStorage: 100 })),
    );
    assert.equal(unsupported.name, "InvalidParameterCombination");
    const missing = await errorOf(rds.send(new ModifyDBInstanceCommand({} as never)));
    assert.equal(missing.name, "MissingParameter");
    const notFound = await errorOf(
      rds.send(
        new ModifyDBInstanceCommand({ DBInstanceIdentifier: "nope", EnableIAMDatabaseAuthentication: true }),
      ),
    );
    assert.equal(notFound.name, "DBInstanceNotFoundFault");
  });

  it("adds, lists and removes tags", async () => {
    const { rds } = h.clients();
    const arn = `arn:aws:rds:us-east-1:${ACCOUNT}:db:billing`;
    await rds.send(
      new AddTagsToResourceCommand({
        ResourceName: arn,
        Tags: [
          { Key: "env", Value: "prod" },
          { Key: "team", Value: "pay" },
        ],
      }),
    );
    assert.deepEqual((await rds.send(new ListTagsForResourceCommand({ ResourceName: arn }))).TagList, [
      { Key: "env", Value: "prod" },
      { Key: "team", Value: "pay" },
    ]);
    await rds.send(new RemoveTagsFromResourceCommand({ ResourceName: arn, TagKeys: ["team"] }));
    const d = await rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: "billing" }));
    assert.deepEqual(d.DBInstances?.[0]?.TagList, [{ Key: "env", Value: "prod" }]);
    const bad = await errorOf(rds.send(new ListTagsForResourceCommand({ ResourceName: "orders" })));
    assert.equal(bad.name, "InvalidParameterValue");
    const gone = await errorOf(
      rds.send(new ListTagsForResourceCommand({ ResourceName: `arn:aws:rds:us-east-1:${ACCOUNT}:db:nope` })),
    );
    assert.equal(gone.name, "DBInstanceNotFoundFault");
  });

  it("authorizes rds actions on the instance ARN, with its tags as condition keys", async () => {
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "ops" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "ops",
        PolicyName: "rds",
        PolicyDocument: policy(
          { Effect: "Allow", Action: "rds:DescribeDBInstances", Resource: "*" },
          {
            Effect: "Allow",
            Action: "rds:ModifyDBInstance",
            Resource: `arn:aws:rds:*:${ACCOUNT}:db:*`,
            Condition: { StringEquals: { "aws:ResourceTag/env": "prod" } },
          },
        ),
      }),
    );
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "ops" }));
    const { rds } = h.clients({
      accessKeyId: k.AccessKey?.AccessKeyId ?? "",
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
    });
    await rds.send(new DescribeDBInstancesCommand({}));
    await rds.send(
      new ModifyDBInstanceCommand({ DBInstanceIdentifier: "billing", EnableIAMDatabaseAuthentication: true }),
    );
    const denied = await errorOf(
      rds.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: "orders",
          EnableIAMDatabaseAuthentication: true,
        }),
      ),
    );
    assert.equal(denied.name, "AccessDenied");
    assert.equal(
      denied.message,
      `User: arn:aws:iam::${ACCOUNT}:user/ops is not authorized to perform: rds:ModifyDBInstance on resource: arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`,
    );
  });
});

describe("regions: the request's signing region", () => {
  let h: Harness;
  let ops: Keys;
  before(async () => {
    h = await startHarness({
      instances: [
        instance("orders"),
        instance("billing", { engine: "mysql" }),
        instance("paris", { region: "eu-west-3" }),
        instance("lab", { region: "local" }),
      ],
      regions: ["us-east-1", "local"],
    });
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "rg-ops" }));
    // A guardrail: nothing in us-east-1, whatever else allows it.
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "rg-ops",
        PolicyName: "guardrail",
        PolicyDocument: policy(
          { Effect: "Allow", Action: "rds:*", Resource: "*" },
          {
            Effect: "Deny",
            Action: "rds:*",
            Resource: "*",
            Condition: { StringEquals: { "aws:RequestedRegion": "us-east-1" } },
          },
        ),
      }),
    );
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "rg-ops" }));
    ops = {
      accessKeyId: k.AccessKey?.AccessKeyId ?? "",
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
    };
  });
  after(() => h.dispose());

  it("a Deny on aws:RequestedRegion cannot be got around by signing for another region", async () => {
    const home = h.clients(ops, "us-east-1").rds;
    const denied = await errorOf(
      home.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: "orders",
          EnableIAMDatabaseAuthentication: true,
        }),
      ),
    );
    assert.equal(denied.name, "AccessDenied");
    // Signed for eu-west-1, the us-east-1 instance is not there, as in RDS.
    const elsewhere = h.clients(ops, "eu-west-1").rds;
    const notFound = await errorOf(
      elsewhere.send(
        new ModifyDBInstanceCommand({
          DBInstanceIdentifier: "orders",
          EnableIAMDatabaseAuthentication: true,
        }),
      ),
    );
    assert.equal(notFound.name, "DBInstanceNotFoundFault");
    assert.equal(notFound.message, "DBInstance orders not found.");
    assert.equal(h.instances.get("orders")?.iamAuthEnabled, false);
    const tags = await errorOf(
      elsewhere.send(
        new ListTagsForResourceCommand({ ResourceName: `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders` }),
      ),
    );
    assert.equal(tags.name, "DBInstanceNotFoundFault");
    // The instance of the region signed for is reached.
    const paris = await h
      .clients(ops, "eu-west-3")
      .rds.send(
        new ModifyDBInstanceCommand({ DBInstanceIdentifier: "paris", EnableIAMDatabaseAuthentication: true }),
      );
    assert.equal(paris.DBInstance?.IAMDatabaseAuthenticationEnabled, true);
  });

  it("DescribeDBInstances lists only the instances of the region signed for", async () => {
    const ids = async (region: string) =>
      (await h.clients(h.admin, region).rds.send(new DescribeDBInstancesCommand({}))).DBInstances?.map(
        (i) => i.DBInstanceIdentifier,
      );
    assert.deepEqual(await ids("us-east-1"), ["billing", "orders"]);
    assert.deepEqual(await ids("eu-west-3"), ["paris"]);
    assert.deepEqual(await ids("eu-west-1"), []);
    // A configured region outside the partition's list ("local") is a valid scope.
    assert.deepEqual(await ids("local"), ["lab"]);
    const one = await errorOf(
      h
        .clients(h.admin, "eu-west-3")
        .rds.send(new DescribeDBInstancesCommand({ DBInstanceIdentifier: "orders" })),
    );
    assert.equal(one.name, "DBInstanceNotFoundFault");
  });

  it("a scope naming a region that neither the deployment nor the partition has is refused", async () => {
    for (const region of ["xx-nowhere-1", "us-east-1-not", "anything at all"]) {
      const r = await rawCall(h, {
        service: "rds",
        region,
        body: "Action=DescribeDBInstances&Version=2014-10-31",
      });
      assert.equal(r.status, 403, region);
      assert.equal(r.code, "SignatureDoesNotMatch", region);
      assert.match(r.message ?? "", /^Credential should be scoped to a valid region/);
      assert.match(r.message ?? "", /us-east-1/);
    }
    // IAM and STS signed for any region of the partition still work (IAM is global).
    await h.clients(h.admin, "ap-southeast-2").sts.send(new GetCallerIdentityCommand({}));
  });
});
