import { backendPoolOptions } from "../../gateway/idle-backends.js";
import type { EngineModule } from "../types.js";
import { PostgresEngine } from "./engine.js";
import { SessionIdentityWriter } from "./identity.js";
import { BackendPool } from "./pool.js";
import { postgresAccounts } from "./provision.js";

/** PostgreSQL: see docs/gateway-postgres.md. */
export const postgresModule: EngineModule = {
  name: "postgres",
  gateway(limits) {
    // One backend pool per gateway for every PostgreSQL instance, made with the first
    // connection: its bound on idle connections is per backend server, however many
    // instances point at one server.
    let pool: BackendPool | undefined;
    const shared = () => {
      pool ??= new BackendPool(backendPoolOptions(limits));
      return pool;
    };
    return {
      engineFor: () => new PostgresEngine(shared),
      sessionIdentity: (instance) => new SessionIdentityWriter(instance.backend),
    };
  },
  accounts: postgresAccounts,
};
