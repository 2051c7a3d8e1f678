import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import {
  type AwsCredentials,
  type CredentialProvider,
  standardCredentials,
  staticCredentials,
} from "./credentials.js";
import { TokenCache } from "./token-cache.js";

/** Where and as whom a driver logs in with IAM auth tokens (RDS, Aurora or iamdb alike). */
export interface IamdbAuthOptions {
  /** The endpoint's name: what the token is signed for and the certificate must carry. */
  readonly host: string;
  readonly port: number;
  /** The DB user (the token's DBUser). */
  readonly user: string;
  /** Default: AWS_REGION, else AWS_DEFAULT_REGION. */
  readonly region?: string;
  /** Fixed credentials or a provider (`fromSSO()`, `fromTemporaryCredentials()`…); default: the standard chain. */
  readonly credentials?: AwsCredentials | CredentialProvider;
  /** With the standard chain: the profile to use. */
  readonly profile?: string;
  /**
   * Where to connect when it is not `host`: a forward (bastion, `kubectl port-forward`).
   * Tokens and certificates still name `host`:`port`.
   */
  readonly connectHost?: string;
  readonly connectPort?: number;
  /** CA bundle (PEM text or a file path via `caFile`) the server's certificate must chain to. */
  readonly ca?: string | Buffer;
  readonly caFile?: string;
  /** Milliseconds since the epoch; injected by tests of expiry. */
  readonly now?: () => number;
}

/** A function returning a current token, with the cache behind it. */
export type TokenFunction = (() => Promise<string>) & {
  readonly cache: TokenCache;
  /** The server refused a token: sign the next one with freshly fetched credentials. */
  invalidate(): void;
};

/** A configuration mistake in the helpers' options; the message names the option. */
export class IamdbAuthConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IamdbAuthConfigError";
  }
}

function regionOf(options: IamdbAuthOptions): string {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new IamdbAuthConfigError('no region: pass region (e.g. "us-east-1") or set AWS_REGION');
  }
  return region;
}

/**
 * The token function the driver helpers share: signs with the cache's rules (reused until
 * 60 s plus jitter before the earlier of the token's and the credentials' expiry; one
 * signing in flight).
 */
export function tokenFunction(options: IamdbAuthOptions): TokenFunction {
  const credentials =
    typeof options.credentials === "function"
      ? options.credentials
      : options.credentials !== undefined
        ? staticCredentials(options.credentials)
        : standardCredentials({ profile: options.profile });
  const cache = new TokenCache({
    hostname: options.host,
    port: options.port,
    username: options.user,
    region: regionOf(options),
    credentials,
    ...(options.now ? { now: options.now } : {}),
  });
  const fn = () => cache.token();
  return Object.assign(fn, { cache, invalidate: () => cache.invalidate() });
}

/** The CA from `ca` or `caFile`, if either is given. */
function caOf(options: IamdbAuthOptions): string | Buffer | undefined {
  if (options.ca !== undefined) return options.ca;
  return options.caFile === undefined ? undefined : readFileSync(options.caFile);
}

/**
 * TLS options both drivers take: verified against `ca`/`caFile` (else Node's roots), the
 * certificate checked for `host` even when connecting through `connectHost`.
 */
export function verifiedTls(options: IamdbAuthOptions) {
  const ca = caOf(options);
  return {
    rejectUnauthorized: true,
    ...(ca !== undefined ? { ca } : {}),
    ...(isIP(options.host) ? {} : { servername: options.host }),
    checkServerIdentity: (_: string, cert: PeerCertificate) => checkServerIdentity(options.host, cert),
  };
}
