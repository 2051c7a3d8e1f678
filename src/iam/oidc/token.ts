import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload, jwtVerify } from "jose";
import {
  ExpiredTokenError,
  IdpCommunicationError,
  IdpRejectedClaimError,
  InvalidIdentityTokenError,
  ValidationError,
} from "../errors.js";
import type { OidcProviderRecord } from "../records.js";
import { IssuerUnreachableError, IssuerUntrustedError } from "./https.js";
import type { OidcKeyStore } from "./keys.js";

/**
 * Checking a web identity token (an OpenID Connect ID token, a Kubernetes service-account token,
 * a GitHub Actions token) the way STS does for AssumeRoleWithWebIdentity: a signed JWT (never
 * `alg: none`, never HMAC: the issuer's keys are public), whose `iss` is the provider, one of
 * whose `aud` values is in the provider's client ids, within `nbf`/`exp` and not issued in the
 * future (each with `clockSkewSeconds`). Signature checks are jose's. Messages never quote the
 * token: it is a credential.
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
 * @see https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation
 */

/** STS's bounds on WebIdentityToken. */
export const WEB_IDENTITY_TOKEN_LENGTH = { min: 4, max: 20000 } as const;

/** Asymmetric algorithms only: an HS256 token "signed" with a public key is refused by name. */
export const ACCEPTED_ALGORITHMS = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
] as const;

export interface VerifiedWebIdentity {
  readonly subject: string;
  /** The `aud` value found in the provider's client ids. */
  readonly audience: string;
  readonly amr?: readonly string[] | undefined;
  readonly issuer: string;
}

/** The `iss` of a token, read before any check to find its provider; throws InvalidIdentityToken. */
export function unverifiedIssuer(token: string): string {
  if (token.length < WEB_IDENTITY_TOKEN_LENGTH.min || token.length > WEB_IDENTITY_TOKEN_LENGTH.max) {
    throw new ValidationError(
      `1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length between ${WEB_IDENTITY_TOKEN_LENGTH.min} and ${WEB_IDENTITY_TOKEN_LENGTH.max} (this one has ${token.length} characters).`,
    );
  }
  let payload: JWTPayload;
  try {
    decodeProtectedHeader(token);
    payload = decodeJwt(token);
  } catch {
    throw new InvalidIdentityTokenError(
      "The web identity token is not a JWT (three base64url parts: header.payload.signature). Pass the ID token itself, e.g. the contents of the service-account token file.",
    );
  }
  if (typeof payload.iss !== "string" || payload.iss === "") {
    throw new InvalidIdentityTokenError("The web identity token has no iss (issuer) claim.");
  }
  return payload.iss;
}

export async function verifyWebIdentityToken(
  token: string,
  provider: OidcProviderRecord,
  keys: OidcKeyStore,
  options: { now: Date; clockSkewSeconds: number },
): Promise<VerifiedWebIdentity> {
  const issuer = unverifiedIssuer(token);
  const verifyOptions = {
    algorithms: [...ACCEPTED_ALGORITHMS],
    currentDate: options.now,
    clockTolerance: options.clockSkewSeconds,
    requiredClaims: ["exp"],
  };
  let payload: JWTPayload;
  try {
    const set = await keys.keys(provider);
    try {
      payload = (await jwtVerify(token, set.getKey, verifyOptions)).payload;
    } catch (e) {
      // A kid the cached keys lack: the issuer may have rotated its keys since the last fetch.
      if (!(e instanceof errors.JWKSNoMatchingKey) || !set.refreshable) throw e;
      payload = (await jwtVerify(token, await keys.refresh(provider), verifyOptions)).payload;
    }
  } catch (e) {
    throw tokenError(e, provider, options.now);
  }
  const iat = payload.iat;
  if (typeof iat === "number" && iat > options.now.getTime() / 1000 + options.clockSkewSeconds) {
    throw new InvalidIdentityTokenError(
      `Token used before issued: its iat is ${new Date(iat * 1000).toISOString()}, later than now (${options.now.toISOString()}) by more than ${options.clockSkewSeconds} s. Check the issuer's clock.`,
    );
  }
  const audiences =
    typeof payload.aud === "string" ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  const audience = audiences.find((a) => provider.clientIds.includes(a));
  if (audience === undefined) {
    throw new InvalidIdentityTokenError(
      `Incorrect token audience: none of the token's aud values is a client id of the provider. Add the audience with add-client-id-to-open-id-connect-provider, or request tokens for one of: ${provider.clientIds.join(", ") || "(the provider has no client ids)"}.`,
    );
  }
  if (typeof payload.sub !== "string" || payload.sub === "" || payload.sub.length > 255) {
    throw new IdpRejectedClaimError(
      "The web identity token has no usable sub (subject) claim (1 to 255 characters).",
    );
  }
  const amr = payload.amr;
  if (
    amr !== undefined &&
    !(typeof amr === "string" || (Array.isArray(amr) && amr.every((a) => typeof a === "string")))
  ) {
    throw new IdpRejectedClaimError(
      "The web identity token's amr claim must be a string or a list of strings.",
    );
  }
  return {
    subject: payload.sub,
    audience,
    issuer,
    ...(amr === undefined ? {} : { amr: typeof amr === "string" ? [amr] : (amr as string[]) }),
  };
}

/** jose's and the fetcher's errors as STS's. */
function tokenError(e: unknown, provider: OidcProviderRecord, now: Date): Error {
  if (e instanceof IssuerUntrustedError) {
    return new InvalidIdentityTokenError(
      `OpenIDConnect provider's HTTPS certificate doesn't match configured thumbprint: ${e.message}. Add the thumbprint of the issuer's CA with update-open-id-connect-provider-thumbprint, or upload the issuer's keys (iamdb:PutOpenIDConnectProviderJwks).`,
    );
  }
  if (e instanceof IssuerUnreachableError) {
    return new IdpCommunicationError(
      `Couldn't retrieve verification key from your identity provider: ${e.message} Retry, or upload the issuer's keys (iamdb:PutOpenIDConnectProviderJwks) when the control plane cannot reach it.`,
    );
  }
  if (e instanceof errors.JWTExpired) {
    const exp = typeof e.payload.exp === "number" ? new Date(e.payload.exp * 1000).toISOString() : "?";
    return new ExpiredTokenError(
      `Token expired: current date/time ${now.toISOString()} must be before the expiration date/time ${exp}. Get a fresh token from the issuer.`,
    );
  }
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf")
      return new InvalidIdentityTokenError("The web identity token is not valid yet (nbf is in the future).");
    return new InvalidIdentityTokenError(
      `The web identity token's ${e.claim} claim is invalid (${e.reason}).`,
    );
  }
  if (e instanceof errors.JOSEAlgNotAllowed || e instanceof errors.JOSENotSupported) {
    return new InvalidIdentityTokenError(
      `The web identity token's signing algorithm is not accepted; the issuer must sign with one of ${ACCEPTED_ALGORITHMS.join(", ")}.`,
    );
  }
  if (e instanceof errors.JWKSNoMatchingKey) {
    return new InvalidIdentityTokenError(
      `No key of the provider ${provider.url} matches the web identity token's kid and alg; the issuer's keys may have been rotated (iamdb asks again at most every 30 s).`,
    );
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) {
    return new InvalidIdentityTokenError(
      "The web identity token's signature does not verify with the provider's keys.",
    );
  }
  if (e instanceof errors.JOSEError) {
    return new InvalidIdentityTokenError(`The web identity token is not valid (${e.code}).`);
  }
  return e instanceof Error ? e : new Error(String(e));
}
