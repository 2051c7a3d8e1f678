import { randomBytes } from "node:crypto";

/**
 * Identifier and secret generation shaped like AWS's.
 * Unique ids are a four-letter prefix plus 17 characters of base32 (`AIDA…`, 21 in all);
 * access key ids are a prefix plus 16 (`AKIA…`, 20 in all).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids
 */
export type UniqueIdPrefix = "AIDA" | "AGPA" | "AROA" | "ANPA";
export type AccessKeyPrefix = "AKIA" | "ASIA";

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/** Maps each random byte onto the alphabet; both alphabets divide 256, so there is no bias. */
function randomChars(alphabet: string, count: number): string {
  const bytes = randomBytes(count);
  let out = "";
  for (const b of bytes) out += alphabet[b % alphabet.length];
  return out;
}

export function newUniqueId(prefix: UniqueIdPrefix): string {
  return prefix + randomChars(BASE32, 17);
}

export function newAccessKeyId(prefix: AccessKeyPrefix): string {
  return prefix + randomChars(BASE32, 16);
}

/** 40 characters of the base64 alphabet, like every AWS secret access key. */
export function newSecretAccessKey(): string {
  return randomChars(BASE64, 40);
}

/**
 * An opaque session token. Real STS tokens are base64 blobs of several hundred to over a
 * thousand characters; 576 random bytes give 768 characters, which keeps RDS auth tokens in
 * the 1–2 KB range the gateway must accept without truncation.
 */
export function newSessionToken(): string {
  return randomBytes(576).toString("base64");
}
