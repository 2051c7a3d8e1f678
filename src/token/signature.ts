import { ALGORITHM, EMPTY_SHA256, type SigningKey, sha256Hex } from "../sigv4/index.js";

/**
 * The SigV4 signature of a token: `GET /?QUERY` with host as the one signed header and the
 * empty payload, each step written as one template string (the general `computeSignature`
 * builds the same strings from parts and also returns them). A test holds the two equal.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
export function tokenSignature(
  canonicalQuery: string,
  hostHeader: string,
  amzDate: string,
  credentialScope: string,
  key: SigningKey,
): string {
  const requestHash = sha256Hex(`GET\n/\n${canonicalQuery}\nhost:${hostHeader}\n\nhost\n${EMPTY_SHA256}`);
  return key.signHex(`${ALGORITHM}\n${amzDate}\n${credentialScope}\n${requestHash}`);
}
