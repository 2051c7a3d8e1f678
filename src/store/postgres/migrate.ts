import type pg from "pg";
import { SchemaTooNewError } from "../errors.js";
import { MIGRATIONS, type Migration, migrationSql } from "../sql/migrations.js";

/**
 * Creates the schema and applies pending migrations in one transaction, under an advisory lock
 * so that several gateways starting together migrate exactly once.
 * @see https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
 */
export async function migratePostgres(
  pool: pg.Pool,
  schema: string,
  now: () => Date,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const client = await pool.connect();
  let failed = false;
  try {
    await client.query("BEGIN");
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`iamdb-migrate:${schema}`]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await client.query(`CREATE TABLE IF NOT EXISTS "${schema}".schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at BIGINT NOT NULL
    )`);
    const res = await client.query(
      `SELECT COALESCE(MAX(version), 0) AS v FROM "${schema}".schema_migrations`,
    );
    const found = Number(res.rows[0]?.v ?? 0);
    const known = migrations.reduce((m, x) => Math.max(m, x.version), 0);
    if (found > known) {
      throw new SchemaTooNewError(
        `The PostgreSQL schema "${schema}" has version ${found}, but this iamdb knows only up to ${known}. ` +
          "Upgrade iamdb on this host to match the other gateways.",
      );
    }
    const applied: number[] = [];
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (m.version <= found) continue;
      await client.query(`SET LOCAL search_path TO "${schema}"`);
      await client.query(migrationSql(m, "postgres"));
      await client.query(
        `INSERT INTO "${schema}".schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
        [m.version, m.name, now().getTime()],
      );
      applied.push(m.version);
    }
    await client.query("COMMIT");
    return applied;
  } catch (e) {
    failed = true;
    await client.query("ROLLBACK").catch(() => undefined);
    throw e;
  } finally {
    client.release(failed ? true : undefined);
  }
}
