import { isAbsolute, relative, resolve } from "node:path";
import { ConfigError, loadConfig } from "../../config/load.js";
import type { Config } from "../../config/types.js";
import { type Connection, resolveConnection } from "../admin/connection.js";
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

/** What a command that calls the admin API takes to find it and sign for it. */
export interface AdminApiOptions extends DeploymentOptions {
  endpointUrl?: string;
  profile?: string;
  region?: string;
}

/**
 * The deployment's configuration and the admin API connection its flags name: the data
 * directory's administrator profile unless `--profile`, `--endpoint-url`, `--region` say otherwise.
 */
export async function adminApiConnection(
  opts: AdminApiOptions,
): Promise<{ config: Config; connection: Connection }> {
  const config = deploymentConfig(opts);
  const connection = await resolveConnection(
    {
      dataDir: config.dataDir,
      ...(opts.endpointUrl === undefined ? {} : { endpointUrl: opts.endpointUrl }),
      ...(opts.profile === undefined ? {} : { profile: opts.profile }),
      ...(opts.region === undefined ? {} : { region: opts.region }),
    },
    process.env,
  );
  return { config, connection };
}

/** `word` as a POSIX shell reads it back: as is when it needs no quoting, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * The flags that point an iamdb command at the deployment `iamdb up` was started for, so a
 * printed command works as printed: `--config FILE` when it ran with one (plus `--data-dir`
 * when that overrode the file's), else `--data-dir DIR`. Paths are relative to `cwd` when `paths` is "relative" and the result stays inside it.
 */
export function deploymentFlags(
  opts: DeploymentOptions,
  config: Pick<Config, "dataDir">,
  paths: "relative" | "absolute",
  cwd = process.cwd(),
): string {
  const show = (p: string) => {
    const abs = resolve(cwd, p);
    if (paths === "absolute") return shellWord(abs);
    const r = relative(cwd, abs);
    return shellWord(r === "" ? "." : r.startsWith("..") || isAbsolute(r) ? abs : r);
  };
  const flags: string[] = [];
  if (opts.config !== undefined) flags.push(`--config ${show(opts.config)}`);
  if (opts.config === undefined || opts.dataDir !== undefined) {
    flags.push(`--data-dir ${show(config.dataDir)}`);
  }
  return flags.join(" ");
}
