export { MasterKeyError, SchemaTooNewError, StoreError } from "./errors.js";
export { loadMasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE, type MasterKeyOptions } from "./master-key.js";
export { openPostgresStore, type PostgresStoreOptions } from "./postgres/open.js";
export type { StoreRepository } from "./sql/repository.js";
export { DEFAULT_SQLITE_FILE, openSqliteStore, type SqliteStoreOptions } from "./sqlite/open.js";
