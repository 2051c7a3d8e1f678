import { formatAmzDate } from "./amz-date.js";
import { canonicalHeaders } from "./canonical-headers.js";
import { canonicalPath } from "./canonical-path.js";
import { canonicalQuery } from "./canonical-query.js";
import { payloadHash } from "./hash.js";
import { ALGORITHM, scopeString } from "./scope.js";
import { computeSignature } from "./sign-parts.js";
import type { SigningKeyCache } from "./signing-key.js";
import type { SignableRequest, SignatureParts, SigningParams } from "./types.js";

export interface HeaderSigningParams extends SigningParams {
  /** Add and sign x-amz-content-sha256 (S3 and some services require it). Default false. */
  signPayloadHeader?: boolean;
}

export interface SignedHeaders extends SignatureParts {
  /** The request's headers plus x-amz-date, [x-amz-security-token], [x-amz-content-sha256], authorization. */
  headers: Array<[string, string]>;
  authorization: string;
}

/**
 * Signs a request in the Authorization-header form, as the admin API's clients do.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
export function signRequest(
  request: SignableRequest,
  params: HeaderSigningParams,
  cache?: SigningKeyCache,
): SignedHeaders {
  const amzDate = formatAmzDate(params.signingDate);
  const scope = { date: amzDate.slice(0, 8), region: params.region, service: params.service };
  const bodyHash = payloadHash(request.body);
  const headers: Array<[string, string]> = request.headers.map(([k, v]) => [k, v]);
  headers.push(["X-Amz-Date", amzDate]);
  if (params.signPayloadHeader) headers.push(["X-Amz-Content-Sha256", bodyHash]);
  const token = params.credentials.sessionToken;
  const tokenSigned = params.sessionTokenSigned ?? true;
  if (token && tokenSigned) headers.push(["X-Amz-Security-Token", token]);
  const canonical = canonicalHeaders(headers);
  const parts = computeSignature(
    {
      method: request.method.toUpperCase(),
      canonicalUri: canonicalPath(request.path, params.normalizePath ?? true),
      canonicalQuery: canonicalQuery(request.query),
      canonicalHeaders: canonical.block,
      signedHeaders: canonical.signedHeaders,
      payloadHash: bodyHash,
    },
    amzDate,
    scope,
    params.credentials.secretAccessKey,
    cache,
  );
  if (token && !tokenSigned) headers.push(["X-Amz-Security-Token", token]);
  const authorization =
    `${ALGORITHM} Credential=${params.credentials.accessKeyId}/${scopeString(scope)}, ` +
    `SignedHeaders=${canonical.signedHeaders}, Signature=${parts.signature}`;
  headers.push(["Authorization", authorization]);
  return { ...parts, headers, authorization };
}
