import { TOKEN_LIFETIME_SECONDS } from "./constants.js";
import { parseAuthToken } from "./parse.js";

/** What `iamdb inspect-token` prints: everything a token says, nothing secret. */
export interface TokenInspection {
  valid: boolean;
  host?: string;
  port?: number;
  dbUser?: string;
  accessKeyId?: string;
  keyType?: "long-term" | "temporary" | "unrecognised";
  region?: string;
  service?: string;
  signedAt?: string;
  expiresAt?: string;
  expiresInSeconds?: number;
  /** Seconds until expiry (positive) or since it (negative). */
  secondsLeft?: number;
  sessionToken: "present" | "absent";
  /** Problems visible without a key, each with what to do. */
  problems: string[];
}

export function inspectAuthToken(token: string, now: Date = new Date()): TokenInspection {
  const parsed = parseAuthToken(token.trim());
  if (!parsed.ok) {
    const out: TokenInspection = { valid: false, sessionToken: "absent", problems: [parsed.detail] };
    if (parsed.accessKeyId) out.accessKeyId = parsed.accessKeyId;
    return out;
  }
  const t = parsed.token;
  const expiresAtMs = t.signedAtMs + t.expiresSeconds * 1000;
  const secondsLeft = Math.floor((expiresAtMs - now.getTime()) / 1000);
  const problems: string[] = [];
  if (t.service !== "rds-db")
    problems.push(`service is ${t.service}, not rds-db: this is not an RDS auth token`);
  if (t.scopeDate !== t.amzDate.slice(0, 8)) {
    problems.push(`credential scope date ${t.scopeDate} differs from X-Amz-Date ${t.amzDate}`);
  }
  if (t.expiresSeconds > TOKEN_LIFETIME_SECONDS) {
    problems.push(`X-Amz-Expires is ${t.expiresSeconds} s; RDS refuses tokens that claim more than 900 s`);
  }
  if (t.signedAtMs > now.getTime() + 60_000) {
    problems.push(
      `signed ${Math.round((t.signedAtMs - now.getTime()) / 1000)} s in the future: the signer's clock is ahead`,
    );
  }
  if (secondsLeft < 0) problems.push(`expired ${-secondsLeft} s ago: generate a new token`);
  const temporary = t.accessKeyId.startsWith("ASIA");
  if (temporary && t.sessionToken === undefined) {
    problems.push("an ASIA (temporary) key without X-Amz-Security-Token: sign with the session token");
  }
  if (t.accessKeyId.startsWith("AKIA") && t.sessionToken !== undefined) {
    problems.push(
      "an AKIA (long-term) key with a session token: the key and session token do not belong together",
    );
  }
  return {
    valid: problems.length === 0,
    host: t.host,
    port: t.port,
    dbUser: t.dbUser,
    accessKeyId: t.accessKeyId,
    keyType: temporary ? "temporary" : t.accessKeyId.startsWith("AKIA") ? "long-term" : "unrecognised",
    region: t.region,
    service: t.service,
    signedAt: new Date(t.signedAtMs).toISOString(),
    expiresAt: new Date(expiresAtMs).toISOString(),
    expiresInSeconds: t.expiresSeconds,
    secondsLeft,
    sessionToken: t.sessionToken === undefined ? "absent" : "present",
    problems,
  };
}
