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

export async function benchTokens(rounds: number, msPerRound: number) {
  const awsSigner = new Signer(input);
  const signCache = new SigningKeyCache();
  const token = generateAuthToken(input);
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
  const check = await verifyAuthToken(token, cached);
  if (!check.ok) throw new Error(`benchmark token does not verify: ${check.detail}`);

  const sign: BenchPath[] = [
    { name: "sign: iamdb generateAuthToken", op: () => generateAuthToken(input, signCache) },
    { name: "sign: @aws-sdk/rds-signer", op: () => awsSigner.getAuthToken() },
  ];
  const verify: BenchPath[] = [
    { name: "verify: iamdb, derived-key cache", op: () => verifyAuthToken(token, cached) },
    { name: "verify: iamdb, cold (key derived each time)", op: () => verifyAuthToken(token, cold) },
  ];
  return {
    sign: await runInterleaved(sign, rounds, msPerRound),
    verify: await runInterleaved(verify, rounds, msPerRound),
  };
}
