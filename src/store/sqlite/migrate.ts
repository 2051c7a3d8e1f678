import type { Database } from "better-sqlite3";
import { SchemaTooNewError } from "../errors.js";
import { MIGRATIONS, type Migration, migrationSql } from "../sql/migrations.js";

/**
 * Applies pending migrations, each in its own IMMEDIATE transaction so two processes opening
 * the same file at once cannot both apply one. Returns the versions applied.
 */
export function migrateSqlite(
  db: Database,
  now: () => Date,
  migrations: readonly Migration[] = MIGRATIONS,
): number[] {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at BIGINT NOT NULL
  )`);
  const current = () =>
    Number(db.prepare("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").pluck().get());
  const known = migrations.reduce((m, x) => Math.max(m, x.version), 0);
  const found = current();
  if (found > known) {
    throw new SchemaTooNewError(
      `The database ${db.name} has schema version ${found}, but this iamdb knows only up to ${known}. ` +
        "Upgrade iamdb, or point it at another data directory.",
    );
  }
  const applied: number[] = [];
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    db.transaction(() => {
      if (current() >= m.version) return;
      db.exec(migrationSql(m, "sqlite"));
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)").run(
        m.version,
        m.name,
        now().getTime(),
      );
      applied.push(m.version);
    }).immediate();
  }
  return applied;
}
