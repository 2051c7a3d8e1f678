// Checklist item 9: malformed tokens are refused with a cause, and nothing escapes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseAuthToken, type VerifyOptions, verifyAuthToken } from "../../src/token/index.js";
import { CREDS, customToken, T0, TEMP_CREDS } from "../helpers/sign.js";
import { rawParam, withParam } from "../helpers/tokens.js";

const good = customToken();
const goodTemp = customToken({ credentials: TEMP_CREDS });
const options: VerifyOptions = {
  hostnames: ["db.example.com"],
  port: 5432,
  region: "us-east-1",
  dbUser: "jane",
  lookupCredential: (id) =>
    id === CREDS.accessKeyId
      ? { secretAccessKey: CREDS.secretAccessKey, status: "Active" }
      : id === TEMP_CREDS.accessKeyId
        ? {
            secretAccessKey: TEMP_CREDS.secretAccessKey,
            status: "Active",
            sessionToken: TEMP_CREDS.sessionToken,
          }
        : undefined,
  now: () => new Date(T0),
};

function without(token: string, name: string): string {
  const [prefix, query = ""] = token.split("/?");
  return `${prefix}/?${query
    .split("&")
    .filter((p) => !p.startsWith(`${name}=`))
    .join("&")}`;
}

function duplicate(token: string, name: string): string {
  return `${token}&${name}=${rawParam(token, name)}`;
}

const credential = decodeURIComponent(rawParam(good, "X-Amz-Credential"));
const cases: Array<[string, unknown, string]> = [
  ["empty string", "", "malformed"],
  ["a plain password", "hunter2", "malformed"],
  ["a number", 42, "malformed"],
  ["null", null, "malformed"],
  ["an object", { token: good }, "malformed"],
  ["no query", "db.example.com:5432/", "malformed"],
  ["a scheme in front", `https://${good}`, "malformed"],
  ["no port", good.replace(":5432/?", "/?"), "malformed"],
  ["port 0", good.replace(":5432/?", ":0/?"), "malformed"],
  ["port 65536", good.replace(":5432/?", ":65536/?"), "malformed"],
  ["a parameter without '='", `${good}&garbage`, "malformed"],
  ["bad percent-encoding", withParam(good, "DBUser", "%E0%A4%A"), "malformed"],
  ["invalid UTF-8 in percent-encoding", withParam(good, "DBUser", "%ED%A0%80"), "malformed"],
  ["Action not connect", withParam(good, "Action", "login"), "malformed"],
  ["empty DBUser", withParam(good, "DBUser", ""), "malformed"],
  ["algorithm HMAC-SHA1", withParam(good, "X-Amz-Algorithm", "AWS4-HMAC-SHA1"), "unsupported-algorithm"],
  ["algorithm SigV4a", withParam(good, "X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256"), "unsupported-algorithm"],
  [
    "credential of four parts",
    withParam(good, "X-Amz-Credential", encodeURIComponent(credential.replace("/aws4_request", ""))),
    "malformed",
  ],
  [
    "credential of six parts",
    withParam(good, "X-Amz-Credential", encodeURIComponent(`${credential}/x`)),
    "malformed",
  ],
  [
    "credential with a lower-case key id",
    withParam(good, "X-Amz-Credential", encodeURIComponent(credential.replace("AKIA", "akia"))),
    "malformed",
  ],
  [
    "credential not ending aws4_request",
    withParam(
      good,
      "X-Amz-Credential",
      encodeURIComponent(credential.replace("aws4_request", "aws4_reques")),
    ),
    "malformed",
  ],
  ["non-numeric date", withParam(good, "X-Amz-Date", "2026112GT120000Z"), "malformed"],
  ["date without Z", withParam(good, "X-Amz-Date", "20261126T120000"), "malformed"],
  ["calendar-invalid date", withParam(good, "X-Amz-Date", "20260230T120000Z"), "malformed"],
  ["hour 24", withParam(good, "X-Amz-Date", "20261126T240000Z"), "malformed"],
  ["non-hex signature", withParam(good, "X-Amz-Signature", "g".repeat(64)), "malformed"],
  ["63-digit signature", withParam(good, "X-Amz-Signature", "a".repeat(63)), "malformed"],
  ["65-digit signature", withParam(good, "X-Amz-Signature", "a".repeat(65)), "malformed"],
  [
    "upper-case signature",
    withParam(good, "X-Amz-Signature", rawParam(good, "X-Amz-Signature").toUpperCase()),
    "malformed",
  ],
  [
    "signed headers other than host",
    withParam(good, "X-Amz-SignedHeaders", "host%3Bx-amz-date"),
    "malformed",
  ],
  ["longer than 16 KiB", `${good}&pad=${"a".repeat(16 * 1024)}`, "malformed"],
];
for (const name of [
  "Action",
  "DBUser",
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
]) {
  cases.push([`missing ${name}`, without(good, name), "malformed"]);
  cases.push([`duplicated ${name}`, duplicate(good, name), "malformed"]);
}
cases.push(["duplicated X-Amz-Security-Token", duplicate(goodTemp, "X-Amz-Security-Token"), "malformed"]);

describe("malformed tokens", () => {
  it("the unaltered tokens verify", async () => {
    assert.equal((await verifyAuthToken(good, options)).ok, true);
    assert.equal((await verifyAuthToken(goodTemp, options)).ok, true);
  });

  for (const [name, token, expected] of cases) {
    it(`${name}: ${expected}`, async () => {
      const r = await verifyAuthToken(token, options);
      assert.equal(r.ok ? "ok" : r.cause, expected);
      if (!r.ok) assert.ok(r.detail.length > 10, "the refusal explains itself");
    });
  }

  it("never echoes a pasted password into the refusal", async () => {
    for (const password of [
      "S3cr3t-P@ssw0rd!",
      "host:1/?S3cr3tValue",
      "hunter2/?Action=connect&DBUser=S3cr3t",
    ]) {
      const r = await verifyAuthToken(password, options);
      assert.equal(r.ok, false);
      if (!r.ok) assert.ok(!r.detail.includes("S3cr3t") && !r.detail.includes("hunter2"), r.detail);
    }
  });

  it("never puts the signature, secret or session token in a refusal", async () => {
    const secretsOf = (t: string) => [
      rawParam(t, "X-Amz-Signature"),
      TEMP_CREDS.sessionToken,
      TEMP_CREDS.secretAccessKey,
    ];
    const variants = [
      withParam(goodTemp, "X-Amz-Security-Token", encodeURIComponent(`${TEMP_CREDS.sessionToken}x`)),
      withParam(goodTemp, "DBUser", "bob"),
      goodTemp,
    ];
    for (const t of variants) {
      for (const now of [T0, T0 + 10_000_000]) {
        const r = await verifyAuthToken(t, { ...options, now: () => new Date(now), dbUser: "bob" });
        const text = JSON.stringify(r);
        for (const secret of secretsOf(t)) assert.ok(!text.includes(secret), `${text} leaks a secret`);
      }
    }
  });
});

describe("property: arbitrary input never throws", () => {
  it("parseAuthToken returns a result for any string", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        const r = parseAuthToken(s);
        assert.equal(typeof r.ok, "boolean");
      }),
      { numRuns: 3000 },
    );
  });

  it("verifyAuthToken resolves (never rejects) for any string, and accepts none of them", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string(),
          fc.string({ unit: "binary" }),
          fc.stringMatching(/^[a-z.]+:\d+\/\?[A-Za-z=&%0-9-]*$/),
        ),
        async (s) => {
          const r = await verifyAuthToken(s, options);
          assert.equal(r.ok, false);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("any single-character change to a valid token is refused and never throws", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: goodTemp.length - 1 }),
        fc.string({ minLength: 1, maxLength: 1, unit: "binary" }),
        async (i, c) => {
          fc.pre(goodTemp[i] !== c);
          const mutated = goodTemp.slice(0, i) + c + goodTemp.slice(i + 1);
          const r = await verifyAuthToken(mutated, options);
          // Case changes in the host prefix are the one harmless edit: hostnames are case-insensitive.
          if (r.ok) assert.equal(mutated.toLowerCase(), goodTemp.toLowerCase());
        },
      ),
      { numRuns: 3000 },
    );
  });
});

describe("canonical re-encoding of what the client sent", () => {
  it("accepts a token whose encoding is not canonical but means the same (lower-case hex, escaped unreserved)", async () => {
    // %2f instead of %2F, %41 instead of A: the canonical query is built from decoded values.
    const credential = rawParam(good, "X-Amz-Credential").replace(/%2F/g, "%2f").replace("AKIA", "%41KIA");
    assert.equal((await verifyAuthToken(withParam(good, "X-Amz-Credential", credential), options)).ok, true);
    const user = withParam(good, "DBUser", "%6A%61ne");
    assert.equal((await verifyAuthToken(user, options)).ok, true);
  });

  it("sorts parameter names that are prefixes of others first, as SigV4 does", async () => {
    // An extra signed parameter "X-Amz-Date-Extra" must sort after "X-Amz-Date".
    const { presignRequest, uriEncode } = await import("../../src/sigv4/index.js");
    const presigned = presignRequest(
      {
        method: "GET",
        path: "/",
        query: [
          ["Action", "connect"],
          ["DBUser", "jane"],
          ["X-Amz-Date-Extra", "1"],
          ["A-", "2"],
        ],
        headers: [["host", "db.example.com:5432"]],
      },
      {
        credentials: CREDS,
        region: "us-east-1",
        service: "rds-db",
        signingDate: new Date(T0),
        expiresIn: 900,
      },
    );
    const token = `db.example.com:5432/?${presigned.query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join("&")}`;
    assert.equal((await verifyAuthToken(token, options)).ok, true);
  });
});
