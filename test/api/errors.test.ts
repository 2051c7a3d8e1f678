import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  PutUserPolicyCommand,
  UpdateAccessKeyCommand,
} from "@aws-sdk/client-iam";
import { presignRequest } from "../../src/sigv4/index.js";
import { ACCOUNT, errorOf, type Harness, type Keys, policy, rawCall, startHarness } from "./helpers.js";

describe("admin API errors, as AWS writes them", () => {
  let h: Harness;
  let jane: Keys;
  before(async () => {
    h = await startHarness({ maxBodyBytes: 64 * 1024 });
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "jane" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "jane",
        PolicyName: "read-users",
        PolicyDocument: policy(
          { Effect: "Allow", Action: ["iam:GetUser", "iam:ListUsers"], Resource: "*" },
          { Effect: "Deny", Action: "iam:GetUser", Resource: `arn:aws:iam::${ACCOUNT}:user/secret` },
        ),
      }),
    );
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "jane" }));
    jane = {
      accessKeyId: k.AccessKey?.AccessKeyId ?? "",
      secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
    };
  });
  after(() => h.dispose());

  const form = (o: Record<string, string>) => new URLSearchParams(o).toString();

  it("answers a full AWS error document", async () => {
    const r = await rawCall(h, {
      body: form({ Action: "GetUser", Version: "2010-05-08", UserName: "nobody" }),
    });
    assert.equal(r.status, 404);
    assert.match(
      r.text,
      /^<ErrorResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><Error><Type>Sender<\/Type><Code>NoSuchEntity<\/Code><Message>The user with name nobody cannot be found\.<\/Message><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
    );
    const rds = await rawCall(h, {
      service: "rds",
      body: form({ Action: "DescribeDBInstances", Version: "2014-10-31", DBInstanceIdentifier: "nope" }),
    });
    assert.equal(rds.status, 404);
    assert.equal(rds.code, "DBInstanceNotFound");
    assert.match(rds.text, /xmlns="http:\/\/rds\.amazonaws\.com\/doc\/2014-10-31\/"/);
  });

  it("rejects unknown and missing actions", async () => {
    const unknown = await rawCall(h, { body: form({ Action: "LaunchRocket", Version: "2010-05-08" }) });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.code, "InvalidAction");
    assert.equal(unknown.message, "Could not find operation LaunchRocket for version 2010-05-08");
    const wrongService = await rawCall(h, {
      service: "sts",
      body: form({ Action: "CreateUser", UserName: "x" }),
    });
    assert.equal(wrongService.code, "InvalidAction");
    const none = await rawCall(h, { body: form({ Version: "2010-05-08" }) });
    assert.equal(none.code, "MissingAction");
    const version = await rawCall(h, { body: form({ Action: "ListUsers", Version: "2099-01-01" }) });
    assert.equal(version.code, "NoSuchVersion");
  });

  it("rejects malformed bodies", async () => {
    const r = await rawCall(h, { body: "Action=ListUsers&Version=2010-05-08&PathPrefix=%ZZ" });
    assert.equal(r.status, 400);
    assert.equal(r.code, "MalformedQueryString");
    const json = await rawCall(h, { body: '{"Action":"ListUsers"}' });
    assert.equal(json.code, "MissingAction");
    const badList = await rawCall(h, {
      body: form({ Action: "TagUser", Version: "2010-05-08", UserName: "jane", "Tags.member.x.Key": "k" }),
    });
    assert.equal(badList.code, "MalformedQueryString");
  });

  it("rejects missing and invalid parameters", async () => {
    const missing = await rawCall(h, { body: form({ Action: "CreateUser", Version: "2010-05-08" }) });
    assert.equal(missing.status, 400);
    assert.equal(missing.code, "ValidationError");
    assert.equal(
      missing.message,
      "1 validation error detected: Value null at &apos;userName&apos; failed to satisfy constraint: Member must not be null",
    );
    const invalid = await rawCall(h, {
      body: form({ Action: "CreateUser", Version: "2010-05-08", UserName: "bad name!" }),
    });
    assert.equal(invalid.code, "ValidationError");
    const notInt = await rawCall(h, {
      body: form({ Action: "ListUsers", Version: "2010-05-08", MaxItems: "many" }),
    });
    assert.equal(notInt.code, "ValidationError");
    const rdsMissing = await rawCall(h, {
      service: "rds",
      body: form({ Action: "ModifyDBInstance", Version: "2014-10-31" }),
    });
    assert.equal(rdsMissing.code, "MissingParameter");
    assert.equal(rdsMissing.message, "The request must contain the parameter DBInstanceIdentifier");
    const rdsBool = await rawCall(h, {
      service: "rds",
      body: form({
        Action: "ModifyDBInstance",
        Version: "2014-10-31",
        DBInstanceIdentifier: "orders",
        EnableIAMDatabaseAuthentication: "yes",
      }),
    });
    assert.equal(rdsBool.code, "InvalidParameterValue");
  });

  it("refuses policies with a key written twice, in every kind of policy (MalformedPolicyDocument)", async () => {
    const deny = '{"Effect":"Deny","Action":"*","Resource":"*"}';
    const allow = '{"Effect":"Allow","Action":"*","Resource":"*"}';
    const twice = `{"Version":"2012-10-17","Statement":[${deny}],"Statement":[${allow}]}`;
    const trust = `{"Effect":"Allow","Principal":{"AWS":"${ACCOUNT}"},"Action":"sts:AssumeRole"}`;
    const trustTwice = `{"Version":"2012-10-17","Statement":[${trust.replace("Allow", "Deny")}],"Statement":[${trust}]}`;
    const calls: Array<[string, Record<string, string>, string?]> = [
      ["PutUserPolicy", { UserName: "jane", PolicyName: "dup", PolicyDocument: twice }],
      ["CreatePolicy", { PolicyName: "dup", PolicyDocument: twice }],
      ["CreateRole", { RoleName: "dup", AssumeRolePolicyDocument: trustTwice }],
      [
        "CreateRole",
        { RoleName: "dup2", AssumeRolePolicyDocument: `{"Version":"2012-10-17","Statement":[${trust}]}` },
      ],
      ["UpdateAssumeRolePolicy", { RoleName: "dup2", PolicyDocument: trustTwice }],
      ["PutRolePolicy", { RoleName: "dup2", PolicyName: "dup", PolicyDocument: twice }],
      [
        "AssumeRole",
        { RoleArn: `arn:aws:iam::${ACCOUNT}:role/dup2`, RoleSessionName: "dup-session", Policy: twice },
        "sts",
      ],
    ];
    for (const [action, params, service] of calls) {
      const version = service === "sts" ? "2011-06-15" : "2010-05-08";
      const r = await rawCall(h, {
        service: service ?? "iam",
        body: form({ Action: action, Version: version, ...params }),
      });
      if (action === "CreateRole" && params.RoleName === "dup2") {
        assert.equal(r.status, 200, r.text);
        continue;
      }
      assert.equal(r.code, "MalformedPolicyDocument", `${action}: ${r.text}`);
      assert.match(r.message ?? "", /Duplicate key &quot;Statement&quot;/, action);
    }
    // A permissions boundary is a managed policy: CreatePolicyVersion refuses the same way.
    const p = await rawCall(h, {
      body: form({
        Action: "CreatePolicy",
        Version: "2010-05-08",
        PolicyName: "b",
        PolicyDocument: `{"Version":"2012-10-17","Statement":[${allow}]}`,
      }),
    });
    assert.equal(p.status, 200, p.text);
    const v = await rawCall(h, {
      body: form({
        Action: "CreatePolicyVersion",
        Version: "2010-05-08",
        PolicyArn: `arn:aws:iam::${ACCOUNT}:policy/b`,
        PolicyDocument: twice,
      }),
    });
    assert.equal(v.code, "MalformedPolicyDocument", v.text);
  });

  it("rejects duplicate names", async () => {
    const r = await rawCall(h, {
      body: form({ Action: "CreateUser", Version: "2010-05-08", UserName: "jane" }),
    });
    assert.equal(r.status, 409);
    assert.equal(r.code, "EntityAlreadyExists");
    assert.equal(r.message, "User with name jane already exists.");
  });

  it("refuses oversize bodies with 413", async () => {
    const big = form({ Action: "CreateUser", Version: "2010-05-08", UserName: "x".repeat(70 * 1024) });
    const r = await rawCall(h, { body: big });
    assert.equal(r.status, 413);
    assert.equal(r.code, "RequestEntityTooLarge");
  });

  it("rejects bad, expired, tampered and cross-service signatures", async () => {
    const body = form({ Action: "ListUsers", Version: "2010-05-08" });
    const unsigned = await rawCall(h, { body, unsigned: true });
    assert.equal(unsigned.status, 403);
    assert.equal(unsigned.code, "MissingAuthenticationToken");

    const wrongSecret = await rawCall(h, { body, keys: { ...h.admin, secretAccessKey: "x".repeat(40) } });
    assert.equal(wrongSecret.status, 403);
    assert.equal(wrongSecret.code, "SignatureDoesNotMatch");

    const tampered = await rawCall(h, { body, tamper: (b) => `${b}&PathPrefix=%2Fx%2F` });
    assert.equal(tampered.code, "SignatureDoesNotMatch");

    const expired = await rawCall(h, { body, signingDate: new Date(Date.now() - 20 * 60_000) });
    assert.equal(expired.status, 400);
    assert.equal(expired.code, "RequestExpired");

    const future = await rawCall(h, { body, signingDate: new Date(Date.now() + 20 * 60_000) });
    assert.equal(future.code, "RequestExpired");

    const dbToken = await rawCall(h, { body, service: "rds-db" });
    assert.equal(dbToken.status, 403);
    assert.equal(dbToken.code, "SignatureDoesNotMatch");

    const unknownKey = await rawCall(h, {
      body,
      keys: { accessKeyId: "AKIAAAAAAAAAAAAAAAAA", secretAccessKey: "y".repeat(40) },
    });
    assert.equal(unknownKey.status, 403);
    assert.equal(unknownKey.code, "InvalidClientTokenId");
    assert.equal(unknownKey.message, "The security token included in the request is invalid.");
  });

  it("accepts query-signed (presigned) requests", async () => {
    const url = new URL(h.api.url);
    const p = presignRequest(
      {
        method: "GET",
        path: "/",
        query: [
          ["Action", "GetUser"],
          ["Version", "2010-05-08"],
          ["UserName", "jane"],
        ],
        headers: [["host", url.host]],
      },
      { credentials: h.admin, region: "us-east-1", service: "iam", signingDate: new Date(), expiresIn: 60 },
    );
    const qs = p.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
    const res = await fetch(`${h.api.url}/?${qs}`);
    const text = await res.text();
    assert.equal(res.status, 200, text);
    assert.match(
      text,
      /<GetUserResponse xmlns="https:\/\/iam\.amazonaws\.com\/doc\/2010-05-08\/"><GetUserResult><User>/,
    );
    assert.match(text, /<UserName>jane<\/UserName>/);
  });

  it("refuses a presigned URL dated ten years ahead with X-Amz-Expires=1", async () => {
    const url = new URL(h.api.url);
    const p = presignRequest(
      {
        method: "GET",
        path: "/",
        query: [
          ["Action", "GetUser"],
          ["Version", "2010-05-08"],
        ],
        headers: [["host", url.host]],
      },
      {
        credentials: h.admin,
        region: "us-east-1",
        service: "iam",
        signingDate: new Date(Date.now() + 10 * 365 * 86_400_000),
        expiresIn: 1,
      },
    );
    const qs = p.query.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&");
    const res = await fetch(`${h.api.url}/?${qs}`);
    const text = await res.text();
    assert.equal(res.status, 400, text);
    assert.match(text, /<Code>RequestExpired<\/Code>/);
    assert.match(text, /Signature not yet current/);
  });

  it("refuses inactive keys", async () => {
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "idle" }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "idle" }));
    await iam.send(
      new UpdateAccessKeyCommand({
        UserName: "idle",
        AccessKeyId: k.AccessKey?.AccessKeyId,
        Status: "Inactive",
      }),
    );
    const r = await errorOf(
      h
        .clients({
          accessKeyId: k.AccessKey?.AccessKeyId ?? "",
          secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
        })
        .iam.send(new CreateUserCommand({ UserName: "z" })),
    );
    assert.equal(r.name, "InvalidClientTokenId");
    assert.equal(r.status, 403);
  });

  it("denies a user limited by policy with AWS's exact message", async () => {
    const { iam } = h.clients(jane);
    const create = await errorOf(iam.send(new CreateUserCommand({ UserName: "mallory" })));
    assert.equal(create.name, "AccessDenied");
    assert.equal(create.status, 403);
    assert.equal(
      create.message,
      `User: arn:aws:iam::${ACCOUNT}:user/jane is not authorized to perform: iam:CreateUser on resource: arn:aws:iam::${ACCOUNT}:user/mallory`,
    );
    const r = await rawCall(h, {
      keys: jane,
      body: form({ Action: "GetUser", Version: "2010-05-08", UserName: "secret" }),
    });
    assert.equal(r.code, "AccessDenied");
    assert.equal(
      r.message,
      `User: arn:aws:iam::${ACCOUNT}:user/jane is not authorized to perform: iam:GetUser on resource: arn:aws:iam::${ACCOUNT}:user/secret`,
    );
    const attach = await errorOf(
      iam.send(
        new PutUserPolicyCommand({
          UserName: "jane",
          PolicyName: "more",
          PolicyDocument: policy({ Effect: "Allow", Action: "*", Resource: "*" }),
        }),
      ),
    );
    assert.equal(attach.name, "AccessDenied");
    const listed = await rawCall(h, {
      keys: jane,
      body: form({ Action: "ListUsers", Version: "2010-05-08" }),
    });
    assert.equal(listed.status, 200);
    const groups = await rawCall(h, {
      keys: jane,
      body: form({ Action: "ListGroups", Version: "2010-05-08" }),
    });
    assert.equal(
      groups.message,
      `User: arn:aws:iam::${ACCOUNT}:user/jane is not authorized to perform: iam:ListGroups on resource: arn:aws:iam::${ACCOUNT}:group/`,
    );
  });

  it("never logs secrets", async () => {
    const { iam } = h.clients();
    await iam.send(new CreateUserCommand({ UserName: "logcheck" }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "logcheck" }));
    const logged = JSON.stringify(h.logs);
    assert.ok(h.logs.length > 10);
    assert.equal(logged.includes(k.AccessKey?.SecretAccessKey ?? "?"), false);
    assert.equal(logged.includes(h.admin.secretAccessKey), false);
    assert.equal(logged.includes("Signature="), false);
  });
});
