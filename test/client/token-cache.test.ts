// The token cache with a fake clock: when it signs, when it reuses, what expiring
// credentials do to it, one refresh in flight, and what happens when the source fails.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AwsCredentials, CredentialProvider } from "../../src/client/credentials.js";
import { CredentialsExpiredError, TokenCache } from "../../src/client/token-cache.js";
import { parseAuthToken } from "../../src/token/index.js";

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const LONG_TERM: AwsCredentials = { accessKeyId: "AKIAKIT0000000000001", secretAccessKey: "kit-secret-1" };

function fixture(provider: CredentialProvider, random = 0) {
  const clock = { now: T0 };
  const cache = new TokenCache({
    hostname: "db.example.com",
    port: 5432,
    username: "jane",
    region: "us-east-1",
    credentials: provider,
    now: () => clock.now,
    random: () => random,
  });
  return { clock, cache };
}

/** A provider that counts its calls and returns what `next` gives. */
function counting(next: (call: number, force: boolean) => AwsCredentials) {
  const calls: boolean[] = [];
  const provider: CredentialProvider = async (o) => {
    calls.push(o?.forceRefresh === true);
    return next(calls.length, o?.forceRefresh === true);
  };
  return { provider, calls };
}

const signedAt = (token: string) => {
  const p = parseAuthToken(token);
  assert.ok(p.ok);
  return p.token.amzDate;
};

describe("TokenCache", () => {
  it("signs once, reuses the token until 60 s before its 15 minutes, then signs again", async () => {
    const { provider, calls } = counting(() => LONG_TERM);
    const { clock, cache } = fixture(provider);
    const first = await cache.signed();
    assert.equal(first.expiresAt, T0 + 900_000);
    assert.equal(first.refreshAt, T0 + 840_000); // jitter 0 (random() = 0)
    clock.now = T0 + 839_999;
    assert.equal(await cache.token(), first.token);
    clock.now = T0 + 840_000;
    const second = await cache.token();
    assert.notEqual(second, first.token);
    assert.equal(signedAt(second), "20260101T121400Z");
    assert.equal(calls.length, 2);
  });

  it("jitter moves the refresh earlier by up to 30 s", async () => {
    const { cache } = fixture(counting(() => LONG_TERM).provider, 0.999999);
    const s = await cache.signed();
    assert.ok(s.refreshAt > T0 + 810_000 && s.refreshAt <= T0 + 810_001, String(s.refreshAt - T0));
  });

  it("temporary credentials expiring before the token force an early refresh, with new credentials", async () => {
    let session = 0;
    const { provider, calls } = counting(() => {
      session++;
      return {
        accessKeyId: `ASIAKIT00000000000${session}`,
        secretAccessKey: `s${session}`,
        sessionToken: `session-${session}`,
        // Each session lasts 5 minutes from when it was handed out.
        expiration: new Date(T0 + session * 240_000 + 60_000),
      };
    });
    const { clock, cache } = fixture(provider);
    const first = await cache.signed();
    // Session 1 expires at T0+5 min: the token (good for 15 min) dies with it.
    assert.equal(first.expiresAt, T0 + 300_000);
    assert.equal(first.refreshAt, T0 + 240_000);
    assert.ok(first.temporary);
    clock.now = T0 + 240_000;
    const second = await cache.signed();
    assert.equal(second.accessKeyId, "ASIAKIT000000000002");
    assert.equal(calls.length, 2);
  });

  it("credentials the source hands out about to expire are refreshed once, forced, before signing", async () => {
    const { provider, calls } = counting((n) => ({
      accessKeyId: `ASIAKIT00000000000${n}`,
      secretAccessKey: "s",
      sessionToken: "t",
      expiration: new Date(n === 1 ? T0 + 30_000 : T0 + 3_600_000),
    }));
    const { cache } = fixture(provider);
    const s = await cache.signed();
    assert.deepEqual(calls, [false, true]);
    assert.equal(s.accessKeyId, "ASIAKIT000000000002");
  });

  it("credentials that stay expired are an error that says to renew them", async () => {
    const { provider } = counting(() => ({ ...LONG_TERM, expiration: new Date(T0 - 1) }));
    const { cache } = fixture(provider);
    await assert.rejects(cache.token(), (err: Error) => {
      assert.ok(err instanceof CredentialsExpiredError);
      assert.match(err.message, /expired at 2026-01-01T11:59:59\.999Z.*renew them \(aws sso login/);
      assert.ok(!err.message.includes("kit-secret-1"));
      return true;
    });
  });

  it("concurrent callers share one signing", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    let calls = 0;
    const { cache } = fixture(async () => {
      calls++;
      await gate;
      return LONG_TERM;
    });
    const all = Promise.all(Array.from({ length: 50 }, () => cache.token()));
    release();
    const tokens = await all;
    assert.equal(new Set(tokens).size, 1);
    assert.equal(calls, 1);
  });

  it("invalidate(): the next token is signed with credentials fetched with forceRefresh", async () => {
    const { provider, calls } = counting(() => LONG_TERM);
    const { cache } = fixture(provider);
    await cache.token();
    cache.invalidate();
    await cache.token();
    assert.deepEqual(calls, [false, true]);
  });

  it("a failing source: the still-valid token is used past its refresh time; an error once none is left", async () => {
    let fail = false;
    const { clock, cache } = fixture(async () => {
      if (fail) throw new Error("metadata endpoint down");
      return LONG_TERM;
    });
    const first = await cache.token();
    fail = true;
    clock.now = T0 + 850_000;
    assert.equal(await cache.token(), first);
    clock.now = T0 + 896_000;
    await assert.rejects(cache.token(), /metadata endpoint down/);
    // Nothing cached from the failure: the source is asked again next time.
    fail = false;
    assert.notEqual(await cache.token(), first);
  });

  it("after invalidate(), a failing source is an error, not the refused token", async () => {
    let fail = false;
    const { cache } = fixture(async () => {
      if (fail) throw new Error("no credentials");
      return LONG_TERM;
    });
    await cache.token();
    fail = true;
    cache.invalidate();
    await assert.rejects(cache.token(), /no credentials/);
  });
});
