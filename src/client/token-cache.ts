import { SigningKeyCache } from "../sigv4/index.js";
import { TOKEN_LIFETIME_SECONDS } from "../token/constants.js";
import { generateAuthToken } from "../token/generate.js";
import type { CredentialProvider } from "./credentials.js";

/** Stop using a token this long before it (or the credentials that signed it) expires. */
export const REFRESH_MARGIN_MS = 60_000;
/** Up to this much more, at random per token, so that many processes do not re-sign in step. */
export const REFRESH_JITTER_MS = 30_000;
/** A token kept past its refresh time (the credential source failing) is given up this close to expiry. */
const LAST_USE_MS = 5_000;

/** Where and as whom a token logs in: what it is signed for. */
export interface TokenTarget {
  /** The endpoint name the token is signed for (its real name, even when connecting through a forward). */
  readonly hostname: string;
  readonly port: number;
  readonly username: string;
  readonly region: string;
}

export interface TokenCacheOptions extends TokenTarget {
  readonly credentials: CredentialProvider;
  /** Milliseconds since the epoch; injected so tests of expiry use a fake clock. */
  readonly now?: () => number;
  /** A number in [0, 1) for the jitter. */
  readonly random?: () => number;
  readonly refreshMarginMs?: number;
  readonly jitterMs?: number;
  /** Called after each signing (metrics). */
  readonly onSign?: (token: SignedToken) => void;
}

export interface SignedToken {
  readonly token: string;
  readonly signedAt: number;
  /** The earlier of the token's expiry and its credentials' expiry. */
  readonly expiresAt: number;
  /** From then on the next caller signs a new token. */
  readonly refreshAt: number;
  readonly accessKeyId: string;
  readonly temporary: boolean;
}

/** The credentials expired (or expire within seconds) and the source gives no newer ones. */
export class CredentialsExpiredError extends Error {
  constructor(accessKeyId: string, expiration: Date) {
    super(
      `the AWS credentials of access key ${accessKeyId} expired at ${expiration.toISOString()} and the credential source gave no newer ones: renew them (aws sso login, a new assume-role, or check the credential_process)`,
    );
    this.name = "CredentialsExpiredError";
  }
}

/**
 * RDS auth tokens for one endpoint and DB user, signed when needed and reused until
 * {@link REFRESH_MARGIN_MS} (plus jitter) before the earlier of the token's 15-minute expiry
 * and the expiry of the temporary credentials that signed it (a token dies with its
 * session). Signing is off the hot path: one signing serves every login until then, and
 * concurrent callers share one refresh in flight. Pure apart from the credential provider:
 * the clock and randomness are injected.
 */
export class TokenCache {
  readonly #options: TokenCacheOptions;
  readonly #now: () => number;
  readonly #random: () => number;
  // One key and scope at a time; a new day or key derives another.
  readonly #keys = new SigningKeyCache(4);
  #current: SignedToken | undefined;
  #inFlight: Promise<SignedToken> | undefined;
  /** The server refused the current token: the next signing asks the source for new credentials. */
  #refused = false;

  constructor(options: TokenCacheOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  get target(): TokenTarget {
    const { hostname, port, username, region } = this.#options;
    return { hostname, port, username, region };
  }

  /** A token valid for at least the refresh margin, from the cache or newly signed. */
  async token(): Promise<string> {
    return (await this.signed()).token;
  }

  /** As {@link token}, with when it was signed and when it will be replaced. */
  async signed(): Promise<SignedToken> {
    const now = this.#now();
    const current = this.#current;
    if (current && now < current.refreshAt && !this.#refused) return current;
    this.#inFlight ??= this.#refresh().finally(() => {
      this.#inFlight = undefined;
    });
    try {
      return await this.#inFlight;
    } catch (err) {
      // The source failed (metadata endpoint down, SSO hiccup): a token that still works is
      // better than a failed login, unless the server has just refused it.
      const still = this.#current;
      if (still && !this.#refused && this.#now() < still.expiresAt - LAST_USE_MS) return still;
      throw err;
    }
  }

  /** The cached token, if any, without signing. */
  peek(): SignedToken | undefined {
    return this.#current;
  }

  /**
   * The server refused a token from this cache: drop it, and have the next signing ask the
   * credential source for fresh credentials (a deactivated key, an expired session).
   */
  invalidate(): void {
    this.#current = undefined;
    this.#refused = true;
  }

  async #refresh(): Promise<SignedToken> {
    const forceRefresh = this.#refused;
    let credentials = await this.#options.credentials(forceRefresh ? { forceRefresh } : undefined);
    let margin = this.#options.refreshMarginMs ?? REFRESH_MARGIN_MS;
    const usable = (c: typeof credentials) =>
      c.expiration === undefined || c.expiration.getTime() - this.#now() > margin;
    if (!usable(credentials) && !forceRefresh) {
      // The source's credentials expire within the margin: ask it for newer ones once.
      credentials = await this.#options.credentials({ forceRefresh: true });
    }
    const signedAt = this.#now();
    const expiration = credentials.expiration?.getTime();
    if (expiration !== undefined && expiration - signedAt <= LAST_USE_MS) {
      throw new CredentialsExpiredError(credentials.accessKeyId, credentials.expiration as Date);
    }
    const token = generateAuthToken(
      {
        ...this.target,
        credentials,
        signingDate: new Date(signedAt),
      },
      this.#keys,
    );
    const expiresAt = Math.min(
      signedAt + TOKEN_LIFETIME_SECONDS * 1000,
      expiration ?? Number.POSITIVE_INFINITY,
    );
    // Short-lived credentials: the margin cannot exceed the token's life; use it until half-way then.
    margin = Math.min(margin, (expiresAt - signedAt) / 2);
    const jitter = Math.min(this.#options.jitterMs ?? REFRESH_JITTER_MS, margin) * this.#random();
    const signed: SignedToken = {
      token,
      signedAt,
      expiresAt,
      refreshAt: expiresAt - margin - jitter,
      accessKeyId: credentials.accessKeyId,
      temporary: credentials.sessionToken !== undefined && credentials.sessionToken !== "",
    };
    this.#current = signed;
    this.#refused = false;
    this.#options.onSign?.(signed);
    return signed;
  }
}
