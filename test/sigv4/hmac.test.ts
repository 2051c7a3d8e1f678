// The one-shot HMAC-SHA256 (two crypto.hash calls over pre-padded key blocks) against
// node:crypto's createHmac, on the lengths where padding and block boundaries change.
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import { hmacPads, hmacSha256, hmacSha256Hex } from "../../src/sigv4/hmac-sha256.js";
import { deriveSigningKey, SigningKeyCache } from "../../src/sigv4/index.js";

const expected = (key: Uint8Array | string, data: string) => createHmac("sha256", key).update(data, "utf8");

/** Key lengths around SHA-256's 64-byte block (longer keys are hashed first). */
const KEY_LENGTHS = [0, 1, 20, 32, 44, 55, 56, 63, 64, 65, 100, 128, 129, 200];
/** Message lengths around where the padding spills into another block, and past the shared buffer. */
const MESSAGE_LENGTHS = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 200, 1023, 1024, 1025, 5000];

const text = (n: number, alphabet: string) => {
  let s = "";
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(Math.random() * alphabet.length)];
  return s.slice(0, n);
};

describe("hmacSha256 and hmacSha256Hex", () => {
  it("equal createHmac for every key and message length around the block size", () => {
    for (const keyLength of KEY_LENGTHS) {
      const key = randomBytes(keyLength);
      const pads = hmacPads(key);
      for (const n of MESSAGE_LENGTHS) {
        for (const alphabet of ["abcXYZ09\n/", "é€ü", "😀a"]) {
          const data = text(n, alphabet);
          assert.equal(hmacSha256Hex(pads, data), expected(key, data).digest("hex"), `${keyLength}/${n}`);
          assert.deepEqual(hmacSha256(key, data), expected(key, data).digest(), `${keyLength}/${n}`);
        }
      }
    }
  });

  it("equal createHmac on random keys (bytes or strings) and messages, including lone surrogates", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 150 }), fc.string({ unit: "binary", maxLength: 90 })),
        fc.string({ unit: "binary", maxLength: 1200 }),
        (key, data) => {
          const bytes = typeof key === "string" ? Buffer.from(key, "utf8") : key;
          assert.deepEqual(hmacSha256(key, data), expected(key, data).digest());
          assert.equal(hmacSha256Hex(hmacPads(bytes), data), expected(bytes, data).digest("hex"));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("keeps prepared keys apart: calls with other keys in between change nothing", () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const padsA = hmacPads(a);
    const padsB = hmacPads(b);
    for (let i = 0; i < 50; i++) {
      const data = text(i * 7, "abc/é😀");
      assert.equal(hmacSha256Hex(padsA, data), expected(a, data).digest("hex"));
      const other = randomBytes(i * 3);
      assert.deepEqual(hmacSha256(other, data), expected(other, data).digest());
      assert.equal(hmacSha256Hex(padsB, data), expected(b, data).digest("hex"));
      assert.equal(hmacSha256Hex(padsA, `${data}x`), expected(a, `${data}x`).digest("hex"));
    }
  });
});

describe("deriveSigningKey over the one-shot HMAC", () => {
  it("equals the chain of createHmac calls the SigV4 documentation gives", () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 80 }),
        fc.stringMatching(/^\d{8}$/),
        fc.stringMatching(/^[a-z0-9-]{1,20}$/),
        (secret, date, region) => {
          const h = (key: Uint8Array | string, data: string) =>
            createHmac("sha256", key).update(data).digest();
          const want = h(h(h(h(`AWS4${secret}`, date), region), "rds-db"), "aws4_request");
          assert.deepEqual(deriveSigningKey(secret, { date, region, service: "rds-db" }), want);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("SigningKeyCache: the most recently used entry", () => {
  const scope = { date: "20261126", region: "us-east-1", service: "rds-db" };

  it("is returned again only for the same secret and scope, field by field", () => {
    const cache = new SigningKeyCache();
    const key = cache.get("secret", scope);
    assert.equal(cache.get("secret", { ...scope }), key, "an equal scope in a new object hits");
    for (const other of [
      { ...scope, date: "20261127" },
      { ...scope, region: "us-east-2" },
      { ...scope, service: "rds" },
    ]) {
      const k = cache.get("secret", other);
      assert.notEqual(k, key);
      assert.deepEqual(k.key, deriveSigningKey("secret", other));
      assert.equal(cache.get("secret", scope), key, "and the first is still cached");
    }
    const changed = cache.get("secreT", scope);
    assert.deepEqual(
      changed.key,
      deriveSigningKey("secreT", scope),
      "a changed secret never hits a stale key",
    );
    assert.equal(cache.size, 5);
  });

  it("is forgotten by clear(), and never kept by a cache of capacity 0", () => {
    const cache = new SigningKeyCache();
    const key = cache.get("secret", scope);
    cache.clear();
    assert.equal(cache.size, 0);
    const again = cache.get("secret", scope);
    assert.notEqual(again, key, "derived anew after clear()");
    assert.deepEqual(again.key, key.key);
    const none = new SigningKeyCache(0);
    assert.notEqual(none.get("secret", scope), none.get("secret", scope));
    assert.equal(none.size, 0);
  });

  it("stays the most recent under eviction", () => {
    const cache = new SigningKeyCache(1);
    const a = cache.get("a", scope);
    const b = cache.get("b", scope);
    assert.equal(cache.get("b", scope), b);
    assert.notEqual(cache.get("a", scope), a, "a was evicted by b");
    assert.equal(cache.size, 1);
  });
});
