// Workload identity end to end: a JWT from an issuer the test runs (HTTPS on 127.0.0.1, its own
// CA, trusted by thumbprint) becomes role credentials through iamdb's STS — with the real `aws`
// CLI, and with the unmodified AWS credential chains (botocore and the JavaScript SDK v3) reading
// AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ENDPOINT_URL_STS — and those credentials sign
// an RDS auth token that logs in through the gateway. Then the AWS way of revoking a role's
// sessions (Deny on aws:TokenIssueTime) ends web-identity and AssumeRole sessions alike.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type AdminApi, startAdminApi } from "../../src/api/server.js";
import { awsCliResult } from "../helpers/aws.js";
import { iamdb } from "../helpers/cli.js";
import { startTestIssuer, type TestIssuer } from "../helpers/oidc-issuer.js";
import { pgClient, refusal } from "./clients.js";
import { ACCOUNT, REGION, startTestGateway, type TestGateway } from "./fixture.js";

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const DB_USER = "oidc_app";
const SUB = "system:serviceaccount:payments:api";

describe("web identity credentials log in through the gateway", () => {
  let gw: TestGateway;
  let api: AdminApi;
  let issuer: TestIssuer;
  let dir: string;
  let adminEnv: Record<string, string>;
  let roleArn: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "iamdb-oidc-"));
    issuer = await startTestIssuer({ path: "/id/EKS1" });
    gw = await startTestGateway();
    await gw.provision(DB_USER);
    api = await startAdminApi({ iam: gw.iam, instances: gw.registry, host: "127.0.0.1", port: 0 });
    await gw.iam.createUser({ userName: "admin" });
    await gw.iam.putUserPolicy({
      userName: "admin",
      policyName: "all",
      policyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
      }),
    });
    const k = await gw.iam.createAccessKey({ userName: "admin" });
    adminEnv = { AWS_ACCESS_KEY_ID: k.accessKeyId, AWS_SECRET_ACCESS_KEY: k.secretAccessKey };
  });
  after(async () => {
    try {
      await api?.close();
      await gw?.close();
    } finally {
      await issuer?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const endpoint = () => ["--endpoint-url", api.url, "--region", REGION];
  const aws = async (args: string[], env: Record<string, string>) => {
    const r = await awsCliResult(args, env);
    assert.equal(r.code, 0, `aws ${args.slice(0, 2).join(" ")}: ${r.stderr}`);
    return r.stdout.trim() === "" ? {} : (JSON.parse(r.stdout) as Record<string, unknown>);
  };
  const login = async (token: string) => {
    const c = pgClient(gw.port, DB_USER, token, gw.caPem);
    await c.connect();
    try {
      return (await c.query("SELECT current_user AS u")).rows[0]?.u as string;
    } finally {
      await c.end();
    }
  };
  const tokenFor = (creds: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }) =>
    gw.token(DB_USER, creds as { accessKeyId: string; secretAccessKey: string });

  it("aws iam create-open-id-connect-provider, a role that pins sub, aws sts assume-role-with-web-identity", async () => {
    const created = await aws(
      [
        "iam",
        "create-open-id-connect-provider",
        "--url",
        issuer.url,
        "--client-id-list",
        "sts.amazonaws.com",
        "--thumbprint-list",
        issuer.chain.intermediate.thumbprint,
        ...endpoint(),
      ],
      adminEnv,
    );
    const providerArn = created.OpenIDConnectProviderArn as string;
    assert.equal(providerArn, `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.host}`);
    const listed = await aws(["iam", "list-open-id-connect-providers", ...endpoint()], adminEnv);
    assert.deepEqual(listed.OpenIDConnectProviderList, [{ Arn: providerArn }]);
    const trust = {
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Allow",
          Principal: { Federated: providerArn },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: { [`${issuer.host}:sub`]: SUB, [`${issuer.host}:aud`]: "sts.amazonaws.com" },
          },
        },
      ],
    };
    const role = await aws(
      [
        "iam",
        "create-role",
        "--role-name",
        "oidc-payments",
        "--assume-role-policy-document",
        JSON.stringify(trust),
        ...endpoint(),
      ],
      adminEnv,
    );
    roleArn = (role.Role as { Arn: string }).Arn;
    const resource = `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${gw.instance().dbiResourceId}/${DB_USER}`;
    await aws(
      [
        "iam",
        "put-role-policy",
        "--role-name",
        "oidc-payments",
        "--policy-name",
        "connect",
        "--policy-document",
        JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: resource }],
        }),
        ...endpoint(),
      ],
      adminEnv,
    );

    // No credentials at all: the JWT is the credential.
    const jwt = await issuer.token({ sub: SUB });
    const assumed = await aws(
      [
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        roleArn,
        "--role-session-name",
        "pod-abc",
        "--web-identity-token",
        jwt,
        ...endpoint(),
      ],
      {},
    );
    assert.equal(assumed.SubjectFromWebIdentityToken, SUB);
    assert.equal(assumed.Audience, "sts.amazonaws.com");
    assert.equal(assumed.Provider, providerArn);
    assert.equal(
      (assumed.AssumedRoleUser as { Arn: string }).Arn,
      `arn:aws:sts::${ACCOUNT}:assumed-role/oidc-payments/pod-abc`,
    );
    const c = assumed.Credentials as { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
    const creds = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
    };
    assert.equal(await login(tokenFor(creds)), DB_USER);

    // AWS's error codes, as botocore reads them off the wire.
    const wrongSub = await awsCliResult(
      [
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        roleArn,
        "--role-session-name",
        "pod-abc",
        "--web-identity-token",
        await issuer.token({ sub: "system:serviceaccount:default:other" }),
        ...endpoint(),
      ],
      {},
    );
    assert.notEqual(wrongSub.code, 0);
    assert.match(
      wrongSub.stderr,
      /An error occurred \(AccessDenied\) when calling the AssumeRoleWithWebIdentity operation/,
    );
    const wrongAud = await awsCliResult(
      [
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        roleArn,
        "--role-session-name",
        "pod-abc",
        "--web-identity-token",
        await issuer.token({ sub: SUB, aud: "not-sts" }),
        ...endpoint(),
      ],
      {},
    );
    assert.match(wrongAud.stderr, /\(InvalidIdentityToken\) .*Incorrect token audience/);
    const now = Math.floor(Date.now() / 1000);
    const expired = await awsCliResult(
      [
        "sts",
        "assume-role-with-web-identity",
        "--role-arn",
        roleArn,
        "--role-session-name",
        "pod-abc",
        "--web-identity-token",
        await issuer.token({ sub: SUB, iat: now - 7200, exp: now - 3600 }),
        ...endpoint(),
      ],
      {},
    );
    assert.match(expired.stderr, /\(ExpiredTokenException\)/);
  });

  /** The environment a Kubernetes pod with IRSA gets, pointed at iamdb's STS. */
  const podEnv = (tokenFile: string) => ({
    AWS_ROLE_ARN: roleArn,
    AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
    AWS_ROLE_SESSION_NAME: "pod-xyz",
    AWS_ENDPOINT_URL_STS: api.url,
    // The JavaScript SDK reads AWS_REGION; the aws CLI v1, AWS_DEFAULT_REGION.
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
  });

  it("the aws CLI's own credential chain: AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE; generate-db-auth-token logs in", async () => {
    const tokenFile = join(dir, "token");
    writeFileSync(tokenFile, await issuer.token({ sub: SUB }));
    const env = podEnv(tokenFile);
    const me = await aws(["sts", "get-caller-identity"], env);
    assert.equal(me.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/oidc-payments/pod-xyz`);
    const r = await awsCliResult(
      [
        "rds",
        "generate-db-auth-token",
        "--hostname",
        "localhost",
        "--port",
        String(gw.port),
        "--username",
        DB_USER,
        "--region",
        REGION,
      ],
      env,
    );
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /X-Amz-Security-Token=/);
    assert.equal(await login(token), DB_USER);
  });

  it("iamdb token with the same pod environment: the SDK chain inside iamdb signs a token that logs in", async () => {
    const tokenFile = join(dir, "token-iamdb");
    writeFileSync(tokenFile, await issuer.token({ sub: SUB }));
    const r = await iamdb(
      [
        "token",
        "--hostname",
        "localhost",
        "--port",
        String(gw.port),
        "--username",
        DB_USER,
        "--region",
        REGION,
      ],
      { ...podEnv(tokenFile), AWS_EC2_METADATA_DISABLED: "true" },
    );
    assert.equal(r.code, 0, r.stderr);
    const token = r.stdout.trim();
    assert.match(token, /X-Amz-Security-Token=/);
    assert.equal(await login(token), DB_USER);
  });

  it("the JavaScript SDK v3 default chain and @aws-sdk/rds-signer, in a process of their own", async () => {
    const tokenFile = join(dir, "token-js");
    writeFileSync(tokenFile, await issuer.token({ sub: SUB }));
    const script = `
      import { defaultProvider } from "@aws-sdk/credential-provider-node";
      import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
      import { Signer } from "@aws-sdk/rds-signer";
      const credentials = defaultProvider();
      const me = await new STSClient({ credentials }).send(new GetCallerIdentityCommand({}));
      const token = await new Signer({ hostname: "localhost", port: ${gw.port}, username: "${DB_USER}", region: "${REGION}", credentials }).getAuthToken();
      process.stdout.write(JSON.stringify({ arn: me.Arn, token }));
    `;
    const home = mkdtempSync(join(tmpdir(), "iamdb-oidc-home-"));
    try {
      const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: home,
          AWS_CONFIG_FILE: join(home, "config"),
          AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
          AWS_EC2_METADATA_DISABLED: "true",
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          ...podEnv(tokenFile),
        },
        timeout: 60_000,
      });
      const out = JSON.parse(stdout) as { arn: string; token: string };
      assert.equal(out.arn, `arn:aws:sts::${ACCOUNT}:assumed-role/oidc-payments/pod-xyz`);
      assert.equal(await login(out.token), DB_USER);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  it("revoking a role's sessions the AWS way (Deny on aws:TokenIssueTime) ends web-identity and AssumeRole sessions", async () => {
    const sts = await import("@aws-sdk/client-sts");
    const client = new sts.STSClient({ region: REGION, endpoint: api.url, maxAttempts: 1 });
    const viaWeb = async () => {
      const r = await client.send(
        new sts.AssumeRoleWithWebIdentityCommand({
          RoleArn: roleArn,
          RoleSessionName: "pod-rev",
          WebIdentityToken: await issuer.token({ sub: SUB }),
        }),
      );
      const c = r.Credentials;
      assert.ok(c?.AccessKeyId && c.SecretAccessKey && c.SessionToken);
      return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
    };
    const resource = `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${gw.instance().dbiResourceId}/${DB_USER}`;
    await gw.iam.createUser({ userName: "oidc-operator" });
    const opKey = await gw.iam.createAccessKey({ userName: "oidc-operator" });
    const op = await gw.iam.lookupCredential(opKey.accessKeyId);
    assert.ok(op);
    await gw.iam.createRole({
      roleName: "oidc-classic",
      assumeRolePolicyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Principal: { AWS: op.principal.arn }, Action: "sts:AssumeRole" }],
      }),
    });
    await gw.iam.putRolePolicy({
      roleName: "oidc-classic",
      policyName: "connect",
      policyDocument: JSON.stringify({
        Version: "2012-10-17",
        Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: resource }],
      }),
    });
    const viaAssumeRole = async () => {
      const r = await gw.iam.assumeRole({
        caller: op.principal,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/oidc-classic`,
        roleSessionName: "ops",
      });
      return r.credentials;
    };

    const oldWeb = await viaWeb();
    const oldClassic = await viaAssumeRole();
    assert.equal(await login(tokenFor(oldWeb)), DB_USER);
    assert.equal(await login(tokenFor(oldClassic)), DB_USER);

    // Sessions are stamped in milliseconds: wait until the revocation time is past their issue.
    const revokeAt = new Date(Date.now() + 5);
    while (Date.now() <= revokeAt.getTime()) await new Promise((r) => setTimeout(r, 2));
    const revoke = JSON.stringify({
      Version: "2012-10-17",
      Statement: [
        {
          Effect: "Deny",
          Action: "*",
          Resource: "*",
          Condition: { DateLessThan: { "aws:TokenIssueTime": revokeAt.toISOString() } },
        },
      ],
    });
    for (const roleName of ["oidc-payments", "oidc-classic"]) {
      await gw.iam.putRolePolicy({ roleName, policyName: "AWSRevokeOlderSessions", policyDocument: revoke });
    }
    for (const old of [oldWeb, oldClassic]) {
      const before = gw.log().length;
      const r = await refusal(pgClient(gw.port, DB_USER, tokenFor(old), gw.caPem));
      assert.equal(r.code, "28000");
      const entry = gw
        .log()
        .slice(before)
        .find((l) => l.decision === "failure");
      assert.equal(entry?.errorCode, "NotAuthorized");
      assert.match(String(entry?.detail), /AWSRevokeOlderSessions/);
    }
    assert.equal(await login(tokenFor(await viaWeb())), DB_USER);
    assert.equal(await login(tokenFor(await viaAssumeRole())), DB_USER);
  });
});
