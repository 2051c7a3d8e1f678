import {
  defaultSigningKeyCache,
  type SigningKeyCache,
  secretsEqual,
  signaturesEqual,
  TERMINATOR,
  type VerifierCredential,
} from "../sigv4/index.js";
import { failure, type TokenFailure } from "./causes.js";
import { TOKEN_LIFETIME_SECONDS } from "./constants.js";
import { type ParsedToken, parseAuthToken } from "./parse.js";
import { tokenSignature } from "./signature.js";

/** What the verifier needs to know about an access key; the control plane supplies it. */
export type CredentialRecord = VerifierCredential;

export interface VerifyOptions<C extends CredentialRecord = CredentialRecord> {
  /** The names this listener answers for (DNS names, aliases, IPs). Never taken from the token. */
  hostnames: readonly string[];
  /** The port clients connect to (the advertised port). */
  port: number;
  /** The region of the instance. */
  region: string;
  /** The user the client is logging in as; DBUser must equal it exactly. */
  dbUser: string;
  /** Finds a key by id; undefined when there is none. May be async. */
  lookupCredential: (accessKeyId: string) => C | undefined | Promise<C | undefined>;
  /** The clock. Default: the system clock. */
  now?: () => Date;
  /** How far in the future X-Amz-Date may be, for client clocks running ahead. Default 60 s. */
  clockSkewSeconds?: number;
  signingKeyCache?: SigningKeyCache;
}

export interface TokenSuccess<C extends CredentialRecord = CredentialRecord> {
  ok: true;
  accessKeyId: string;
  dbUser: string;
  region: string;
  signedAt: Date;
  expiresAt: Date;
  /** The configured host name the signature matched. */
  hostname: string;
  port: number;
  /** True when the token was signed with temporary credentials. */
  temporary: boolean;
  credential: C;
}

export type VerifyResult<C extends CredentialRecord = CredentialRecord> = TokenSuccess<C> | TokenFailure;

export const DEFAULT_CLOCK_SKEW_SECONDS = 60;

/**
 * A secret that belongs to no key: an unknown key id still costs one signature check,
 * so the time a refusal takes does not tell whether the key exists.
 */
const DECOY_SECRET = "iamdb-decoy-secret-for-unknown-access-keys";

/**
 * The host values a client may have signed for one of our names. botocore signs the host
 * lower-cased; @aws-sdk/rds-signer signs it as the caller typed it, so when the token's own
 * prefix names one of our hosts in other letter case, that spelling is tried too. Every
 * candidate is one of our names: the token can choose the case, never the host.
 */
function candidateHosts(configured: string, claimed: string, port: number): string[] {
  const lower = configured.toLowerCase();
  const names = [lower];
  if (claimed !== lower && claimed.toLowerCase() === lower) names.push(claimed);
  const out: string[] = [];
  for (const name of names) {
    out.push(`${name}:${port}`);
    // botocore omits the scheme's default port (443 for https://) from the signed host.
    if (port === 443) out.push(name);
  }
  return out;
}

const seconds = (ms: number) => Math.round(ms / 1000);

/**
 * Verifies an RDS IAM auth token for one listener: structure, algorithm, credential scope,
 * lifetime, endpoint binding, DB user, key status, session token, and the SigV4 signature
 * re-computed over our own host name and port. Never throws; a refusal names its cause.
 */
export function verifyAuthToken<C extends CredentialRecord>(
  token: unknown,
  options: VerifyOptions<C>,
): Promise<VerifyResult<C>> {
  try {
    const result = verify(token, options);
    // A synchronous credential lookup (an in-memory cache) finishes without a microtask hop.
    return result instanceof Promise ? result.catch(lookupFailed) : Promise.resolve(result);
  } catch (err) {
    return Promise.resolve(lookupFailed(err));
  }
}

function lookupFailed(err: unknown): TokenFailure {
  return failure(
    "lookup-failed",
    `the credential store could not be read (${(err as Error)?.name ?? "error"})`,
  );
}

function verify<C extends CredentialRecord>(
  token: unknown,
  options: VerifyOptions<C>,
): VerifyResult<C> | Promise<VerifyResult<C>> {
  const parsed = parseAuthToken(token);
  if (!parsed.ok) return parsed;
  const t = parsed.token;
  // A refusal names the key and user (failure() copies just those two fields of the token).
  const who = t;
  const nowMs = options.now === undefined ? Date.now() : options.now().getTime();
  const skewMs = (options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000;

  if (t.service !== "rds-db") {
    return failure(
      "wrong-service",
      `the credential scope names service ${t.service}; RDS auth tokens are signed for rds-db`,
      who,
    );
  }
  // Both were checked by the parser: eight digits, and a 16-character date-time.
  if (!t.amzDate.startsWith(t.scopeDate)) {
    return failure(
      "scope-date-mismatch",
      `the credential scope date ${t.scopeDate} is not the date of X-Amz-Date ${t.amzDate}; the signer is broken`,
      who,
    );
  }
  if (t.region !== options.region) {
    return failure(
      "wrong-region",
      `the token was signed for region ${t.region} but this instance is in ${options.region}; generate the token with --region ${options.region}`,
      who,
    );
  }
  if (t.expiresSeconds > TOKEN_LIFETIME_SECONDS) {
    return failure(
      "expires-too-long",
      `X-Amz-Expires is ${t.expiresSeconds} s; RDS auth tokens live at most ${TOKEN_LIFETIME_SECONDS} s`,
      who,
    );
  }
  if (t.signedAtMs - nowMs > skewMs) {
    return failure(
      "not-yet-valid",
      `the token is dated ${seconds(t.signedAtMs - nowMs)} s in the future (allowed skew ${seconds(skewMs)} s); fix the client's clock`,
      who,
    );
  }
  const expiresAtMs = t.signedAtMs + t.expiresSeconds * 1000;
  if (nowMs > expiresAtMs) {
    return failure(
      "expired",
      `the token age is longer than ${t.expiresSeconds} s: it expired ${seconds(nowMs - expiresAtMs)} s ago; generate a new token for each connection`,
      who,
    );
  }
  const claimedHost = t.host.toLowerCase();
  let configured: string | undefined;
  for (const name of options.hostnames) {
    if (name.toLowerCase() === claimedHost) {
      configured = name;
      break;
    }
  }
  if (configured === undefined) {
    return failure(
      "host-mismatch",
      `the token was generated for host ${t.host}, but this endpoint answers for ${options.hostnames.join(", ")}; generate it with one of those names`,
      who,
    );
  }
  if (t.port !== options.port) {
    return failure(
      "port-mismatch",
      `the token was generated for port ${t.port}, but this endpoint's port is ${options.port}`,
      who,
    );
  }
  if (t.dbUser !== options.dbUser) {
    return failure(
      "user-mismatch",
      `the token is for DB user "${t.dbUser}" but the login is for user "${options.dbUser}" (names are case-sensitive)`,
      who,
    );
  }

  const record = options.lookupCredential(t.accessKeyId);
  if (!(record instanceof Promise)) return checkKey(t, record, configured, options, nowMs);
  const host = configured;
  return record.then((found) => checkKey(t, found, host, options, nowMs));
}

/** The signature over our own host name and port, then the key's status and session. */
function checkKey<C extends CredentialRecord>(
  t: ParsedToken,
  record: C | undefined,
  configured: string,
  options: VerifyOptions<C>,
  nowMs: number,
): VerifyResult<C> {
  const who = t;
  const expiresAtMs = t.signedAtMs + t.expiresSeconds * 1000;
  const cache = options.signingKeyCache ?? defaultSigningKeyCache;
  const scope = { date: t.scopeDate, region: t.region, service: t.service };
  const key = cache.get(record?.secretAccessKey ?? DECOY_SECRET, scope);
  const credentialScope = `${t.scopeDate}/${t.region}/${t.service}/${TERMINATOR}`;
  const hosts = candidateHosts(configured, t.host, options.port);
  let matched = false;
  for (const hostHeader of hosts) {
    const expected = tokenSignature(t.canonicalQuery, hostHeader, t.amzDate, credentialScope, key);
    // No early exit on a match: every candidate costs the same whatever the outcome.
    if (signaturesEqual(expected, t.signature)) matched = true;
  }
  if (record === undefined) {
    return failure("unknown-key", `access key ${t.accessKeyId} does not exist`, who);
  }
  if (!matched) {
    return failure(
      "signature-mismatch",
      `the signature does not match: the token was not signed with the secret of ${t.accessKeyId} for ${configured}:${options.port}, or it was altered`,
      who,
    );
  }
  if (record.status !== "Active") {
    return failure(
      "inactive-key",
      `access key ${t.accessKeyId} is inactive; activate it or use an active key`,
      who,
    );
  }
  if (record.sessionToken !== undefined) {
    if (t.sessionToken === undefined) {
      return failure(
        "session-token-missing",
        `access key ${t.accessKeyId} is temporary but the token carries no session token; sign with the session token too`,
        who,
      );
    }
    if (!secretsEqual(record.sessionToken, t.sessionToken)) {
      return failure(
        "session-token-mismatch",
        `the session token does not belong to access key ${t.accessKeyId}`,
        who,
      );
    }
    if (record.expiresAt !== undefined && nowMs >= record.expiresAt.getTime()) {
      return failure(
        "session-expired",
        `the temporary credentials of ${t.accessKeyId} expired at ${record.expiresAt.toISOString()}; get new ones (sts assume-role / get-session-token)`,
        who,
      );
    }
  } else if (t.sessionToken !== undefined) {
    return failure(
      "session-token-unexpected",
      `access key ${t.accessKeyId} is a long-term key but the token carries a session token`,
      who,
    );
  }
  return {
    ok: true,
    accessKeyId: t.accessKeyId,
    dbUser: t.dbUser,
    region: t.region,
    signedAt: new Date(t.signedAtMs),
    expiresAt: new Date(expiresAtMs),
    hostname: configured,
    port: options.port,
    temporary: record.sessionToken !== undefined,
    credential: record,
  };
}
