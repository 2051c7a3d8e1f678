import { chmodSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { createSqlRepository, type StoreRepository } from "../sql/repository.js";
import { SqliteDriver } from "./driver.js";
import { migrateSqlite } from "./migrate.js";

export interface SqliteStoreOptions {
  /** Directory holding the database file; created (mode 0700) when missing. */
  readonly dataDir: string;
  /** File name inside dataDir. Default `iamdb.sqlite`. */
  readonly fileName?: string;
  /** How long a writer waits for another process's write lock. Default 5000 ms. */
  readonly busyTimeoutMs?: number;
  /** Clock for migration bookkeeping. */
  readonly now?: () => Date;
}

export const DEFAULT_SQLITE_FILE = "iamdb.sqlite";

/**
 * Opens (creating and migrating as needed) the embedded store.
 *
 * Durability: WAL with `synchronous=FULL`. WAL with NORMAL survives a process crash (SIGKILL)
 * but may lose the last commits on power loss or an OS crash; for a store whose writes include
 * key deactivation and policy detachment, a revocation that silently reverts after a reboot is a
 * security bug, so every commit is fsynced. Writes here are administrative and rare; last-used
 * bookkeeping is throttled by the caller, so the cost of FULL does not reach the login path.
 * @see https://www.sqlite.org/pragma.html#pragma_synchronous
 * @see https://www.sqlite.org/wal.html
 */
export function openSqliteStore(options: SqliteStoreOptions): StoreRepository {
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const file = join(options.dataDir, options.fileName ?? DEFAULT_SQLITE_FILE);
  const fresh = !existsSync(file);
  const db = new Database(file);
  try {
    // The file holds sealed secrets and policies; keep it private. WAL and SHM files inherit this mode.
    if (fresh) chmodSync(file, 0o600);
    db.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    migrateSqlite(db, options.now ?? (() => new Date()));
    return createSqlRepository(new SqliteDriver(db));
  } catch (e) {
    db.close();
    throw e;
  }
}
