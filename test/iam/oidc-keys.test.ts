import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { IdpCommunicationError, InvalidIdentityTokenError } from "../../src/iam/errors.js";
import { createIamService, type IamService, type IamServiceOptions } from "../../src/iam/service.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";
import { signingKey, startTestIssuer, type TestIssuer } from "../helpers/oidc-issuer.js";
import { ACCOUNT, doc, FakeClock, tempDir } from "./fixtures.js";

const SUB = "system:serviceaccount:default:app";

/**
 * The issuer's keys as the control plane gets them: which certificates it trusts (system store or
 * thumbprint), how long it keeps keys, when it asks again, and what it does when the issuer is
 * down or never answers. A fake clock moves time; the issuer counts what it serves.
 */
describe("OIDC provider keys: trust, cache, refresh, outages", () => {
  let issuer: TestIssuer;
  before(async () => {
    issuer = await startTestIssuer({ path: "/cluster" });
  });
  after(() => issuer.close());

  async function withService(
    thumbprints: string[],
    oidc: IamServiceOptions["oidc"],
    fn: (iam: IamService, clock: FakeClock, assume: (token: string) => Promise<string>) => Promise<void>,
  ): Promise<void> {
    const t = tempDir();
    const clock = new FakeClock(Date.now());
    const iam = createIamService({
      repository: openSqliteStore({ dataDir: t.dir }),
      masterKey: randomBytes(32),
      accountId: ACCOUNT,
      now: clock.now,
      ...(oidc === undefined ? {} : { oidc }),
    });
    issuer.mode = "up";
    issuer.published = issuer.published.slice(0, 1);
    try {
      const { arn } = await iam.createOpenIdConnectProvider({
        url: issuer.url,
        clientIdList: ["sts.amazonaws.com"],
        thumbprintList: thumbprints,
      });
      await iam.createRole({
        roleName: "app",
        assumeRolePolicyDocument: doc({
          Effect: "Allow",
          Principal: { Federated: arn },
          Action: "sts:AssumeRoleWithWebIdentity",
        }),
      });
      const assume = async (token: string) =>
        (
          await iam.assumeRoleWithWebIdentity({
            roleArn: `arn:aws:iam::${ACCOUNT}:role/app`,
            roleSessionName: "session",
            webIdentityToken: token,
          })
        ).subjectFromWebIdentityToken;
      await fn(iam, clock, assume);
    } finally {
      issuer.mode = "up";
      await iam.close();
      t.remove();
    }
  }

  const keysHits = () => issuer.hits.get("/cluster/keys") ?? 0;
  const refused = async (p: Promise<unknown>, cls: new (...a: never[]) => Error, message: RegExp) =>
    assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
      assert.match(e.message, message);
      return true;
    });

  it("trusts the issuer through the trust store (extra CA) without a thumbprint", () =>
    withService([], { extraCa: [issuer.chain.root.pem] }, async (_iam, _clock, assume) => {
      assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
    }));

  it("without the CA in a trust store: a thumbprint of the server's certificate or of the intermediate it presents", async () => {
    await withService([], undefined, async (_iam, _clock, assume) => {
      await refused(
        assume(await issuer.token({ sub: SUB })),
        InvalidIdentityTokenError,
        /^OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint: .*no thumbprint/,
      );
    });
    await withService([issuer.chain.leaf.thumbprint], undefined, async (_iam, _clock, assume) => {
      assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
    });
    await withService(
      [issuer.chain.intermediate.thumbprint.toUpperCase()],
      undefined,
      async (_iam, _clock, assume) => {
        assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
      },
    );
    // The root is not in the chain the server presents: its thumbprint proves nothing here.
    await withService([issuer.chain.root.thumbprint], undefined, async (_iam, _clock, assume) => {
      await refused(
        assume(await issuer.token({ sub: SUB })),
        InvalidIdentityTokenError,
        /no certificate of its chain matches/,
      );
    });
    await withService(["0".repeat(40)], undefined, async (_iam, _clock, assume) => {
      await refused(
        assume(await issuer.token({ sub: SUB })),
        InvalidIdentityTokenError,
        /doesn't match configured thumbprint/,
      );
    });
  });

  it("a thumbprint does not vouch for a certificate that names another host", async () => {
    const other = await startTestIssuer({
      path: "/cluster",
      chain: await (await import("../helpers/oidc-issuer.js")).makeIssuerChain({
        dns: ["elsewhere.example"],
        ip: [],
      }),
    });
    try {
      const t = tempDir();
      const iam = createIamService({
        repository: openSqliteStore({ dataDir: t.dir }),
        masterKey: randomBytes(32),
        accountId: ACCOUNT,
      });
      try {
        await iam.createOpenIdConnectProvider({
          url: other.url,
          clientIdList: ["sts.amazonaws.com"],
          thumbprintList: [other.chain.leaf.thumbprint, other.chain.intermediate.thumbprint],
        });
        await refused(
          iam.assumeRoleWithWebIdentity({
            roleArn: `arn:aws:iam::${ACCOUNT}:role/none`,
            roleSessionName: "session",
            webIdentityToken: await other.token({ sub: SUB }),
          }),
          InvalidIdentityTokenError,
          /does not name 127\.0\.0\.1/,
        );
      } finally {
        await iam.close();
        t.remove();
      }
    } finally {
      await other.close();
    }
  });

  it("keeps keys for their life, uses them while the issuer is down, and fetches again after", () =>
    withService([issuer.chain.intermediate.thumbprint], { ttlMs: 600_000 }, async (_iam, clock, assume) => {
      const start = keysHits();
      assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
      assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
      assert.equal(keysHits(), start + 1, "the second token used the cached keys");
      issuer.mode = "down";
      clock.advance(599);
      assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
      clock.advance(2);
      await refused(
        assume(await issuer.token({ sub: SUB })),
        IdpCommunicationError,
        /^Couldn't retrieve verification key from your identity provider/,
      );
      issuer.mode = "up";
      assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
      assert.equal(keysHits(), start + 2);
    }));

  it("an issuer that never answers fails within the timeout with IDPCommunicationError", () =>
    withService([issuer.chain.intermediate.thumbprint], { timeoutMs: 300 }, async (_iam, _clock, assume) => {
      issuer.mode = "hang";
      await refused(
        assume(await issuer.token({ sub: SUB })),
        IdpCommunicationError,
        /did not answer within 300 ms/,
      );
    }));

  it("an unknown kid fetches again (rotation), at most once per cooldown", () =>
    withService(
      [issuer.chain.intermediate.thumbprint],
      { refreshCooldownMs: 30_000 },
      async (_iam, clock, assume) => {
        const start = keysHits();
        assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
        const rotated = await signingKey("key-2", "ES256");
        issuer.published = [...issuer.published, rotated];
        // Within the cooldown the cache is not refreshed: the new kid is unknown.
        await refused(
          assume(await issuer.token({ sub: SUB }, { key: rotated })),
          InvalidIdentityTokenError,
          /No key of the provider/,
        );
        assert.equal(keysHits(), start + 1);
        clock.advance(31);
        assert.equal(await assume(await issuer.token({ sub: SUB }, { key: rotated })), SUB);
        assert.equal(keysHits(), start + 2);
        // A kid nobody publishes costs one fetch per cooldown, not one per request.
        clock.advance(31);
        const stranger = await signingKey("key-x");
        for (let i = 0; i < 5; i++) {
          await refused(
            assume(await issuer.token({ sub: SUB }, { key: stranger })),
            InvalidIdentityTokenError,
            /No key/,
          );
        }
        assert.equal(keysHits(), start + 3);
      },
    ));

  it("a thumbprint removed from the provider drops the keys fetched under it", () =>
    withService([issuer.chain.intermediate.thumbprint], undefined, async (iam, _clock, assume) => {
      assert.equal(await assume(await issuer.token({ sub: SUB })), SUB);
      const [p] = await iam.listOpenIdConnectProviders();
      assert.ok(p);
      await iam.updateOpenIdConnectProviderThumbprint({
        openIdConnectProviderArn: p.arn,
        thumbprintList: ["1".repeat(40)],
      });
      await refused(
        assume(await issuer.token({ sub: SUB })),
        InvalidIdentityTokenError,
        /doesn't match configured thumbprint/,
      );
    }));
});
