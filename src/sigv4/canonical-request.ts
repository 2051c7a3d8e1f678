/**
 * CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
 *                    SignedHeaders \n HashedPayload
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#create-canonical-request
 */
export function canonicalRequest(
  method: string,
  canonicalUri: string,
  canonicalQueryString: string,
  canonicalHeaderBlock: string,
  signedHeaders: string,
  payloadHash: string,
): string {
  return `${method}\n${canonicalUri}\n${canonicalQueryString}\n${canonicalHeaderBlock}\n${signedHeaders}\n${payloadHash}`;
}
