import {
  ALGORITHM,
  computeSignature,
  EMPTY_SHA256,
  formatAmzDate,
  type SigningKeyCache,
  TERMINATOR,
  uriEncode,
} from "../sigv4/index.js";
import type { Credentials } from "../sigv4/types.js";
import { RDS_DB_SERVICE, TOKEN_LIFETIME_SECONDS } from "./constants.js";

export interface GenerateAuthTokenInput {
  hostname: string;
  port: number;
  username: string;
  region: string;
  credentials: Credentials;
  /** Signing time; now when absent. */
  signingDate?: Date;
}

/** Raised for inputs no AWS tool would sign: the message names the field and what it needs. */
export class TokenInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TokenInputError";
  }
}

function validate(input: GenerateAuthTokenInput): void {
  if (typeof input.hostname !== "string" || input.hostname === "" || /[/?#@\s]/.test(input.hostname)) {
    throw new TokenInputError(
      `hostname must be a DNS name or IP address (got ${JSON.stringify(input.hostname)})`,
    );
  }
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) {
    throw new TokenInputError(`port must be an integer from 1 to 65535 (got ${String(input.port)})`);
  }
  if (typeof input.username !== "string" || input.username === "") {
    throw new TokenInputError("username must be the database user to log in as; it may not be empty");
  }
  if (typeof input.region !== "string" || !/^[a-z0-9-]+$/.test(input.region)) {
    throw new TokenInputError(
      `region must look like us-east-1 (got ${JSON.stringify(input.region)}); set --region or AWS_REGION`,
    );
  }
  const c = input.credentials;
  if (
    !c ||
    typeof c.accessKeyId !== "string" ||
    c.accessKeyId === "" ||
    typeof c.secretAccessKey !== "string"
  ) {
    throw new TokenInputError("credentials need an accessKeyId and a secretAccessKey");
  }
}

/**
 * The host botocore signs: `urlsplit(url).hostname` (lower-cased) plus the port unless it
 * is the scheme's default (443 for the https:// URL botocore builds the token from).
 */
export function botocoreSignedHost(hostname: string, port: number): string {
  const host = hostname.toLowerCase();
  return port === 443 ? host : `${host}:${port}`;
}

/**
 * Builds an RDS IAM auth token exactly as botocore's `generate_db_auth_token` (and so
 * `aws rds generate-db-auth-token`) prints it: the presigned query of
 * `GET https://HOST:PORT/?Action=connect&DBUser=USER`, without the scheme.
 *
 * The parameters of a token are fixed, so the canonical query is written out in its
 * sorted order here rather than built and sorted per call as `presignRequest` does; a
 * test holds the two to the same output.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html
 */
export function generateAuthToken(input: GenerateAuthTokenInput, cache?: SigningKeyCache): string {
  validate(input);
  const { accessKeyId, secretAccessKey, sessionToken } = input.credentials;
  const amzDate = formatAmzDate(input.signingDate ?? new Date());
  const scope = { date: amzDate.slice(0, 8), region: input.region, service: RDS_DB_SERVICE };
  const head =
    `Action=connect&DBUser=${uriEncode(input.username)}&X-Amz-Algorithm=${ALGORITHM}` +
    // The scope's parts are unreserved (validated above), so only its slashes need encoding.
    `&X-Amz-Credential=${uriEncode(accessKeyId)}%2F${scope.date}%2F${scope.region}%2F${RDS_DB_SERVICE}%2F${TERMINATOR}` +
    `&X-Amz-Date=${amzDate}&X-Amz-Expires=${TOKEN_LIFETIME_SECONDS}`;
  const tokenParam = sessionToken ? `&X-Amz-Security-Token=${uriEncode(sessionToken)}` : "";
  const { signature } = computeSignature(
    {
      method: "GET",
      canonicalUri: "/",
      canonicalQuery: `${head}${tokenParam}&X-Amz-SignedHeaders=host`,
      canonicalHeaders: `host:${botocoreSignedHost(input.hostname, input.port)}\n`,
      signedHeaders: "host",
      payloadHash: EMPTY_SHA256,
    },
    amzDate,
    scope,
    secretAccessKey,
    cache,
  );
  // botocore's order: the signed query as built (SignedHeaders before the session token), signature last.
  return `${input.hostname}:${input.port}/?${head}&X-Amz-SignedHeaders=host${tokenParam}&X-Amz-Signature=${signature}`;
}
