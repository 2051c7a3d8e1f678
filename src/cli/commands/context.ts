import { ConfigError, loadConfig } from "../../config/load.js";
import type { Config } from "../../config/types.js";
import { UserError } from "../errors.js";

/** The options every command that works on a deployment takes. */
export interface DeploymentOptions {
  dataDir?: string;
  config?: string;
}

export function deploymentConfig(opts: DeploymentOptions): Config {
  try {
    return loadConfig(opts.config, opts.dataDir === undefined ? {} : { dataDir: opts.dataDir });
  } catch (err) {
    if (err instanceof ConfigError)
      throw new UserError(`${err.message} (fix the configuration file and run the command again)`);
    throw err;
  }
}
