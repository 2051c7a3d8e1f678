import type { EngineModule } from "../types.js";
import { MysqlEngine } from "./engine.js";
import { mysqlAccounts } from "./provision.js";

/** MySQL and MariaDB: see docs/gateway-mysql.md. */
export const mysqlModule: EngineModule = {
  name: "mysql",
  gateway() {
    return {
      engineFor: () => new MysqlEngine(),
      // Sessions carry their identity as iamdb.* connection attributes instead (config refuses the setting).
      sessionIdentity: () => undefined,
    };
  },
  accounts: mysqlAccounts,
};
