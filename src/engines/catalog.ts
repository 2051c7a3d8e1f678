import { mysqlSpec } from "./mysql/spec.js";
import { postgresSpec } from "./postgres/spec.js";
import type { DbEngine, EngineSpec } from "./spec.js";

/**
 * The engines' pure data by engine name, for config and the CLI; the full modules are in
 * `./registry.ts`. A new engine adds its folder and one line here and one in the registry.
 */
const SPECS: Readonly<Record<DbEngine, EngineSpec>> = {
  postgres: postgresSpec,
  mysql: mysqlSpec,
  mariadb: mysqlSpec,
};

/** Every engine name an instance may give, in the order messages list them. */
export const DB_ENGINES = Object.keys(SPECS) as readonly DbEngine[];

/** The engine of an instance that names none (and of the instance `iamdb up` runs when none is configured). */
export const DEFAULT_ENGINE: DbEngine = "postgres";

export const isDbEngine = (name: string): name is DbEngine => Object.hasOwn(SPECS, name);

export function engineSpec(engine: DbEngine): EngineSpec {
  return SPECS[engine];
}
