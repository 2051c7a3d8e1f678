// Every refusal cause of verifyAuthToken at its boundary, with a fake clock.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { type CredentialRecord, type VerifyOptions, verifyAuthToken } from "../../src/token/index.js";
import { CREDS, customToken, T0, TEMP_CREDS } from "../helpers/sign.js";
import { rawParam, withParam } from "../helpers/tokens.js";

const longTerm: CredentialRecord = { secretAccessKey: CREDS.secretAccessKey, status: "Active" };
const temporary: CredentialRecord = {
  secretAccessKey: TEMP_CREDS.secretAccessKey,
  status: "Active",
  sessionToken: TEMP_CREDS.sessionToken,
  expiresAt: new Date(T0 + 3600_000),
};

function options(overrides: Partial<VerifyOptions> = {}, at = T0): VerifyOptions {
  const keys = new Map([
    [CREDS.accessKeyId, longTerm],
    [TEMP_CREDS.accessKeyId, temporary],
  ]);
  return {
    hostnames: ["db.example.com", "alias.example.com"],
    port: 5432,
    region: "us-east-1",
    dbUser: "jane",
    lookupCredential: (id) => keys.get(id),
    now: () => new Date(at),
    ...overrides,
  };
}

async function cause(token: unknown, opts: VerifyOptions = options()): Promise<string> {
  const r = await verifyAuthToken(token, opts);
  return r.ok ? "ok" : r.cause;
}

describe("verifyAuthToken: lifetime with a fake clock", () => {
  const token = customToken();
  for (const [age, expected] of [
    [0, "ok"],
    [899, "ok"],
    [900, "ok"],
    [900.001, "expired"],
    [901, "expired"],
    [86_400, "expired"],
  ] as const) {
    it(`at ${age} s after signing: ${expected}`, async () => {
      assert.equal(await cause(token, options({}, T0 + age * 1000)), expected);
    });
  }

  it("honours a shorter X-Amz-Expires", async () => {
    const short = customToken({ expires: 60 });
    assert.equal(await cause(short, options({}, T0 + 60_000)), "ok");
    assert.equal(await cause(short, options({}, T0 + 61_000)), "expired");
  });

  for (const [ahead, skew, expected] of [
    [60, undefined, "ok"],
    [61, undefined, "not-yet-valid"],
    [300, 300, "ok"],
    [301, 300, "not-yet-valid"],
    [1, 0, "not-yet-valid"],
  ] as const) {
    it(`signed ${ahead} s in the future with skew ${skew ?? "default (60)"}: ${expected}`, async () => {
      const t = customToken({ at: T0 + ahead * 1000 });
      assert.equal(await cause(t, options(skew === undefined ? {} : { clockSkewSeconds: skew })), expected);
    });
  }

  it("X-Amz-Expires 900 is accepted, 901 and more are refused as too long", async () => {
    assert.equal(await cause(customToken({ expires: 900 })), "ok");
    assert.equal(await cause(customToken({ expires: 901 })), "expires-too-long");
    assert.equal(await cause(customToken({ expires: 604_800 })), "expires-too-long");
  });

  for (const bad of ["0", "-1", "abc", "", "1e3", "9.5", " 900", "0x10"]) {
    it(`X-Amz-Expires ${JSON.stringify(bad)} is malformed`, async () => {
      assert.equal(
        await cause(withParam(customToken(), "X-Amz-Expires", encodeURIComponent(bad))),
        "malformed",
      );
    });
  }

  it("the failure says when it expired without quoting the token", async () => {
    const r = await verifyAuthToken(customToken(), options({}, T0 + 1000_000));
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.errorCode, "ExpiredToken");
      assert.match(r.detail, /expired 100 s ago/);
    }
  });
});

describe("verifyAuthToken: scope and binding", () => {
  it("refuses a token signed for another service", async () => {
    assert.equal(await cause(customToken({ service: "rds" })), "wrong-service");
  });

  it("refuses a token signed for another region, and says which", async () => {
    const r = await verifyAuthToken(customToken({ region: "eu-west-1" }), options());
    assert.equal(r.ok ? "ok" : r.cause, "wrong-region");
    if (!r.ok) assert.match(r.detail, /eu-west-1.*us-east-1/);
  });

  it("refuses a credential scope date that is not the date of X-Amz-Date", async () => {
    const token = customToken();
    const credential = decodeURIComponent(rawParam(token, "X-Amz-Credential")).replace(
      "20261126",
      "20261125",
    );
    assert.equal(
      await cause(withParam(token, "X-Amz-Credential", encodeURIComponent(credential))),
      "scope-date-mismatch",
    );
  });

  it("accepts any of the listener's names, and refuses names it does not answer for", async () => {
    assert.equal(await cause(customToken({ host: "alias.example.com" })), "ok");
    assert.equal(await cause(customToken({ host: "evil.example.com" })), "host-mismatch");
  });

  it("refuses a token for another port, and never tries other ports", async () => {
    assert.equal(await cause(customToken({ port: 5433 })), "port-mismatch");
    assert.equal(await cause(customToken(), options({ port: 6432 })), "port-mismatch");
  });

  it("accepts botocore's lower-cased host and the JS signer's as-typed host", async () => {
    const opts = options({ hostnames: ["DB.Example.com"] });
    // botocore: prefix as typed, host signed lower-cased.
    assert.equal(await cause(customToken({ host: "DB.Example.com" }), opts), "ok");
    // @aws-sdk/rds-signer: host signed as typed.
    assert.equal(
      await cause(customToken({ host: "DB.EXAMPLE.com", signedHost: "DB.EXAMPLE.com:5432" }), opts),
      "ok",
    );
    // The prefix may choose the case, never the host: signed for another host, relabelled.
    const relabelled = customToken({ host: "db.example.com", signedHost: "evil.example.com:5432" });
    assert.equal(await cause(relabelled, opts), "signature-mismatch");
  });

  it("accepts port 443 signed without the port, as botocore signs the https default", async () => {
    const opts = options({ port: 443 });
    assert.equal(await cause(customToken({ port: 443, signedHost: "db.example.com" }), opts), "ok");
    assert.equal(await cause(customToken({ port: 443 }), opts), "ok");
  });

  it("compares the DB user case-sensitively", async () => {
    assert.equal(await cause(customToken({ user: "Jane" })), "user-mismatch");
    assert.equal(await cause(customToken({ user: "jane " })), "user-mismatch");
    assert.equal(await cause(customToken({ user: "Jane" }), options({ dbUser: "Jane" })), "ok");
  });

  it("accepts the same token again within its life (reuse is allowed)", async () => {
    const token = customToken();
    for (let i = 0; i < 3; i++) assert.equal(await cause(token, options({}, T0 + i * 300_000)), "ok");
  });

  for (const order of ["botocore", "sorted", "reversed"] as const) {
    it(`accepts parameters in ${order} order`, async () => {
      assert.equal(await cause(customToken({ order })), "ok");
      assert.equal(await cause(customToken({ order, credentials: TEMP_CREDS })), "ok");
    });
  }
});

describe("verifyAuthToken: keys and session tokens", () => {
  it("refuses an unknown key", async () => {
    assert.equal(await cause(customToken(), options({ lookupCredential: () => undefined })), "unknown-key");
  });

  it("refuses an inactive key", async () => {
    const lookup = () => ({ ...longTerm, status: "Inactive" as const });
    assert.equal(await cause(customToken(), options({ lookupCredential: lookup })), "inactive-key");
  });

  it("accepts temporary credentials with their session token until the session expires", async () => {
    const token = customToken({ credentials: TEMP_CREDS });
    assert.equal(await cause(token), "ok");
    const expired = { ...temporary, expiresAt: new Date(T0) };
    assert.equal(await cause(token, options({ lookupCredential: () => expired })), "session-expired");
    const almost = { ...temporary, expiresAt: new Date(T0 + 1) };
    assert.equal(await cause(token, options({ lookupCredential: () => almost })), "ok");
  });

  it("refuses temporary credentials signed without their session token", async () => {
    const { sessionToken: _omit, ...noToken } = TEMP_CREDS;
    assert.equal(await cause(customToken({ credentials: noToken })), "session-token-missing");
  });

  it("refuses a session token that belongs to other credentials", async () => {
    const token = customToken({ credentials: { ...TEMP_CREDS, sessionToken: "another-session" } });
    assert.equal(await cause(token), "session-token-mismatch");
  });

  it("refuses a session token that accompanies a long-term key", async () => {
    assert.equal(
      await cause(customToken({ credentials: { ...CREDS, sessionToken: "x" } })),
      "session-token-unexpected",
    );
  });

  it("turns a failing credential store into a refusal, not an exception", async () => {
    const opts = options({
      lookupCredential: () => {
        throw new Error("connection refused");
      },
    });
    assert.equal(await cause(customToken(), opts), "lookup-failed");
    const rejecting = options({ lookupCredential: () => Promise.reject(new Error("timeout")) });
    assert.equal(await cause(customToken(), rejecting), "lookup-failed");
  });
});
