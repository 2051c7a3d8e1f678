// Tokens from the real `aws rds generate-db-auth-token` (botocore) and from
// @aws-sdk/rds-signer: ours match them, and our verifier accepts them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Signer } from "@aws-sdk/rds-signer";
import { generateAuthToken, parseAuthToken, verifyAuthToken } from "../../src/index.js";
import { awsAuthToken } from "../helpers/aws.js";
import { CREDS, TEMP_CREDS } from "../helpers/sign.js";
import { rawParam } from "../helpers/tokens.js";

function signingDateOf(token: string): Date {
  const parsed = parseAuthToken(token);
  assert.ok(parsed.ok, "the token parses");
  return new Date(parsed.token.signedAtMs);
}

const store = (id: string) =>
  id === CREDS.accessKeyId
    ? { secretAccessKey: CREDS.secretAccessKey, status: "Active" as const }
    : id === TEMP_CREDS.accessKeyId
      ? {
          secretAccessKey: TEMP_CREDS.secretAccessKey,
          status: "Active" as const,
          sessionToken: TEMP_CREDS.sessionToken,
        }
      : undefined;

const cases = [
  { hostname: "db.example.com", port: 5432, username: "jane_doe", region: "us-east-1", credentials: CREDS },
  {
    hostname: "MyDB.Example.COM",
    port: 3306,
    username: "x+y=z o'brien",
    region: "eu-west-1",
    credentials: TEMP_CREDS,
  },
  { hostname: "127.0.0.1", port: 443, username: "Ünïcødé", region: "us-west-2", credentials: CREDS },
];

describe("the real aws CLI (botocore)", () => {
  for (const c of cases) {
    it(`aws rds generate-db-auth-token for ${c.username}@${c.hostname}:${c.port} equals ours and verifies`, async () => {
      const theirs = await awsAuthToken(c, c.credentials);
      const ours = generateAuthToken({ ...c, signingDate: signingDateOf(theirs) });
      assert.equal(ours, theirs);
      const r = await verifyAuthToken(theirs, {
        hostnames: [c.hostname.toLowerCase()],
        port: c.port,
        region: c.region,
        dbUser: c.username,
        lookupCredential: store,
      });
      assert.equal(r.ok ? "ok" : r.detail, "ok");
    });
  }
});

describe("@aws-sdk/rds-signer", () => {
  for (const c of cases) {
    it(`its token for ${c.username}@${c.hostname}:${c.port} verifies, with our signature on lower-case hosts`, async () => {
      const theirs = await new Signer({ ...c }).getAuthToken();
      const r = await verifyAuthToken(theirs, {
        hostnames: [c.hostname.toLowerCase()],
        port: c.port,
        region: c.region,
        dbUser: c.username,
        lookupCredential: store,
      });
      assert.equal(r.ok ? "ok" : r.detail, "ok");
      // rds-signer always signs host:port; botocore drops :443. Elsewhere, on a lower-case
      // host, both sign the same canonical request, so the signatures are equal.
      if (c.hostname === c.hostname.toLowerCase() && c.port !== 443) {
        const ours = generateAuthToken({ ...c, signingDate: signingDateOf(theirs) });
        assert.equal(rawParam(ours, "X-Amz-Signature"), rawParam(theirs, "X-Amz-Signature"));
        assert.notEqual(
          ours,
          theirs,
          "the parameter order differs (rds-signer sorts), the signature does not",
        );
      }
    });
  }
});
