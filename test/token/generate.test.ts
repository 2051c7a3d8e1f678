// generateAuthToken writes the canonical query out by hand for speed; the generic
// presigner must produce the same token for any input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { presignRequest, uriEncode } from "../../src/sigv4/index.js";
import { botocoreSignedHost, generateAuthToken, TokenInputError } from "../../src/token/index.js";

describe("generateAuthToken", () => {
  it("equals the generic SigV4 presigner's output for arbitrary users, hosts, ports, regions and session tokens", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 40, unit: "grapheme" }),
        fc.domain(),
        fc.integer({ min: 1, max: 65535 }),
        fc.stringMatching(/^[a-z]{2}-[a-z]{4,9}-[1-9]$/),
        fc.option(fc.base64String({ minLength: 4, maxLength: 1200 }), { nil: undefined }),
        fc.date({ min: new Date("2000-01-01"), max: new Date("2099-12-31"), noInvalidDate: true }),
        (username, hostname, port, region, sessionToken, signingDate) => {
          const credentials = {
            accessKeyId: "AKIAIOSFODNN7EXAMPLE",
            secretAccessKey: "secret/+=",
            sessionToken,
          };
          const ours = generateAuthToken({ hostname, port, username, region, credentials, signingDate });
          const generic = presignRequest(
            {
              method: "GET",
              path: "/",
              query: [
                ["Action", "connect"],
                ["DBUser", username],
              ],
              headers: [["host", botocoreSignedHost(hostname, port)]],
            },
            { credentials, region, service: "rds-db", signingDate, expiresIn: 900 },
          );
          const query = generic.query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`).join("&");
          assert.equal(ours, `${hostname}:${port}/?${query}`);
        },
      ),
      { numRuns: 500 },
    );
  });

  for (const [field, bad] of [
    ["hostname", { hostname: "" }],
    ["hostname", { hostname: "https://db" }],
    ["port", { port: 0 }],
    ["port", { port: 65536 }],
    ["port", { port: 5432.5 }],
    ["username", { username: "" }],
    ["region", { region: "US East" }],
  ] as const) {
    it(`refuses ${JSON.stringify(bad)} with a message naming ${field}`, () => {
      const input = Object.assign(
        {
          hostname: "db.example.com",
          port: 5432,
          username: "jane",
          region: "us-east-1",
          credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "s" },
        },
        bad,
      );
      assert.throws(
        () => generateAuthToken(input),
        (e: unknown) => e instanceof TokenInputError && e.message.startsWith(field),
      );
    });
  }
});
