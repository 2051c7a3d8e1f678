import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AddClientIDToOpenIDConnectProviderCommand,
  CreateOpenIDConnectProviderCommand,
  CreateRoleCommand,
  DeleteOpenIDConnectProviderCommand,
  GetOpenIDConnectProviderCommand,
  ListOpenIDConnectProvidersCommand,
  ListOpenIDConnectProviderTagsCommand,
  PutRolePolicyCommand,
  RemoveClientIDFromOpenIDConnectProviderCommand,
  TagOpenIDConnectProviderCommand,
  UntagOpenIDConnectProviderCommand,
  UpdateOpenIDConnectProviderThumbprintCommand,
} from "@aws-sdk/client-iam";
import {
  AssumeRoleWithWebIdentityCommand,
  type AssumeRoleWithWebIdentityCommandInput,
  GetCallerIdentityCommand,
  STSClient,
} from "@aws-sdk/client-sts";
import { base64url, exportSPKI, importJWK, SignJWT, UnsecuredJWT } from "jose";
import { IAMDB_API_VERSION } from "../../src/api/iamdb-actions.js";
import { evaluate } from "../../src/policy/index.js";
import { signingKey, startTestIssuer, type TestIssuer } from "../helpers/oidc-issuer.js";
import { ACCOUNT, errorOf, type Harness, policy, rawCall, startHarness } from "./helpers.js";

const SUB = "system:serviceaccount:payments:api";
const ROLE = `arn:aws:iam::${ACCOUNT}:role/payments-api`;

describe("OpenID Connect providers and AssumeRoleWithWebIdentity through the admin API", () => {
  let issuer: TestIssuer;
  let h: Harness;
  let providerArn: string;
  /** An STS client with no credentials at all: AssumeRoleWithWebIdentity is unsigned. */
  let anonymous: STSClient;
  const assume = (token: string, extra: Partial<AssumeRoleWithWebIdentityCommandInput> = {}) =>
    anonymous.send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: ROLE,
        RoleSessionName: "pod-1",
        WebIdentityToken: token,
        ...extra,
      }),
    );

  before(async () => {
    issuer = await startTestIssuer({ path: "/id/CLUSTER1" });
    h = await startHarness();
    anonymous = new STSClient({
      region: "us-east-1",
      endpoint: h.api.url,
      maxAttempts: 1,
      // The SDK sends this operation unsigned whatever the credentials; none are given.
      credentials: async () => {
        throw new Error("AssumeRoleWithWebIdentity must not need credentials");
      },
    });
    const { iam } = h.clients();
    providerArn = (
      await iam.send(
        new CreateOpenIDConnectProviderCommand({
          Url: issuer.url,
          ClientIDList: ["sts.amazonaws.com"],
          // The issuer's CA is in no trust store: the intermediate it presents is trusted by thumbprint.
          ThumbprintList: [issuer.chain.intermediate.thumbprint],
          Tags: [{ Key: "cluster", Value: "one" }],
        }),
      )
    ).OpenIDConnectProviderArn as string;
    await iam.send(
      new CreateRoleCommand({
        RoleName: "payments-api",
        AssumeRolePolicyDocument: policy({
          Effect: "Allow",
          Principal: { Federated: providerArn },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: { [`${issuer.host}:sub`]: SUB, [`${issuer.host}:aud`]: "sts.amazonaws.com" },
          },
        }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: "payments-api",
        PolicyName: "connect",
        PolicyDocument: policy({
          Effect: "Allow",
          Action: "rds-db:connect",
          // The token's subject, through the session's web-identity key.
          Resource: `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/\${${issuer.host}:sub}`,
        }),
      }),
    );
  });
  after(async () => {
    await h.dispose();
    await issuer.close();
  });

  it("provider actions: AWS's ARN, shapes, idempotent client ids, thumbprints, tags and errors", async () => {
    const { iam } = h.clients();
    assert.equal(providerArn, `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.host}`);
    const got = await iam.send(
      new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }),
    );
    assert.equal(got.Url, issuer.host);
    assert.deepEqual(got.ClientIDList, ["sts.amazonaws.com"]);
    assert.deepEqual(got.ThumbprintList, [issuer.chain.intermediate.thumbprint]);
    assert.deepEqual(got.Tags, [{ Key: "cluster", Value: "one" }]);
    assert.ok(got.CreateDate instanceof Date);
    assert.deepEqual((await iam.send(new ListOpenIDConnectProvidersCommand({}))).OpenIDConnectProviderList, [
      { Arn: providerArn },
    ]);

    const dup = await errorOf(
      iam.send(new CreateOpenIDConnectProviderCommand({ Url: issuer.url, ClientIDList: ["x"] })),
    );
    assert.equal(dup.name, "EntityAlreadyExistsException");
    const http = await errorOf(
      iam.send(new CreateOpenIDConnectProviderCommand({ Url: "http://idp.example" })),
    );
    assert.equal(http.name, "InvalidInputException");
    assert.match(http.message, /must begin with https:\/\//);
    const query = await errorOf(
      iam.send(new CreateOpenIDConnectProviderCommand({ Url: "https://idp.example/?a=b" })),
    );
    assert.equal(query.name, "InvalidInputException");
    const badPrint = await errorOf(
      iam.send(
        new CreateOpenIDConnectProviderCommand({ Url: "https://idp.example", ThumbprintList: ["abc"] }),
      ),
    );
    assert.equal(badPrint.name, "ValidationError");
    const sixPrints = await errorOf(
      iam.send(
        new CreateOpenIDConnectProviderCommand({
          Url: "https://idp.example",
          ThumbprintList: Array.from({ length: 6 }, (_, i) => String(i).repeat(40)),
        }),
      ),
    );
    assert.equal(sixPrints.name, "ValidationError");

    const arn = { OpenIDConnectProviderArn: providerArn };
    await iam.send(new AddClientIDToOpenIDConnectProviderCommand({ ...arn, ClientID: "other" }));
    await iam.send(new AddClientIDToOpenIDConnectProviderCommand({ ...arn, ClientID: "other" }));
    assert.deepEqual((await iam.send(new GetOpenIDConnectProviderCommand(arn))).ClientIDList, [
      "sts.amazonaws.com",
      "other",
    ]);
    await iam.send(new RemoveClientIDFromOpenIDConnectProviderCommand({ ...arn, ClientID: "other" }));
    await iam.send(new RemoveClientIDFromOpenIDConnectProviderCommand({ ...arn, ClientID: "never-added" }));
    assert.deepEqual((await iam.send(new GetOpenIDConnectProviderCommand(arn))).ClientIDList, [
      "sts.amazonaws.com",
    ]);

    await iam.send(new TagOpenIDConnectProviderCommand({ ...arn, Tags: [{ Key: "team", Value: "pay" }] }));
    await iam.send(new UntagOpenIDConnectProviderCommand({ ...arn, TagKeys: ["cluster"] }));
    assert.deepEqual((await iam.send(new ListOpenIDConnectProviderTagsCommand(arn))).Tags, [
      { Key: "team", Value: "pay" },
    ]);
    const both = [issuer.chain.intermediate.thumbprint, issuer.chain.leaf.thumbprint];
    await iam.send(new UpdateOpenIDConnectProviderThumbprintCommand({ ...arn, ThumbprintList: both }));
    assert.deepEqual((await iam.send(new GetOpenIDConnectProviderCommand(arn))).ThumbprintList, both);

    const missing = `arn:aws:iam::${ACCOUNT}:oidc-provider/nowhere.example`;
    const gone = await errorOf(
      iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: missing })),
    );
    assert.equal(gone.name, "NoSuchEntityException");
    assert.equal(gone.message, `OpenIDConnect Provider not found for arn ${missing}`);
    const notArn = await errorOf(
      iam.send(
        new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: "arn:aws:iam::1:user/x-yyyyyyy" }),
      ),
    );
    assert.equal(notArn.name, "InvalidInputException");
  });

  it("provider actions are authorized as iam:ACTION on the provider's ARN", async () => {
    await h.iam.createUser({ userName: "reader" });
    await h.iam.putUserPolicy({
      userName: "reader",
      policyName: "read",
      policyDocument: policy({
        Effect: "Allow",
        Action: "iam:GetOpenIDConnectProvider",
        Resource: providerArn,
      }),
    });
    const k = await h.iam.createAccessKey({ userName: "reader" });
    const { iam } = h.clients({ accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey });
    const ok = await iam.send(new GetOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }));
    assert.equal(ok.Url, issuer.host);
    const denied = await errorOf(
      iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn })),
    );
    assert.equal(denied.name, "AccessDenied");
    assert.match(
      denied.message,
      /iam:DeleteOpenIDConnectProvider on resource: arn:aws:iam::\d+:oidc-provider\//,
    );
  });

  it("AssumeRoleWithWebIdentity: AWS's response, the assumed-role session, its web-identity keys", async () => {
    const token = await issuer.token({ sub: SUB, amr: ["pwd", "mfa"] });
    const r = await assume(token, { DurationSeconds: 900 });
    assert.equal(r.SubjectFromWebIdentityToken, SUB);
    assert.equal(r.Audience, "sts.amazonaws.com");
    assert.equal(r.Provider, providerArn);
    assert.equal(r.AssumedRoleUser?.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/payments-api/pod-1`);
    assert.match(r.AssumedRoleUser?.AssumedRoleId ?? "", /^AROA[A-Z2-7]{17}:pod-1$/);
    const c = r.Credentials;
    assert.ok(c?.AccessKeyId && c.SecretAccessKey && c.SessionToken && c.Expiration);
    assert.match(c.AccessKeyId, /^ASIA/);
    const span = c.Expiration.getTime() - Date.now();
    assert.ok(span > 800_000 && span <= 900_000, `expires in ${span} ms`);

    const keys = {
      accessKeyId: c.AccessKeyId,
      secretAccessKey: c.SecretAccessKey,
      sessionToken: c.SessionToken,
    };
    const me = await h.clients(keys).sts.send(new GetCallerIdentityCommand({}));
    assert.equal(me.Arn, r.AssumedRoleUser?.Arn);

    // The session's policies see ${HOST/PATH:sub}, :aud, :amr and aws:FederatedProvider.
    const cred = await h.iam.lookupCredential(c.AccessKeyId);
    assert.ok(cred);
    const set = await h.iam.policySetFor(cred.principal);
    assert.ok(set);
    const ctx = set.principal.sessionContext ?? {};
    assert.equal(ctx[`${issuer.host}:sub`], SUB);
    assert.equal(ctx[`${issuer.host}:aud`], "sts.amazonaws.com");
    assert.deepEqual(ctx[`${issuer.host}:amr`], ["pwd", "mfa"]);
    assert.equal(ctx["aws:FederatedProvider"], providerArn);
    const dbUser = (u: string) =>
      `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/${u}`;
    const decide = (u: string) =>
      evaluate({ action: "rds-db:connect", resource: dbUser(u), principal: set.principal }, set.policies)
        .decision;
    assert.equal(decide(SUB), "allowed");
    assert.equal(decide("system:serviceaccount:payments:other"), "implicitDeny");
  });

  it("the trust policy decides: sub, aud, sts:RoleSessionName, a missing role and Deny statements", async () => {
    const other = await issuer.token({ sub: "system:serviceaccount:default:intruder" });
    const denied = await errorOf(assume(other));
    assert.equal(denied.name, "AccessDenied");
    assert.match(denied.message, /^Not authorized to perform sts:AssumeRoleWithWebIdentity/);
    assert.equal(denied.status, 403);
    const noRole = await errorOf(
      assume(await issuer.token({ sub: SUB }), { RoleArn: `arn:aws:iam::${ACCOUNT}:role/none` }),
    );
    assert.equal(noRole.name, "AccessDenied");

    await h.iam.createRole({
      roleName: "named-sessions",
      assumeRolePolicyDocument: policy(
        {
          Effect: "Allow",
          Principal: { Federated: providerArn },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: { StringLike: { [`${issuer.host}:sub`]: "system:serviceaccount:payments:*" } },
        },
        {
          Effect: "Deny",
          Principal: { Federated: providerArn },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: { StringNotLike: { "sts:RoleSessionName": "pod-*" } },
        },
      ),
    });
    const named = `arn:aws:iam::${ACCOUNT}:role/named-sessions`;
    const token = await issuer.token({ sub: SUB });
    assert.equal(
      (await assume(token, { RoleArn: named, RoleSessionName: "pod-7" })).AssumedRoleUser?.Arn?.endsWith(
        "/pod-7",
      ),
      true,
    );
    assert.equal(
      (await errorOf(assume(token, { RoleArn: named, RoleSessionName: "laptop" }))).name,
      "AccessDenied",
    );
    // A trust policy for sts:AssumeRole only does not let web identities in.
    await h.iam.createRole({
      roleName: "assume-only",
      assumeRolePolicyDocument: policy({
        Effect: "Allow",
        Principal: { Federated: providerArn },
        Action: "sts:AssumeRole",
      }),
    });
    assert.equal(
      (await errorOf(assume(token, { RoleArn: `arn:aws:iam::${ACCOUNT}:role/assume-only` }))).name,
      "AccessDenied",
    );
  });

  it("refuses bad tokens with AWS's error codes", async () => {
    const now = Math.floor(Date.now() / 1000);
    const code = async (token: string) => {
      const e = await errorOf(assume(token));
      return { name: e.name, message: e.message };
    };
    const expired = await code(await issuer.token({ sub: SUB, iat: now - 7200, exp: now - 3600 }));
    assert.equal(expired.name, "ExpiredTokenException");
    assert.match(
      expired.message,
      /^Token expired: current date\/time .* must be before the expiration date\/time/,
    );
    const early = await code(await issuer.token({ sub: SUB, nbf: now + 3600 }));
    assert.deepEqual(early.name, "InvalidIdentityTokenException");
    assert.match(early.message, /not valid yet/);
    const future = await code(await issuer.token({ sub: SUB, iat: now + 3600, exp: now + 7200 }));
    assert.equal(future.name, "InvalidIdentityTokenException");
    assert.match(future.message, /^Token used before issued/);
    const aud = await code(await issuer.token({ sub: SUB, aud: "some-other-client" }));
    assert.equal(aud.name, "InvalidIdentityTokenException");
    assert.match(aud.message, /^Incorrect token audience/);
    const audList = await assume(await issuer.token({ sub: SUB, aud: ["a", "sts.amazonaws.com"] }));
    assert.equal(audList.Audience, "sts.amazonaws.com");

    const unknownIssuer = await code(await issuer.token({ sub: SUB, iss: "https://unknown.example/id/X" }));
    assert.equal(unknownIssuer.name, "InvalidIdentityTokenException");
    assert.match(
      unknownIssuer.message,
      /^No OpenIDConnect provider found in your account for https:\/\/unknown\.example/,
    );

    // Signed with a key of the same kid the issuer never published.
    const impostor = await signingKey("key-1");
    const forged = await code(await issuer.token({ sub: SUB }, { key: impostor }));
    assert.equal(forged.name, "InvalidIdentityTokenException");
    assert.match(forged.message, /signature does not verify/);

    const unsigned = new UnsecuredJWT({ iss: issuer.url, sub: SUB, aud: "sts.amazonaws.com" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .encode();
    const none = await code(unsigned);
    assert.equal(none.name, "InvalidIdentityTokenException");
    assert.match(none.message, /signing algorithm is not accepted/);

    // HMAC with the issuer's public key as the shared secret (the classic algorithm confusion).
    const publicPem = await spkiOf(issuer);
    const hmac = await new SignJWT({ iss: issuer.url, sub: SUB, aud: "sts.amazonaws.com" })
      .setProtectedHeader({ alg: "HS256", kid: "key-1" })
      .setIssuedAt()
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(publicPem));
    const confused = await code(hmac);
    assert.equal(confused.name, "InvalidIdentityTokenException");
    assert.match(confused.message, /signing algorithm is not accepted/);

    const stranger = await signingKey("key-unknown");
    const unknownKid = await code(await issuer.token({ sub: SUB }, { key: stranger }));
    assert.equal(unknownKid.name, "InvalidIdentityTokenException");
    assert.match(unknownKid.message, /No key of the provider .* matches the web identity token's kid/);

    const noSub = await code(await issuer.token({ sub: undefined }));
    assert.equal(noSub.name, "IDPRejectedClaimException");

    const notJwt = await code("this is not a token at all");
    assert.equal(notJwt.name, "InvalidIdentityTokenException");
    assert.match(notJwt.message, /is not a JWT/);
    const huge = `${base64url.encode('{"alg":"RS256"}')}.${"A".repeat(20_001)}.sig`;
    const big = await code(huge);
    assert.equal(big.name, "ValidationError");
    assert.doesNotMatch(big.message, /AAAA/);

    const provider = await errorOf(
      assume(await issuer.token({ sub: SUB }), { ProviderId: "www.amazon.com" }),
    );
    assert.equal(provider.name, "InvalidParameterValue");
    const tooLong = await errorOf(assume(await issuer.token({ sub: SUB }), { DurationSeconds: 7200 }));
    assert.equal(tooLong.name, "ValidationError");
    assert.match(tooLong.message, /MaxSessionDuration/);
  });

  it("never writes a web identity token into the request log or an error", async () => {
    const good = await issuer.token({ sub: SUB });
    await assume(good);
    const bad = await issuer.token({ sub: SUB, aud: "nope" });
    const e = await errorOf(assume(bad));
    const text = JSON.stringify(h.logs) + e.message;
    for (const t of [good, bad]) {
      for (const part of t.split("."))
        assert.ok(!text.includes(part), "a token part reached a log line or an error");
    }
  });

  it("static JWKS (iamdb:PutOpenIDConnectProviderJwks): keys used without asking the issuer; private keys refused", async () => {
    const call = (action: string, extra: Record<string, string> = {}) =>
      rawCall(h, {
        service: "iamdb",
        body: new URLSearchParams({
          Action: action,
          Version: IAMDB_API_VERSION,
          OpenIDConnectProviderArn: providerArn,
          ...extra,
        }).toString(),
      });
    const key = await signingKey("offline", "ES256");
    const put = await call("PutOpenIDConnectProviderJwks", {
      Jwks: JSON.stringify({ keys: [key.publicJwk] }),
    });
    assert.equal(put.status, 200, put.text);
    const leaked = await call("PutOpenIDConnectProviderJwks", {
      Jwks: JSON.stringify({ keys: [{ ...key.publicJwk, d: "c2VjcmV0" }] }),
    });
    assert.equal(leaked.code, "InvalidInput");
    assert.match(leaked.message ?? "", /private member &quot;d&quot;/);

    issuer.mode = "down";
    try {
      const before = issuer.hits.get("/id/CLUSTER1/keys") ?? 0;
      const r = await assume(await issuer.token({ sub: SUB }, { key }));
      assert.equal(r.SubjectFromWebIdentityToken, SUB);
      assert.equal(issuer.hits.get("/id/CLUSTER1/keys") ?? 0, before);
      // The issuer's own (published) keys are not used while the static set is in place.
      assert.equal(
        (await errorOf(assume(await issuer.token({ sub: SUB })))).name,
        "InvalidIdentityTokenException",
      );
    } finally {
      issuer.mode = "up";
      const del = await call("DeleteOpenIDConnectProviderJwks");
      assert.equal(del.status, 200, del.text);
    }
    assert.equal((await assume(await issuer.token({ sub: SUB }))).SubjectFromWebIdentityToken, SUB);
  });

  it("a deleted provider refuses new tokens; sessions it issued follow their role", async () => {
    const { iam } = h.clients();
    const r = await assume(await issuer.token({ sub: SUB }));
    const c = r.Credentials;
    assert.ok(c?.AccessKeyId && c.SecretAccessKey && c.SessionToken);
    await iam.send(new DeleteOpenIDConnectProviderCommand({ OpenIDConnectProviderArn: providerArn }));
    try {
      const refused = await errorOf(assume(await issuer.token({ sub: SUB })));
      assert.equal(refused.name, "InvalidIdentityTokenException");
      assert.match(refused.message, /No OpenIDConnect provider found/);
      const keys = {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
      };
      assert.equal(
        (await h.clients(keys).sts.send(new GetCallerIdentityCommand({}))).Arn,
        r.AssumedRoleUser?.Arn,
      );
    } finally {
      await iam.send(
        new CreateOpenIDConnectProviderCommand({
          Url: issuer.url,
          ClientIDList: ["sts.amazonaws.com"],
          ThumbprintList: [issuer.chain.intermediate.thumbprint],
        }),
      );
    }
  });
});

/** The issuer's first published key as SPKI PEM (what an attacker would use as an HMAC secret). */
async function spkiOf(issuer: TestIssuer): Promise<string> {
  const k = issuer.published[0];
  assert.ok(k);
  return exportSPKI(
    (await importJWK(k.publicJwk, "RS256", { extractable: true })) as Parameters<typeof exportSPKI>[0],
  );
}
