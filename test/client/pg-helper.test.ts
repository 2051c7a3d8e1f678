// The node-postgres helpers against a real iamdb gateway whose clock (token verification, STS
// session expiry) is the same fake clock as the token cache's: connections made on both sides
// of a token's expiry, temporary credentials that end before the token, retry-once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { AwsCredentials, CredentialProvider } from "../../src/client/credentials.js";
import { IamdbPgPool, iamdbPassword, iamdbPgConfig } from "../../src/client/pg.js";
import { REGION, startTestGateway, type TestGateway } from "../gateway/fixture.js";
import { kitName } from "./helpers.js";

const clock = { now: Date.now() };
let gw: TestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };
const dbUser = kitName();

before(async () => {
  gw = await startTestGateway({ now: () => new Date(clock.now) });
  creds = await gw.userWithAccess(kitName("kitiam"), dbUser);
  await gw.provision(dbUser);
});

after(async () => {
  await gw.close();
});

/** A pool in which every query opens a new connection (maxUses 1): each is a login. */
function pool(
  password: ReturnType<typeof iamdbPassword>,
  extra: Omit<Partial<pg.PoolConfig>, "password"> = {},
) {
  return new IamdbPgPool({
    ...iamdbPgConfig({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      database: "test",
      ca: gw.caPem,
    }),
    password,
    maxUses: 1,
    max: 10,
    ...extra,
  });
}

const whoami = async (p: pg.Pool) => (await p.query("select current_user as u")).rows[0]?.u as string;

describe("iamdbPassword + IamdbPgPool", () => {
  it("a pool's connections made on both sides of a token's expiry never fail a login", async () => {
    const start = clock.now;
    const password = iamdbPassword({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      credentials: creds,
      now: () => clock.now,
    });
    const p = pool(password);
    p.on("error", () => undefined);
    let signings = 0;
    let last: string | undefined;
    const check = async () => {
      assert.equal(await whoami(p), dbUser);
      const t = password.cache.peek()?.token;
      if (t !== last) signings++;
      last = t;
    };
    try {
      await check();
      const firstToken = password.cache.peek()?.token as string;
      // Just before the earliest refresh (840 s - 30 s of jitter): the first token still serves.
      clock.now = start + 805_000;
      await check();
      assert.equal(signings, 1);
      // Past the refresh point, concurrently: one new token, every login succeeds.
      clock.now = start + 845_000;
      await Promise.all(Array.from({ length: 10 }, check));
      assert.equal(signings, 2);
      // Past the first token's expiry: the pool keeps working with the second.
      clock.now = start + 901_000;
      await Promise.all(Array.from({ length: 10 }, check));
      assert.equal(signings, 2);
      // What a pool with the token captured at creation does by now: refused.
      const naive = new pg.Client({
        host: "localhost",
        port: gw.port,
        user: dbUser,
        database: "test",
        password: firstToken,
        ssl: { ca: gw.caPem },
      });
      await assert.rejects(naive.connect(), /PAM authentication failed/);
      assert.equal(gw.log().at(-1)?.cause, "expired");
    } finally {
      await p.end();
      clock.now = Date.now();
    }
  });

  it("temporary credentials ending before the token: re-signed with the new session before the old one ends", async () => {
    const start = clock.now;
    const lookup = await gw.iam.lookupCredential(creds.accessKeyId);
    assert.ok(lookup);
    const issued: AwsCredentials[] = [];
    // A credential source handing out 15-minute STS sessions, a new one only when asked to
    // refresh or when the current one has ended (as credential_process with a fixed file would).
    const source: CredentialProvider = async (o) => {
      const current = issued.at(-1);
      if (current && !o?.forceRefresh && (current.expiration?.getTime() ?? 0) > clock.now) return current;
      const { credentials } = await gw.iam.getSessionToken({
        caller: lookup.principal,
        durationSeconds: 900,
      });
      const c = {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        sessionToken: credentials.sessionToken,
        expiration: credentials.expiration,
      };
      issued.push(c);
      return c;
    };
    await source(); // session 1 starts at `start`
    clock.now = start + 500_000; // the first login comes 500 s into session 1
    const password = iamdbPassword({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      credentials: source,
      now: () => clock.now,
    });
    const p = pool(password);
    p.on("error", () => undefined);
    try {
      assert.equal(await whoami(p), dbUser);
      const first = password.cache.peek();
      assert.equal(first?.accessKeyId, issued[0]?.accessKeyId);
      // The token would live to 1400 s; its session ends at 900 s.
      assert.equal(first?.expiresAt, issued[0]?.expiration?.getTime());
      assert.ok((first?.expiresAt ?? 0) <= start + 900_000);
      clock.now = start + 880_000;
      assert.equal(await whoami(p), dbUser);
      assert.equal(password.cache.peek()?.accessKeyId, issued[1]?.accessKeyId);
      // A token of session 1, past its session's end, is refused: the early refresh was needed.
      clock.now = start + 905_000;
      assert.equal(await whoami(p), dbUser);
      const stale = new pg.Client({
        host: "localhost",
        port: gw.port,
        user: dbUser,
        database: "test",
        password: first?.token,
        ssl: { ca: gw.caPem },
      });
      await assert.rejects(stale.connect(), /PAM authentication failed/);
      assert.equal(gw.log().at(-1)?.cause, "session-expired");
    } finally {
      await p.end();
      clock.now = Date.now();
    }
  });

  it("a refused token is retried once with a newly signed one", async () => {
    let call = 0;
    // The first credentials are another user's key: its tokens are refused (not allowed).
    const other = await gw.userWithAccess(kitName("kitiam"), "kit_somebody_else");
    const password = iamdbPassword({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      credentials: async () => (call++ === 0 ? other : creds),
      now: () => clock.now,
    });
    const p = pool(password);
    try {
      assert.equal(await whoami(p), dbUser);
      assert.equal(call, 2);
      assert.equal(gw.log().at(-2)?.cause, "not-authorized");
    } finally {
      await p.end();
    }
  });

  it("a refusal that a new token does not fix reaches the caller as pg's error", async () => {
    const other = await gw.userWithAccess(kitName("kitiam"), "kit_nobody_here");
    const password = iamdbPassword({
      host: "localhost",
      port: gw.port,
      user: dbUser,
      region: REGION,
      credentials: other,
    });
    const p = pool(password);
    try {
      await assert.rejects(p.query("select 1"), (err: { code?: string; message: string }) => {
        assert.equal(err.code, "28000");
        return true;
      });
    } finally {
      await p.end();
    }
  });
});
