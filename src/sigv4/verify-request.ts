import { formatAmzDate, parseAmzDate } from "./amz-date.js";
import { canonicalHeaders } from "./canonical-headers.js";
import { canonicalPath } from "./canonical-path.js";
import { canonicalQuery } from "./canonical-query.js";
import { secretsEqual, signaturesEqual } from "./compare.js";
import { payloadHash } from "./hash.js";
import { ALGORITHM, TERMINATOR } from "./scope.js";
import { computeSignature } from "./sign-parts.js";
import { defaultSigningKeyCache, type SigningKeyCache } from "./signing-key.js";
import type { SignableRequest } from "./types.js";

/** The key as a verifier needs it. */
export interface VerifierCredential {
  secretAccessKey: string;
  status: "Active" | "Inactive";
  sessionToken?: string | undefined;
  expiresAt?: Date | undefined;
}

/** AWS's error codes for a request that fails authentication, as the Query APIs return them. */
export type RequestAuthErrorCode =
  | "MissingAuthenticationToken"
  | "IncompleteSignature"
  | "InvalidClientTokenId"
  | "SignatureDoesNotMatch"
  | "RequestExpired"
  | "ExpiredToken";

export interface RequestAuthFailure {
  ok: false;
  code: RequestAuthErrorCode;
  /** The message AWS would send; safe to return to the client. */
  message: string;
  accessKeyId?: string;
}

export interface RequestAuthSuccess<C extends VerifierCredential> {
  ok: true;
  accessKeyId: string;
  region: string;
  service: string;
  signedAt: Date;
  credential: C;
}

export interface VerifyRequestOptions<C extends VerifierCredential> {
  lookupCredential: (accessKeyId: string) => C | undefined | Promise<C | undefined>;
  now?: () => Date;
  /**
   * How far a request's time may be from ours: either way for header signing, into the future
   * for presigned requests (whose past is bounded by X-Amz-Expires). AWS allows 15 minutes.
   */
  maxSkewSeconds?: number;
  signingKeyCache?: SigningKeyCache;
}

/** X-Amz-Expires may not exceed 7 days in any AWS presigned request. */
const MAX_PRESIGN_SECONDS = 604_800;
const SIGNATURE_MISMATCH =
  "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
const INVALID_KEY = "The security token included in the request is invalid.";

interface Claimed {
  accessKeyId: string;
  scope: { date: string; region: string; service: string };
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  sessionToken?: string | undefined;
  expiresSeconds?: number;
  /** The query minus X-Amz-Signature (query form) or the whole query (header form). */
  query: Array<readonly [string, string]>;
}

const amzDateOf = (ms: number): string => formatAmzDate(new Date(ms));

const fail = (code: RequestAuthErrorCode, message: string, accessKeyId?: string): RequestAuthFailure =>
  accessKeyId === undefined ? { ok: false, code, message } : { ok: false, code, message, accessKeyId };

function header(request: SignableRequest, name: string): string | undefined {
  const found = request.headers.filter(([k]) => k.toLowerCase() === name);
  return found.length === 0 ? undefined : found.map(([, v]) => v.trim()).join(",");
}

function parseCredential(value: string): Pick<Claimed, "accessKeyId" | "scope"> | undefined {
  const parts = value.split("/");
  const [accessKeyId = "", date = "", region = "", service = "", terminator = ""] = parts;
  if (parts.length !== 5 || accessKeyId === "" || !/^\d{8}$/.test(date) || terminator !== TERMINATOR)
    return undefined;
  return { accessKeyId, scope: { date, region, service } };
}

function fromAuthorizationHeader(
  request: SignableRequest,
  authorization: string,
): Claimed | RequestAuthFailure {
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    return fail("IncompleteSignature", `Unsupported AWS 'algorithm': only ${ALGORITHM} is supported.`);
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = parseCredential(fields.get("Credential") ?? "");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  const amzDate = header(request, "x-amz-date");
  if (!credential || !signedHeaders || !signature || !amzDate) {
    return fail(
      "IncompleteSignature",
      "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters, and the request an 'X-Amz-Date' header.",
    );
  }
  return {
    ...credential,
    amzDate,
    signedHeaders: signedHeaders.split(";"),
    signature,
    sessionToken: header(request, "x-amz-security-token"),
    query: [...request.query],
  };
}

function fromQuery(request: SignableRequest): Claimed | RequestAuthFailure {
  const params = new Map<string, string>();
  for (const [k, v] of request.query) {
    if (k.startsWith("X-Amz-") && params.has(k))
      return fail("IncompleteSignature", `Duplicate query parameter ${k}.`);
    params.set(k, v);
  }
  if (params.get("X-Amz-Algorithm") !== ALGORITHM) {
    return fail("IncompleteSignature", `Unsupported AWS 'algorithm': only ${ALGORITHM} is supported.`);
  }
  const credential = parseCredential(params.get("X-Amz-Credential") ?? "");
  const amzDate = params.get("X-Amz-Date");
  const signedHeaders = params.get("X-Amz-SignedHeaders");
  const signature = params.get("X-Amz-Signature");
  const expires = params.get("X-Amz-Expires");
  if (!credential || !amzDate || !signedHeaders || !signature || !expires || !/^\d{1,7}$/.test(expires)) {
    return fail(
      "IncompleteSignature",
      "A presigned request needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.",
    );
  }
  return {
    ...credential,
    amzDate,
    signedHeaders: signedHeaders.split(";"),
    signature,
    sessionToken: params.get("X-Amz-Security-Token"),
    expiresSeconds: Number(expires),
    query: request.query.filter(([k]) => k !== "X-Amz-Signature"),
  };
}

/**
 * Verifies a SigV4-signed request in either form (Authorization header or presigned
 * query), the way AWS's Query APIs do, and names the failure with AWS's error code.
 * The caller routes by the returned scope's service and region.
 */
export async function verifyRequest<C extends VerifierCredential>(
  request: SignableRequest,
  options: VerifyRequestOptions<C>,
): Promise<RequestAuthSuccess<C> | RequestAuthFailure> {
  const authorization = header(request, "authorization");
  const presigned = request.query.some(([k]) => k === "X-Amz-Signature");
  if (authorization === undefined && !presigned) {
    return fail("MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  const claimed =
    authorization !== undefined ? fromAuthorizationHeader(request, authorization) : fromQuery(request);
  if ("ok" in claimed) return claimed;
  const { accessKeyId } = claimed;
  const signedAtMs = parseAmzDate(claimed.amzDate);
  if (signedAtMs === undefined || claimed.scope.date !== claimed.amzDate.slice(0, 8)) {
    return fail(
      "IncompleteSignature",
      "Date must be in ISO-8601 'basic format' and match the credential scope.",
      accessKeyId,
    );
  }
  if (!claimed.signedHeaders.includes("host")) {
    return fail("IncompleteSignature", "The host header must be signed.", accessKeyId);
  }
  const nowMs = (options.now ?? (() => new Date()))().getTime();
  const skewMs = (options.maxSkewSeconds ?? 900) * 1000;
  // Both forms: a request may not be dated beyond the skew in the future. Without this bound a
  // presigned URL dated years ahead would be valid from now until then, whatever X-Amz-Expires says.
  if (signedAtMs - nowMs > skewMs) {
    return fail(
      "RequestExpired",
      `Signature not yet current: ${claimed.amzDate} is still later than ${amzDateOf(nowMs + skewMs)} (${amzDateOf(nowMs)} + ${skewMs / 60_000} min.); check the client's clock.`,
      accessKeyId,
    );
  }
  if (claimed.expiresSeconds !== undefined) {
    if (claimed.expiresSeconds > MAX_PRESIGN_SECONDS || nowMs > signedAtMs + claimed.expiresSeconds * 1000) {
      return fail("RequestExpired", "Request has expired.", accessKeyId);
    }
  } else if (nowMs - signedAtMs > skewMs) {
    return fail(
      "RequestExpired",
      `Signature expired: ${claimed.amzDate} is now earlier than ${amzDateOf(nowMs - skewMs)} (${amzDateOf(nowMs)} - ${skewMs / 60_000} min.); check the client's clock.`,
      accessKeyId,
    );
  }

  const record = await options.lookupCredential(accessKeyId);
  const wanted = new Set(claimed.signedHeaders);
  const canonical = canonicalHeaders(request.headers.filter(([k]) => wanted.has(k.toLowerCase())));
  // The payload hash is ours to compute: a client's x-amz-content-sha256 is only a claim.
  const bodyHash = payloadHash(request.body);
  const claimedHash = header(request, "x-amz-content-sha256");
  if (claimedHash !== undefined && claimedHash !== bodyHash) {
    return fail(
      "SignatureDoesNotMatch",
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      accessKeyId,
    );
  }
  const expected = computeSignature(
    {
      method: request.method.toUpperCase(),
      canonicalUri: canonicalPath(request.path, true),
      canonicalQuery: canonicalQuery(claimed.query),
      canonicalHeaders: canonical.block,
      signedHeaders: canonical.signedHeaders,
      payloadHash: bodyHash,
    },
    claimed.amzDate,
    claimed.scope,
    record?.secretAccessKey ?? "iamdb-decoy-secret-for-unknown-access-keys",
    options.signingKeyCache ?? defaultSigningKeyCache,
  ).signature;
  const matches =
    canonical.signedHeaders === claimed.signedHeaders.join(";") &&
    signaturesEqual(expected, claimed.signature);
  if (record === undefined || record.status !== "Active")
    return fail("InvalidClientTokenId", INVALID_KEY, accessKeyId);
  if (!matches) return fail("SignatureDoesNotMatch", SIGNATURE_MISMATCH, accessKeyId);
  if (record.sessionToken !== undefined || claimed.sessionToken !== undefined) {
    const same =
      record.sessionToken !== undefined &&
      claimed.sessionToken !== undefined &&
      secretsEqual(record.sessionToken, claimed.sessionToken);
    if (!same) return fail("InvalidClientTokenId", INVALID_KEY, accessKeyId);
    if (record.expiresAt !== undefined && nowMs >= record.expiresAt.getTime()) {
      return fail("ExpiredToken", "The security token included in the request is expired", accessKeyId);
    }
  }
  return {
    ok: true,
    accessKeyId,
    region: claimed.scope.region,
    service: claimed.scope.service,
    signedAt: new Date(signedAtMs),
    credential: record,
  };
}
