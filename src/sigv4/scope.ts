import type { Scope } from "./types.js";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const TERMINATOR = "aws4_request";

export function scopeString(scope: Scope): string {
  return `${scope.date}/${scope.region}/${scope.service}/${TERMINATOR}`;
}

/** The string to sign: algorithm, request time, scope and the canonical request's hash. */
export function stringToSign(amzDate: string, scope: Scope, canonicalRequestHash: string): string {
  return `${ALGORITHM}\n${amzDate}\n${scopeString(scope)}\n${canonicalRequestHash}`;
}
