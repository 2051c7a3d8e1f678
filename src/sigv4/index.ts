export { formatAmzDate, parseAmzDate } from "./amzDate.js";
export { canonicalHeaders } from "./canonicalHeaders.js";
export { canonicalPath } from "./canonicalPath.js";
export { canonicalQuery } from "./canonicalQuery.js";
export { canonicalRequest } from "./canonicalRequest.js";
export { secretsEqual, signaturesEqual } from "./compare.js";
export { EncodingError, uriEncode, uriEncodePath } from "./encoding.js";
export { EMPTY_SHA256, sha256Hex } from "./hash.js";
export { type Presigned, type PresignParams, presignRequest } from "./presignRequest.js";
export { ALGORITHM, scopeString, stringToSign, TERMINATOR } from "./scope.js";
export { defaultSigningKeyCache, deriveSigningKey, type SigningKey, SigningKeyCache } from "./signingKey.js";
export { type CanonicalParts, computeSignature } from "./signParts.js";
export { type HeaderSigningParams, type SignedHeaders, signRequest } from "./signRequest.js";
export type { Credentials, Scope, SignableRequest, SignatureParts, SigningParams } from "./types.js";
export {
  type RequestAuthErrorCode,
  type RequestAuthFailure,
  type RequestAuthSuccess,
  type VerifierCredential,
  type VerifyRequestOptions,
  verifyRequest,
} from "./verifyRequest.js";
