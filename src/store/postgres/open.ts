import pg from "pg";
import { StoreError } from "../errors.js";
import { createSqlRepository, type StoreRepository } from "../sql/repository.js";
import { PostgresDriver } from "./driver.js";
import { migratePostgres } from "./migrate.js";

export interface PostgresStoreOptions {
  /** `postgres://…` URL, or the individual settings below (libpq environment variables also apply). */
  readonly connectionString?: string;
  readonly host?: string;
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  readonly database?: string;
  /** Schema holding iamdb's tables; created when missing. Default `iamdb`. */
  readonly schema?: string;
  /** Pool size per process. Default 10. */
  readonly maxConnections?: number;
  /** Clock for migration bookkeeping. */
  readonly now?: () => Date;
}

/** Lower-case identifier short enough that `iamdb_<schema>` is a valid 63-byte channel name. */
const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,56}$/;

/**
 * Opens the shared store: a connection pool, migrations, and a LISTEN connection that tells this
 * process's caches about other gateways' changes. Every gateway sharing the store must use the
 * same master key (IAMDB_MASTER_KEY), since the secrets are sealed with it.
 */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<StoreRepository> {
  const schema = options.schema ?? "iamdb";
  if (!SCHEMA_NAME.test(schema)) {
    throw new StoreError(
      `Invalid PostgreSQL schema name "${schema}": use 1-57 lower-case letters, digits or underscores, ` +
        "starting with a letter or underscore.",
    );
  }
  const base: pg.ClientConfig = {
    connectionString: options.connectionString,
    host: options.host,
    port: options.port,
    user: options.user,
    password: options.password,
    database: options.database,
    options: `-c search_path="${schema}"`,
  };
  const pool = new pg.Pool({ ...base, max: options.maxConnections ?? 10 });
  // An idle client that dies must not crash the process; the next query reports the failure.
  pool.on("error", () => undefined);
  try {
    await migratePostgres(pool, schema, options.now ?? (() => new Date()));
    const driver = new PostgresDriver(pool, base, `iamdb_${schema}`);
    await driver.start();
    return createSqlRepository(driver);
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw e;
  }
}
