import type { EngineSpec } from "../spec.js";

/** PostgreSQL's defaults and settings (pure data: config and the CLI read it). */
export const postgresSpec: EngineSpec = {
  module: "postgres",
  // Clear of a PostgreSQL on 5432 and pgbouncer on 6432.
  listenPort: 15432,
  backend: { port: 5432, database: "postgres", adminUser: "postgres" },
  embeddedBackend: true,
  sessionIdentity: true,
  transactionPooling: true,
  quickstart: (t) =>
    `psql "host=${t.host} port=${t.port} sslmode=verify-full sslrootcert=${t.caFile} dbname=${t.database} user=${t.user} password=$TOKEN"`,
};
