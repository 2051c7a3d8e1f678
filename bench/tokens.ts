// Token signing and verification, next to @aws-sdk/rds-signer, in the same process.
import { Signer } from "@aws-sdk/rds-signer";
// The built package (its own name resolves to dist/ through package.json "exports"): the
// benchmark measures the code users run, not a test-time transpilation of it.
import { generateAuthToken, SigningKeyCache, verifyAuthToken } from "iamdb";
import { type BenchPath, runInterleaved } from "./harness.js";

const credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const input = {
  hostname: "db.example.com",
  port: 5432,
  username: "jane_doe",
  region: "us-east-1",
  credentials,
};

/**
 * Verification rotates through this many distinct valid tokens (signed one to two seconds
 * apart), so no measurement can be served by anything remembered per token: each verify
 * parses and re-computes a signature of its own. Only the derived key may be cached.
 */
export const DISTINCT_TOKENS = 256;

export async function benchTokens(rounds: number, msPerRound: number) {
  const awsSigner = new Signer(input);
  const signCache = new SigningKeyCache();
  const now = Date.now();
  // Spread over 512 s back: valid for 900 s, so well beyond the length of this section.
  const tokens = Array.from({ length: DISTINCT_TOKENS }, (_, i) =>
    generateAuthToken({ ...input, signingDate: new Date(now - i * 2000) }),
  );
  if (new Set(tokens).size !== DISTINCT_TOKENS) throw new Error("benchmark tokens are not distinct");
  const record = { secretAccessKey: credentials.secretAccessKey, status: "Active" as const };
  const verifyOptions = (cache: SigningKeyCache) => ({
    hostnames: ["db.example.com"],
    port: 5432,
    region: "us-east-1",
    dbUser: "jane_doe",
    lookupCredential: () => record,
    signingKeyCache: cache,
  });
  const cached = verifyOptions(new SigningKeyCache());
  const cold = verifyOptions(new SigningKeyCache(0));
  for (const token of tokens) {
    const check = await verifyAuthToken(token, cached);
    if (!check.ok) throw new Error(`a benchmark token does not verify: ${check.detail}`);
  }
  let next = 0;
  const rotating = () => tokens[next++ % DISTINCT_TOKENS] as string;

  const sign: BenchPath[] = [
    { name: "sign: iamdb generateAuthToken", op: () => generateAuthToken(input, signCache) },
    { name: "sign: @aws-sdk/rds-signer", op: () => awsSigner.getAuthToken() },
  ];
  const verify: BenchPath[] = [
    {
      name: `verify: iamdb, derived-key cache (${DISTINCT_TOKENS} distinct tokens)`,
      op: () => verifyAuthToken(rotating(), cached),
    },
    {
      name: `verify: iamdb, cold (key derived each time; ${DISTINCT_TOKENS} distinct tokens)`,
      op: () => verifyAuthToken(rotating(), cold),
    },
    // A yardstick in the same rounds, so that verification can be read as a ratio to it
    // however busy the machine is: signing is the one thing rds-signer does.
    { name: "reference: @aws-sdk/rds-signer getAuthToken (signing)", op: () => awsSigner.getAuthToken() },
  ];
  return {
    sign: await runInterleaved(sign, rounds, msPerRound),
    verify: await runInterleaved(verify, rounds, msPerRound),
  };
}
