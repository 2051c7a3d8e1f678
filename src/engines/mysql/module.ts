import { backendPoolOptions } from "../../gateway/idle-backends.js";
import type { EngineModule } from "../types.js";
import { MysqlEngine } from "./engine.js";
import { MysqlBackendPool } from "./pool.js";
import { mysqlAccounts } from "./provision.js";

/** MySQL and MariaDB: see docs/gateway-mysql.md. */
export const mysqlModule: EngineModule = {
  name: "mysql",
  gateway(limits) {
    // One backend pool per gateway for every MySQL / MariaDB instance: its bounds are per server.
    let pool: MysqlBackendPool | undefined;
    const shared = () => {
      pool ??= new MysqlBackendPool(backendPoolOptions(limits));
      return pool;
    };
    return {
      engineFor: () => new MysqlEngine(shared),
      // Sessions carry their identity as iamdb.* connection attributes instead (config refuses the setting).
      sessionIdentity: () => undefined,
    };
  },
  accounts: mysqlAccounts,
};
