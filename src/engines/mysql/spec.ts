import type { EngineSpec } from "../spec.js";

/** MySQL's and MariaDB's defaults and settings (pure data: config and the CLI read it). */
export const mysqlSpec: EngineSpec = {
  module: "mysql",
  // Clear of a MySQL on 3306.
  listenPort: 13306,
  backend: { port: 3306, database: "", adminUser: "root" },
  embeddedBackend: false,
  sessionIdentity: {
    refusal:
      "is for PostgreSQL instances; MySQL and MariaDB sessions always carry their identity as iamdb.* connection attributes (performance_schema.session_connect_attrs): remove the field",
  },
  transactionPooling: {
    refusal: "is for PostgreSQL instances; MySQL and MariaDB sessions use session mode: remove the field",
  },
};
