// The single-pass parser against the plainly written one it replaced (reference/parse.ts):
// the same result — token, canonical query, or cause and detail — for valid tokens of
// every shape and for every kind of damage done to them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { parseAmzDate } from "../../src/sigv4/index.js";
import { generateAuthToken, parseAuthToken } from "../../src/token/index.js";
import { parseLayout } from "../../src/token/layout.js";
import { CREDS, customToken, T0, TEMP_CREDS } from "../helpers/sign.js";
import { referenceParseAmzDate, referenceParseAuthToken } from "./reference/parse.js";

const bases = [
  customToken(),
  customToken({ credentials: TEMP_CREDS }),
  customToken({ order: "sorted" }),
  customToken({ order: "reversed", credentials: TEMP_CREDS }),
  customToken({ user: "x+y=z o'brien/ü€😀", host: "MyDB.Example.COM", port: 443 }),
  customToken({ region: "eu-west-1", service: "rds", expires: 60 }),
  generateAuthToken({
    hostname: "db.example.com",
    port: 5432,
    username: "jane_doe",
    region: "us-east-1",
    credentials: TEMP_CREDS,
    signingDate: new Date(T0),
  }),
  generateAuthToken({
    hostname: "[::1]",
    port: 3306,
    username: "a.b-c_d~e",
    region: "us-west-2",
    credentials: CREDS,
    signingDate: new Date(T0),
  }),
];

/** Characters that matter to the parser, and some that break decoding or encoding. */
const ALPHABET = [..."%&=/?:+._~- 0123456789abcdefABCDEFXzg", "é", "€", "😀", "\uD800", "\uDC00", "\u0000"];
const char = fc.constantFrom(...ALPHABET);

/** Splits a token into its prefix and query segments, and joins them back. */
const partsOf = (t: string) => {
  const at = t.indexOf("/?");
  return { prefix: t.slice(0, at + 2), segments: t.slice(at + 2).split("&") };
};
const join = (prefix: string, segments: string[]) => `${prefix}${segments.join("&")}`;

/** The same bytes written otherwise: lower-case hex, or unreserved characters escaped. */
function reencode(component: string, lowerHex: boolean, escapeEvery: number): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(component);
  } catch {
    return component;
  }
  let out = "";
  let i = 0;
  for (const byte of Buffer.from(decoded, "utf8")) {
    const c = String.fromCharCode(byte);
    const unreserved = /[A-Za-z0-9\-_.~]/.test(c);
    if (unreserved && i++ % escapeEvery !== 0) out += c;
    else {
      const hex = byte.toString(16).padStart(2, "0");
      out += `%${lowerHex ? hex : hex.toUpperCase()}`;
    }
  }
  return out;
}

const mutation = fc.oneof(
  // replace, insert or delete characters
  fc.record({ op: fc.constant("replace" as const), at: fc.nat(), c: char }),
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), c: char }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 20 }) }),
  // re-encode a name or value, still meaning the same
  fc.record({
    op: fc.constant("reencode" as const),
    at: fc.nat(),
    name: fc.boolean(),
    lowerHex: fc.boolean(),
    escapeEvery: fc.integer({ min: 1, max: 7 }),
  }),
  // reorder, drop or duplicate segments, or add one
  fc.record({
    op: fc.constant("shuffle" as const),
    seed: fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
  }),
  fc.record({ op: fc.constant("drop" as const), at: fc.nat() }),
  fc.record({ op: fc.constant("duplicate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("add" as const),
    at: fc.nat(),
    segment: fc.constantFrom("A-=2", "X-Amz-Date-Extra=1", "zz=%2F", "Action=connect", "a=b=c", "=", "x", ""),
  }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function apply(token: string, m: Mutation): string {
  const { prefix, segments } = partsOf(token);
  const pick = (n: number) => n % segments.length;
  switch (m.op) {
    case "replace":
    case "insert": {
      const at = m.at % (token.length + 1);
      return token.slice(0, at) + m.c + token.slice(m.op === "replace" ? at + 1 : at);
    }
    case "delete": {
      const at = m.at % token.length;
      return token.slice(0, at) + token.slice(at + m.n);
    }
    case "reencode": {
      const i = pick(m.at);
      const segment = segments[i] as string;
      const eq = segment.indexOf("=");
      if (eq < 0) return token;
      const name = segment.slice(0, eq);
      const value = segment.slice(eq + 1);
      segments[i] = m.name
        ? `${reencode(name, m.lowerHex, m.escapeEvery)}=${value}`
        : `${name}=${reencode(value, m.lowerHex, m.escapeEvery)}`;
      return join(prefix, segments);
    }
    case "shuffle": {
      for (let i = segments.length - 1; i > 0; i--) {
        const j = (m.seed[i] as number) % (i + 1);
        [segments[i], segments[j]] = [segments[j] as string, segments[i] as string];
      }
      return join(prefix, segments);
    }
    case "drop":
      segments.splice(pick(m.at), 1);
      return join(prefix, segments);
    case "duplicate":
      segments.splice(pick(m.at), 0, segments[pick(m.at)] as string);
      return join(prefix, segments);
    case "add":
      segments.splice(m.at % (segments.length + 1), 0, m.segment);
      return join(prefix, segments);
  }
}

function same(token: string): void {
  assert.deepEqual(parseAuthToken(token), referenceParseAuthToken(token), JSON.stringify(token));
}

describe("parseAuthToken agrees with the reference parser", () => {
  it("on the valid tokens, which parse", () => {
    for (const token of bases) {
      assert.equal(parseAuthToken(token).ok, true, token);
      same(token);
    }
  });

  it("on tokens with one to four mutations of any kind", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        (base, mutations) => {
          same(mutations.reduce(apply, base));
        },
      ),
      { numRuns: 20_000 },
    );
  });

  it("on re-encoded tokens that still parse (non-canonical spelling, any order)", () => {
    let parsed = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...bases),
        fc.array(
          fc.oneof(
            mutation.filter((m) => m.op === "reencode"),
            mutation.filter((m) => m.op === "shuffle"),
          ),
          { minLength: 1, maxLength: 6 },
        ),
        (base, mutations) => {
          const token = mutations.reduce(apply, base);
          if (parseAuthToken(token).ok) parsed++;
          same(token);
        },
      ),
      { numRuns: 5_000 },
    );
    assert.ok(parsed > 1_000, `only ${parsed} of the re-encoded tokens parsed`);
  });

  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: "binary", maxLength: 300 }),
          fc.stringMatching(/^[a-z.]{1,8}:\d{1,6}\/\?[A-Za-z=&%0-9-]{0,80}$/),
        ),
        same,
      ),
      { numRuns: 5_000 },
    );
  });
});

describe("parseAmzDate agrees with the regular-expression version", () => {
  it("on real instants, round-tripped", () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1000, 0, 1), max: Date.UTC(9999, 11, 31) }), (ms) => {
        const iso = new Date(ms).toISOString();
        const amz = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
        assert.equal(parseAmzDate(amz), Math.floor(ms / 1000) * 1000);
        assert.equal(parseAmzDate(amz), referenceParseAmzDate(amz));
      }),
    );
  });

  it("on near-dates of any characters", () => {
    const digit = fc.constantFrom(..."0123456789");
    fc.assert(
      fc.property(
        fc.array(fc.oneof(digit, digit, digit, fc.constantFrom(..."TZ :-+/a\u0660\uFF10")), {
          minLength: 14,
          maxLength: 18,
        }),
        fc.boolean(),
        (chars, shape) => {
          const s =
            shape && chars.length >= 16
              ? `${chars.slice(0, 8).join("")}T${chars.slice(9, 15).join("")}Z`
              : chars.join("");
          assert.equal(parseAmzDate(s), referenceParseAmzDate(s), s);
        },
      ),
      { numRuns: 20_000 },
    );
  });
});

describe("the fast path (parseLayout) takes the layouts AWS tools write, and only those", () => {
  const layout = (token: string) => {
    const split = token.indexOf("/?");
    const colon = token.lastIndexOf(":", split);
    return parseLayout(token, split + 2, token.slice(0, colon), Number(token.slice(colon + 1, split)));
  };

  it("botocore's order, with and without a session token", () => {
    for (const token of [customToken(), customToken({ credentials: TEMP_CREDS, user: "x+y=z ü" })]) {
      const fast = layout(token);
      assert.ok(fast, token);
      assert.deepEqual({ ok: true, token: fast }, referenceParseAuthToken(token));
    }
  });

  it("@aws-sdk/rds-signer's order (canonical order: X-Amz-Signature before X-Amz-SignedHeaders)", () => {
    for (const token of [
      customToken({ order: "sorted" }),
      customToken({ order: "sorted", credentials: TEMP_CREDS }),
    ]) {
      assert.match(token, /&X-Amz-Signature=[0-9a-f]{64}&X-Amz-SignedHeaders=host$/);
      const fast = layout(token);
      assert.ok(fast, token);
      assert.deepEqual({ ok: true, token: fast }, referenceParseAuthToken(token));
    }
  });

  it("leaves every other shape to the general parser", () => {
    const good = customToken();
    for (const token of [
      customToken({ order: "reversed" }),
      `${good}&A-=2`,
      good.replace("DBUser=jane", "DBUser=%6Aane"),
      good.replace("%2F", "%2f"),
      good.replace("X-Amz-Date=20261126T120000Z", "X-Amz-Date=20260230T120000Z"),
      good.replace("X-Amz-Expires=900", "X-Amz-Expires=0"),
      good.replace("&X-Amz-SignedHeaders=host", ""),
      `${good}&X-Amz-SignedHeaders=host`,
    ]) {
      assert.equal(layout(token), undefined, token);
    }
  });
});
