import mysql from "mysql2";
import { ErrorCode } from "../wire/mysql/constants.js";
import { type IamdbAuthOptions, type TokenFunction, tokenFunction, verifiedTls } from "./auth.js";

/** Whether `err` is the server refusing the login. */
export function isMysqlAuthError(err: unknown): boolean {
  return (err as { errno?: number })?.errno === ErrorCode.ACCESS_DENIED;
}

/**
 * The `authPlugins.mysql_clear_password` entry for mysql2: answers the server's switch to
 * `mysql_clear_password` with a current token from `password`. mysql2 ≥ 3.22 refuses that
 * plugin unless `enableCleartextPlugin` is set or such an entry is given; with the entry the
 * token is fetched per connection, when the server asks, never captured once in a pool's
 * `password`. (An iamdb gateway also takes a token given as mysql2's plain `password`, through
 * caching_sha2_password; RDS needs this entry.) Send it only over TLS (the helpers' `ssl` does that).
 */
export function mysqlClearPasswordPlugin(password: TokenFunction) {
  return () => async () => Buffer.from(`${await password()}\0`, "utf8");
}

/** Where iamdbMysqlConfig leaves its token function for createIamdbMysqlPool (mysql2 ignores symbol keys). */
const TOKEN = Symbol("iamdb token function");

export interface IamdbMysqlOptions extends IamdbAuthOptions {
  readonly database?: string;
}

/**
 * mysql2 connection options for IAM auth: TLS verified against `ca`/`caFile` and `host`,
 * the cleartext plugin entry with cached tokens, and `enableCleartextPlugin` for mysql2
 * versions that look at it. Spread your own settings over it (`connectionLimit`, …).
 */
export function iamdbMysqlConfig(
  options: IamdbMysqlOptions,
): mysql.ConnectionOptions & { password?: undefined } {
  const password = tokenFunction(options);
  return {
    host: options.connectHost ?? options.host,
    port: options.connectPort ?? options.port,
    user: options.user,
    ...(options.database !== undefined ? { database: options.database } : {}),
    ssl: verifiedTls(options) as mysql.SslOptions,
    enableCleartextPlugin: true,
    authPlugins: { mysql_clear_password: mysqlClearPasswordPlugin(password) },
    // Kept beside the options so createIamdbMysqlPool finds the cache to invalidate.
    [TOKEN]: password,
  } as mysql.ConnectionOptions & { password?: undefined };
}

/**
 * A mysql2 pool (callback API; `.promise()` for promises) from {@link iamdbMysqlConfig}
 * options, whose connections are retried once when the server refuses a token, with one
 * signed from freshly fetched credentials.
 */
export function createIamdbMysqlPool(options: mysql.PoolOptions): mysql.Pool {
  const password = (options as { [TOKEN]?: TokenFunction })[TOKEN];
  if (password === undefined) {
    throw new TypeError("createIamdbMysqlPool needs options built by iamdbMysqlConfig(...)");
  }
  const pool = mysql.createPool(options);
  const getConnection = pool.getConnection.bind(pool);
  // mysql2's query() and execute() take their connections through getConnection too.
  pool.getConnection = ((callback: (err: NodeJS.ErrnoException | null, c: mysql.PoolConnection) => void) => {
    getConnection((err, connection) => {
      if (err && isMysqlAuthError(err)) {
        password.invalidate();
        getConnection(callback);
        return;
      }
      callback(err, connection);
    });
  }) as typeof pool.getConnection;
  return pool;
}
