import pg from "pg";
import { SqlState } from "../wire/postgres/constants.js";
import { type IamdbAuthOptions, type TokenFunction, tokenFunction, verifiedTls } from "./auth.js";

/** SQLSTATEs of a refused password (invalid_authorization_specification, invalid_password). */
const AUTH_REFUSED = new Set<string>([SqlState.InvalidAuthorizationSpecification, SqlState.InvalidPassword]);

/** Whether `err` is the server refusing the login (a token refused, expired, not allowed). */
export function isPgAuthError(err: unknown): boolean {
  return AUTH_REFUSED.has((err as { code?: string })?.code ?? "");
}

/**
 * node-postgres `password` for IAM auth: `new pg.Pool({ …, password: iamdbPassword({ host,
 * port, user, region }) })`. pg calls it for every new connection, when the server asks for
 * the password; it returns a cached token, re-signed 60 s (plus jitter) before the earlier of
 * its expiry and its credentials' (a pool's connections are made long after the pool), with
 * one signing in flight however many connections open at once. Pair it with
 * {@link IamdbPgPool} (or {@link iamdbPgConfig}) for retry-once on a refused token.
 */
export function iamdbPassword(options: IamdbAuthOptions): TokenFunction {
  return tokenFunction(options);
}

export interface IamdbPgOptions extends IamdbAuthOptions {
  readonly database?: string;
}

/**
 * A pg client/pool configuration for IAM auth: the token function as password, and TLS
 * verified against `ca`/`caFile` (else Node's roots) with the certificate checked for
 * `host` even when connecting through `connectHost`. Spread your own settings over it.
 */
export function iamdbPgConfig(options: IamdbPgOptions): pg.ClientConfig & { password: TokenFunction } {
  return {
    host: options.connectHost ?? options.host,
    port: options.connectPort ?? options.port,
    user: options.user,
    ...(options.database !== undefined ? { database: options.database } : {}),
    password: iamdbPassword(options),
    ssl: verifiedTls(options),
  };
}

type ConnectCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/**
 * A `pg.Pool` that retries a connection once when the server refuses its token: the cache is
 * dropped and the next token signed with freshly fetched credentials (a rotated key, a
 * session that ended early). `password` must be an {@link iamdbPassword} function.
 *
 * ```ts
 * const pool = new IamdbPgPool({ ...iamdbPgConfig({ host, port: 5432, user: "app", database: "app", caFile }), max: 20 });
 * ```
 */
export class IamdbPgPool extends pg.Pool {
  readonly #password: TokenFunction;

  constructor(config: pg.PoolConfig & { password: TokenFunction }) {
    super(config);
    this.#password = config.password;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const once = () => super.connect();
    const withRetry = once().catch((err: unknown) => {
      if (!isPgAuthError(err)) throw err;
      this.#password.invalidate();
      return once();
    });
    if (callback === undefined) return withRetry;
    withRetry.then(
      (client) =>
        callback(undefined, client, (release?: unknown) => client.release(release as Error | boolean)),
      (err: Error) => callback(err, undefined, () => {}),
    );
    return undefined;
  }
}
