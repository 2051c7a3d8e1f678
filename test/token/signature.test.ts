// The verifier's token signature (one template string per step) against the general
// SigV4 computeSignature it stands in for.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { computeSignature, EMPTY_SHA256, SigningKeyCache, scopeString } from "../../src/sigv4/index.js";
import { tokenSignature } from "../../src/token/signature.js";

describe("tokenSignature", () => {
  it("equals computeSignature for GET / with host as the one signed header", () => {
    const cache = new SigningKeyCache();
    fc.assert(
      fc.property(
        fc.string({ unit: "binary", maxLength: 600 }),
        fc.string({ maxLength: 60 }),
        fc.stringMatching(/^\d{8}T\d{6}Z$/),
        fc.stringMatching(/^[a-z0-9-]{1,20}$/),
        fc.string({ maxLength: 40 }),
        (query, host, amzDate, region, secret) => {
          const scope = { date: amzDate.slice(0, 8), region, service: "rds-db" };
          const want = computeSignature(
            {
              method: "GET",
              canonicalUri: "/",
              canonicalQuery: query,
              canonicalHeaders: `host:${host}\n`,
              signedHeaders: "host",
              payloadHash: EMPTY_SHA256,
            },
            amzDate,
            scope,
            secret,
            cache,
          ).signature;
          const key = cache.get(secret, scope);
          assert.equal(tokenSignature(query, host, amzDate, scopeString(scope), key), want);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
