import { CLIENT_ENGINES } from "../../client/engines.js";
import {
  loadProxyConfigFile,
  PROXY_DEFAULTS,
  type ProxyConfig,
  ProxyConfigError,
  type ProxyEngine,
  parseHostPort,
  type TargetInput,
  validateTarget,
} from "../../client/proxy/config.js";
import { ProxyStartError, startProxy } from "../../client/proxy/proxy.js";
import { log } from "../../log/logger.js";
import { resolveRegion } from "../credentials.js";
import { UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { untilStopSignal } from "../signals.js";

export interface ProxyOptions extends TargetInput {
  config?: string;
  ops?: string;
  maxConnections?: string;
  drainTimeoutMs?: string;
  connectTimeoutMs?: string;
}

/** Flags that describe one target: not allowed beside --config, which lists the targets. */
const TARGET_FLAGS: Array<[keyof TargetInput, string]> = [
  ["engine", "--engine"],
  ["target", "--target"],
  ["listen", "--listen"],
  ["username", "--username"],
  ["database", "--database"],
  ["region", "--region"],
  ["profile", "--profile"],
  ["caFile", "--ca-file"],
  ["tokenHost", "--token-host"],
  ["unixSocketDir", "--unix-socket-dir"],
  ["allowNonLoopback", "--allow-non-loopback"],
  ["name", "--name"],
];

function positive(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new UsageError(`${flag} must be a positive integer, got "${value}"`);
  return Number(value);
}

/** The configuration from the flags, or from --config; usage errors name the flag. */
function proxyConfig(opts: ProxyOptions): ProxyConfig {
  try {
    if (opts.config !== undefined) {
      const given = TARGET_FLAGS.filter(([key]) => opts[key] !== undefined).map(([, flag]) => flag);
      if (given.length > 0) {
        throw new UsageError(
          `${given.join(", ")} cannot be combined with --config: put them in the file's "targets" (see docs/CLIENT-KIT.md)`,
        );
      }
      const file = loadProxyConfigFile(opts.config);
      return {
        ...file,
        ops: opts.ops === undefined ? file.ops : parseHostPort(opts.ops, "--ops", "127.0.0.1"),
        maxConnections: positive(opts.maxConnections, "--max-connections", file.maxConnections),
        drainTimeoutMs: positive(opts.drainTimeoutMs, "--drain-timeout-ms", file.drainTimeoutMs),
        connectTimeoutMs: positive(opts.connectTimeoutMs, "--connect-timeout-ms", file.connectTimeoutMs),
      };
    }
    for (const [key, flag] of [
      ["engine", "--engine"],
      ["target", "--target"],
      ["listen", "--listen"],
      ["username", "--username"],
    ] as const) {
      if (opts[key] === undefined)
        throw new UsageError(`${flag} is required (or --config FILE for several targets)`);
    }
    return {
      targets: [
        validateTarget(opts, (field) => `--${field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`),
      ],
      ops: opts.ops === undefined ? undefined : parseHostPort(opts.ops, "--ops", "127.0.0.1"),
      maxConnections: positive(opts.maxConnections, "--max-connections", PROXY_DEFAULTS.maxConnections),
      drainTimeoutMs: positive(opts.drainTimeoutMs, "--drain-timeout-ms", PROXY_DEFAULTS.drainTimeoutMs),
      connectTimeoutMs: positive(
        opts.connectTimeoutMs,
        "--connect-timeout-ms",
        PROXY_DEFAULTS.connectTimeoutMs,
      ),
    };
  } catch (err) {
    if (err instanceof ProxyConfigError) {
      // A file's mistakes are the user's to fix (exit 1); a flag's are usage (exit 2).
      throw opts.config === undefined ? new UsageError(err.message) : new UserError(err.message);
    }
    throw err;
  }
}

/** How to connect through a listener, printed at start. */
function howToConnect(
  l: { engine: ProxyEngine; host: string; port: number; socketPath: string | undefined },
  user: string,
  database?: string,
): string {
  return CLIENT_ENGINES[l.engine].connectLine(l.host, l.port, user, database, l.socketPath);
}

/**
 * `iamdb proxy`: a local listener per target that logs in with auth tokens, until SIGTERM or
 * SIGINT; then it stops accepting, drains sessions up to --drain-timeout-ms, and exits 0.
 */
export async function proxyCommand(opts: ProxyOptions, io: CliIO): Promise<number> {
  const base = proxyConfig(opts);
  const targets = [];
  for (const t of base.targets) {
    targets.push({ ...t, region: await resolveRegion(io.env, t.region, t.profile) });
  }
  const config: ProxyConfig = { ...base, targets };
  let running: Awaited<ReturnType<typeof startProxy>>;
  try {
    running = await startProxy(config);
  } catch (err) {
    if (err instanceof ProxyStartError || err instanceof ProxyConfigError) throw new UserError(err.message);
    throw err;
  }
  for (const [i, l] of running.listeners.entries()) {
    const t = config.targets[i];
    if (t === undefined) continue;
    io.out(
      `iamdb proxy: ${l.engine} ${l.host}:${l.port}${l.socketPath ? ` and ${l.socketPath}` : ""} -> ${t.target.host}:${t.target.port} as ${t.username} (tokens for ${t.tokenHost.host}:${t.tokenHost.port}, ${t.region})`,
    );
    io.out(`  connect: ${howToConnect(l, t.username, t.database)}`);
  }
  if (running.opsUrl) io.out(`  ${running.opsUrl}/healthz /readyz /metrics`);
  await untilStopSignal((signal) => {
    log().info(
      { sessions: running.connections, drainTimeoutMs: config.drainTimeoutMs },
      `${signal}: no new connections; draining`,
    );
    return running.stop();
  });
  log().info("iamdb proxy stopped");
  return 0;
}
