export { formatAmzDate, parseAmzDate } from "./amz-date.js";
export { canonicalHeaders } from "./canonical-headers.js";
export { canonicalPath } from "./canonical-path.js";
export { canonicalQuery } from "./canonical-query.js";
export { canonicalRequest } from "./canonical-request.js";
export { secretsEqual, signaturesEqual } from "./compare.js";
export { EncodingError, uriEncode, uriEncodePath } from "./encoding.js";
export { EMPTY_SHA256, sha256Hex } from "./hash.js";
export { type Presigned, type PresignParams, presignRequest } from "./presign-request.js";
export { ALGORITHM, scopeString, stringToSign, TERMINATOR } from "./scope.js";
export { type CanonicalParts, computeSignature } from "./sign-parts.js";
export { type HeaderSigningParams, type SignedHeaders, signRequest } from "./sign-request.js";
export { defaultSigningKeyCache, deriveSigningKey, type SigningKey, SigningKeyCache } from "./signing-key.js";
export type { Credentials, Scope, SignableRequest, SignatureParts, SigningParams } from "./types.js";
export {
  type RequestAuthErrorCode,
  type RequestAuthFailure,
  type RequestAuthSuccess,
  type VerifierCredential,
  type VerifyRequestOptions,
  verifyRequest,
} from "./verify-request.js";
