import type { GatewayEngines } from "../gateway/engine.js";
import type { GatewayLimits } from "../gateway/limits.js";
import type { DbInstance } from "../instances/types.js";
import { engineSpec } from "./catalog.js";
import { mysqlModule } from "./mysql/module.js";
import { postgresModule } from "./postgres/module.js";
import type { DbEngine, EngineModuleName } from "./spec.js";
import type { EngineModule } from "./types.js";

/**
 * The engine modules by name: the one place the gateway's composition root, the CLI and the
 * admin API find an engine's code. An engine's pure data (defaults, settings) is looked up in
 * `./catalog.ts`, which names the module that serves each engine.
 */
const MODULES: Readonly<Record<EngineModuleName, EngineModule>> = {
  postgres: postgresModule,
  mysql: mysqlModule,
};

/** The module serving `engine` (MariaDB: the MySQL module). */
export function engineModule(engine: DbEngine): EngineModule {
  return MODULES[engineSpec(engine).module];
}

/** Every engine module's engines for one gateway, each module's made on first use. */
export function gatewayEngines(limits: GatewayLimits): GatewayEngines {
  const made = new Map<EngineModuleName, GatewayEngines>();
  const of = (instance: DbInstance): GatewayEngines => {
    const module = engineModule(instance.engine);
    let engines = made.get(module.name);
    if (engines === undefined) {
      engines = module.gateway(limits);
      made.set(module.name, engines);
    }
    return engines;
  };
  return {
    engineFor: (instance) => of(instance).engineFor(instance),
    sessionIdentity: (instance) => of(instance).sessionIdentity(instance),
  };
}
