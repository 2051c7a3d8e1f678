// Pieces of the SigV4 core the suite does not pin down on its own.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  canonicalPath,
  deriveSigningKey,
  EncodingError,
  formatAmzDate,
  parseAmzDate,
  SigningKeyCache,
  uriEncode,
} from "../../src/sigv4/index.js";

describe("uriEncode", () => {
  it("keeps exactly the RFC 3986 unreserved set and encodes UTF-8 bytes in upper-case hex", () => {
    assert.equal(uriEncode("AZaz09-_.~"), "AZaz09-_.~");
    assert.equal(uriEncode("a b+c=d/e!'()*"), "a%20b%2Bc%3Dd%2Fe%21%27%28%29%2A");
    assert.equal(uriEncode("Ünï😀"), "%C3%9Cn%C3%AF%F0%9F%98%80");
  });

  it("round-trips through decodeURIComponent and leaves nothing reserved", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), (s) => {
        const e = uriEncode(s);
        assert.equal(decodeURIComponent(e), s);
        assert.match(e, /^[A-Za-z0-9\-_.~%]*$/);
      }),
    );
  });

  it("refuses an unpaired surrogate with a typed error", () => {
    assert.throws(() => uriEncode("a\uD800b"), EncodingError);
  });
});

describe("canonicalPath", () => {
  for (const [path, normalized, raw] of [
    ["/", "/", "/"],
    ["", "/", "/"],
    ["/a/./b/../c", "/a/c", "/a/./b/../c"],
    ["/a/b/..", "/a/", "/a/b/.."],
    ["//a//b//", "/a/b/", "//a//b//"],
    ["/../..", "/", "/../.."],
    ["/a b/ሴ", "/a%20b/%E1%88%B4", "/a%20b/%E1%88%B4"],
  ] as const) {
    it(`${JSON.stringify(path)} -> ${normalized} (raw ${raw})`, () => {
      assert.equal(canonicalPath(path, true), normalized);
      assert.equal(canonicalPath(path, false), raw);
    });
  }
});

describe("amz dates", () => {
  it("formats without milliseconds and parses strictly", () => {
    assert.equal(formatAmzDate(new Date("2026-01-02T03:04:05.678Z")), "20260102T030405Z");
    assert.equal(parseAmzDate("20260102T030405Z"), Date.parse("2026-01-02T03:04:05Z"));
    for (const bad of [
      "20260230T000000Z",
      "20261301T000000Z",
      "20260101T236000Z",
      "2026-01-01T00:00:00Z",
      "20260101T000000",
      "",
    ]) {
      assert.equal(parseAmzDate(bad), undefined, bad);
    }
  });
});

describe("SigningKeyCache", () => {
  const scope = { date: "20261126", region: "us-east-1", service: "rds-db" };

  it("returns the derived key, derived once per secret, day, region and service", () => {
    const cache = new SigningKeyCache(4);
    const key = cache.get("secret", scope);
    assert.deepEqual(key.key, deriveSigningKey("secret", scope));
    assert.equal(key.signHex("data"), createHmac("sha256", key.key).update("data").digest("hex"));
    assert.equal(cache.get("secret", scope), key, "the same Buffer on a hit");
    assert.notDeepEqual(cache.get("secret2", scope).key, key.key, "another secret never hits a stale key");
    assert.notDeepEqual(cache.get("secret", { ...scope, date: "20261127" }).key, key.key);
    assert.equal(cache.size, 3);
  });

  it("evicts the least recently used entry at capacity", () => {
    const cache = new SigningKeyCache(2);
    const a = cache.get("a", scope);
    const b = cache.get("b", scope);
    assert.equal(cache.get("a", scope), a); // a is now the most recent
    cache.get("c", scope); // evicts b, not a
    assert.equal(cache.size, 2);
    assert.equal(cache.get("a", scope), a, "a survived");
    const again = cache.get("b", scope);
    assert.notEqual(again, b, "b was evicted and derived anew");
    assert.deepEqual(again.key, b.key);
  });
});
