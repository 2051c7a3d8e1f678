import { formatAmzDate } from "./amz-date.js";
import { canonicalHeaders } from "./canonical-headers.js";
import { canonicalPath } from "./canonical-path.js";
import { canonicalQuery } from "./canonical-query.js";
import { payloadHash } from "./hash.js";
import { ALGORITHM, scopeString } from "./scope.js";
import { computeSignature } from "./sign-parts.js";
import type { SigningKeyCache } from "./signing-key.js";
import type { SignableRequest, SignatureParts, SigningParams } from "./types.js";

export interface PresignParams extends SigningParams {
  /** X-Amz-Expires, in seconds. */
  expiresIn: number;
}

export interface Presigned extends SignatureParts {
  /**
   * The query to send, decoded, in botocore's order: the request's own parameters, then
   * X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, [-Security-Token],
   * and X-Amz-Signature last.
   */
  query: Array<[string, string]>;
}

/**
 * Presigns a request in the query-string form (the form of RDS auth tokens): the auth
 * parameters are part of the canonical query, and headers are signed without x-amz-date.
 * @see https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html
 */
export function presignRequest(
  request: SignableRequest,
  params: PresignParams,
  cache?: SigningKeyCache,
): Presigned {
  const amzDate = formatAmzDate(params.signingDate);
  const scope = { date: amzDate.slice(0, 8), region: params.region, service: params.service };
  const canonical = canonicalHeaders(request.headers);
  const query: Array<[string, string]> = request.query.map(([k, v]) => [k, v]);
  query.push(
    ["X-Amz-Algorithm", ALGORITHM],
    ["X-Amz-Credential", `${params.credentials.accessKeyId}/${scopeString(scope)}`],
    ["X-Amz-Date", amzDate],
    ["X-Amz-Expires", String(params.expiresIn)],
    ["X-Amz-SignedHeaders", canonical.signedHeaders],
  );
  const token = params.credentials.sessionToken;
  const tokenSigned = params.sessionTokenSigned ?? true;
  if (token && tokenSigned) query.push(["X-Amz-Security-Token", token]);
  const parts = computeSignature(
    {
      method: request.method.toUpperCase(),
      canonicalUri: canonicalPath(request.path, params.normalizePath ?? true),
      canonicalQuery: canonicalQuery(query),
      canonicalHeaders: canonical.block,
      signedHeaders: canonical.signedHeaders,
      payloadHash: payloadHash(request.body),
    },
    amzDate,
    scope,
    params.credentials.secretAccessKey,
    cache,
  );
  if (token && !tokenSigned) query.push(["X-Amz-Security-Token", token]);
  query.push(["X-Amz-Signature", parts.signature]);
  return { ...parts, query };
}
