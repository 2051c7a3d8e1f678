import { canonicalRequest } from "./canonical-request.js";
import { sha256Hex } from "./hash.js";
import { stringToSign } from "./scope.js";
import { defaultSigningKeyCache, type SigningKeyCache } from "./signing-key.js";
import type { Scope, SignatureParts } from "./types.js";

export interface CanonicalParts {
  method: string;
  canonicalUri: string;
  canonicalQuery: string;
  canonicalHeaders: string;
  signedHeaders: string;
  payloadHash: string;
}

/** Canonical request -> string to sign -> signature, the part header and query signing share. */
export function computeSignature(
  parts: CanonicalParts,
  amzDate: string,
  scope: Scope,
  secretAccessKey: string,
  cache: SigningKeyCache = defaultSigningKeyCache,
): SignatureParts {
  const creq = canonicalRequest(
    parts.method,
    parts.canonicalUri,
    parts.canonicalQuery,
    parts.canonicalHeaders,
    parts.signedHeaders,
    parts.payloadHash,
  );
  const sts = stringToSign(amzDate, scope, sha256Hex(creq));
  const signature = cache.get(secretAccessKey, scope).signHex(sts);
  return { canonicalRequest: creq, stringToSign: sts, signature };
}
