import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { isLoopbackHost } from "../../config/backend-tls.js";
import { CLIENT_ENGINES, type ClientEngine, clientEngineNamed, clientEngineNames } from "../engines.js";

/** The wire protocol a target speaks. `mariadb` is an alias of `mysql`. */
export type ProxyEngine = ClientEngine;

/** A bad flag or configuration value; the message names it and says what to write instead. */
export class ProxyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProxyConfigError";
  }
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** One local listener and the database endpoint it logs in to. Every field as validated, with defaults. */
export interface ProxyTargetConfig {
  /** Shown in logs and metrics labels: `--name`, else `ENGINE-LISTENPORT` once bound. */
  readonly name: string | undefined;
  readonly engine: ProxyEngine;
  /** Where the proxy connects: the endpoint, or a forward to it (bastion, `kubectl port-forward`). */
  readonly target: HostPort;
  /** Where local clients connect. Port 0 picks a free port. Loopback unless `allowNonLoopback`. */
  readonly listen: HostPort;
  /** Also listen on a Unix socket in this directory (PostgreSQL: `.s.PGSQL.PORT`; MySQL: `mysqld.sock`). */
  readonly unixSocketDir: string | undefined;
  /** The DB user every session logs in as (the token's DBUser). */
  readonly username: string;
  /** The database when the client names none (PostgreSQL: else the user's name; MySQL: else none). */
  readonly database: string | undefined;
  /** The region the token is signed for; the AWS region chain when absent. */
  readonly region: string | undefined;
  /** The AWS profile whose credentials sign; the standard chain when absent. */
  readonly profile: string | undefined;
  /** CA bundle the target's certificate must chain to (iamdb's ca.pem, the RDS global bundle); the system's when absent. */
  readonly caFile: string | undefined;
  /**
   * The endpoint's real name (and port) the token is signed for and the certificate is
   * checked against, when `target` is a forward. Defaults to `target`.
   */
  readonly tokenHost: HostPort;
  /** Bind `listen` on a non-loopback address: whoever reaches it logs in as the proxy's AWS identity. */
  readonly allowNonLoopback: boolean;
}

export interface ProxyConfig {
  readonly targets: readonly ProxyTargetConfig[];
  /** /healthz, /readyz, /metrics; none when absent. */
  readonly ops: HostPort | undefined;
  /** Client connections open at once, all targets together; beyond, new ones are refused with the protocol's "too many connections". */
  readonly maxConnections: number;
  /** How long SIGTERM waits for sessions to end before closing them. */
  readonly drainTimeoutMs: number;
  /** TCP connect + TLS + login to the target. */
  readonly connectTimeoutMs: number;
}

export const PROXY_DEFAULTS = {
  maxConnections: 1000,
  drainTimeoutMs: 30_000,
  connectTimeoutMs: 10_000,
} as const;

/** `HOST:PORT`, `[v6]:PORT`, or `:PORT` / `PORT` (host `fallbackHost`). */
export function parseHostPort(value: string, flag: string, fallbackHost?: string): HostPort {
  const v = value.trim();
  let host: string;
  let port: string;
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(v);
  if (bracketed) {
    host = bracketed[1] as string;
    port = bracketed[2] as string;
  } else if (/^:?\d+$/.test(v) && fallbackHost !== undefined) {
    host = fallbackHost;
    port = v.replace(/^:/, "");
  } else {
    const at = v.lastIndexOf(":");
    host = v.slice(0, at);
    port = v.slice(at + 1);
    if (at <= 0 || host.includes(":") || !/^\d+$/.test(port)) {
      throw new ProxyConfigError(
        `${flag} must be HOST:PORT (e.g. ${flag === "--listen" ? "127.0.0.1:6432" : "db.example.com:5432"}; IPv6 as [::1]:5432), got "${value}"`,
      );
    }
  }
  const n = Number(port);
  // A listening port may be 0 (any free one); a port to connect to may not.
  const min = /(^|\W)(listen|ops)$/.test(flag) ? 0 : 1;
  if (!Number.isInteger(n) || n < min || n > 65535) {
    throw new ProxyConfigError(`${flag}: port must be a number from ${min} to 65535, got "${port}"`);
  }
  if (host === "") throw new ProxyConfigError(`${flag}: the host is empty in "${value}"`);
  return { host, port: n };
}

export function parseEngine(value: string | undefined, where: string): ProxyEngine {
  const engine = clientEngineNamed(value ?? "");
  if (engine === undefined) {
    throw new ProxyConfigError(`${where} must be ${clientEngineNames()}, got "${value ?? ""}"`);
  }
  return engine;
}

/** A target's fields as flags or a config file give them, unchecked. */
export interface TargetInput {
  name?: string | undefined;
  engine?: string | undefined;
  target?: string | undefined;
  listen?: string | undefined;
  unixSocketDir?: string | undefined;
  username?: string | undefined;
  database?: string | undefined;
  region?: string | undefined;
  profile?: string | undefined;
  caFile?: string | undefined;
  tokenHost?: string | undefined;
  allowNonLoopback?: boolean | undefined;
}

/**
 * Checks one target: every field a flag name can be given for, so the message names the
 * flag (or, from a file, `targets[i].field`).
 */
export function validateTarget(input: TargetInput, where: (field: string) => string): ProxyTargetConfig {
  const engine = parseEngine(input.engine, where("engine"));
  if (input.target === undefined) throw new ProxyConfigError(`${where("target")} is required (HOST:PORT)`);
  const target = parseHostPort(input.target, where("target"));
  if (input.listen === undefined) {
    throw new ProxyConfigError(
      `${where("listen")} is required (e.g. 127.0.0.1:${CLIENT_ENGINES[engine].proxyPort}, or 127.0.0.1:0 for any free port)`,
    );
  }
  const listen = parseHostPort(input.listen, where("listen"), "127.0.0.1");
  const allowNonLoopback = input.allowNonLoopback === true;
  if (!allowNonLoopback && !isLoopbackHost(listen.host)) {
    throw new ProxyConfigError(
      `${where("listen")} ${listen.host} is not a loopback address, and anyone who can reach the proxy logs in to ${target.host} as ${input.username ?? "its user"} with your AWS identity: listen on 127.0.0.1 (or ::1), or pass --allow-non-loopback (config: "allowNonLoopback": true) if the network is private, e.g. a sidecar's pod`,
    );
  }
  if (!input.username)
    throw new ProxyConfigError(`${where("username")} is required: the DB user to log in as`);
  const tokenHost = input.tokenHost === undefined ? target : parseTokenHost(input.tokenHost, target, where);
  if (input.unixSocketDir !== undefined && !input.unixSocketDir.startsWith("/")) {
    throw new ProxyConfigError(
      `${where("unix-socket-dir")} must be an absolute directory path, got "${input.unixSocketDir}"`,
    );
  }
  return {
    name: input.name,
    engine,
    target,
    listen,
    unixSocketDir: input.unixSocketDir,
    username: input.username,
    database: input.database,
    region: input.region,
    profile: input.profile,
    caFile: input.caFile,
    tokenHost,
    allowNonLoopback,
  };
}

/** `NAME` (the target's port) or `NAME:PORT`; IPv6 as `[::1]` or `[::1]:PORT`. */
function parseTokenHost(value: string, target: HostPort, where: (field: string) => string): HostPort {
  const v = value.trim();
  if (/^\[[^\]]+\]:\d+$/.test(v) || /^[^:]+:\d+$/.test(v)) return parseHostPort(v, where("token-host"));
  const host = v.replace(/^\[(.*)\]$/, "$1");
  if (host === "" || /[/\s]/.test(host)) {
    throw new ProxyConfigError(
      `${where("token-host")} must be the endpoint's name, optionally with :PORT, got "${value}"`,
    );
  }
  return { host, port: target.port };
}

const TARGET_FIELDS = new Set([
  "name",
  "engine",
  "target",
  "listen",
  "unixSocketDir",
  "username",
  "database",
  "region",
  "profile",
  "caFile",
  "tokenHost",
  "allowNonLoopback",
]);
const TOP_FIELDS = new Set(["targets", "ops", "maxConnections", "drainTimeoutMs", "connectTimeoutMs"]);

function positiveInteger(value: unknown, where: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new ProxyConfigError(`${where} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * A proxy configuration file (JSON): several targets in one process.
 *
 * ```json
 * { "targets": [
 *     { "engine": "postgres", "target": "db.example.com:5432", "listen": "127.0.0.1:6432",
 *       "username": "jane", "region": "us-east-1", "caFile": "/etc/ssl/rds-global-bundle.pem" },
 *     { "engine": "mysql", "target": "127.0.0.1:13306", "tokenHost": "mysql.internal:3306",
 *       "listen": "127.0.0.1:3307", "username": "app" } ],
 *   "ops": "127.0.0.1:9187", "maxConnections": 500, "drainTimeoutMs": 30000 }
 * ```
 */
export function loadProxyConfigFile(file: string): ProxyConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new ProxyConfigError(`cannot read the proxy configuration ${file}: ${(err as Error).message}`);
  }
  return validateProxyConfig(raw, file);
}

export function validateProxyConfig(raw: unknown, file: string): ProxyConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ProxyConfigError(`${file}: the configuration must be a JSON object with "targets"`);
  }
  const top = raw as Record<string, unknown>;
  for (const key of Object.keys(top)) {
    if (!TOP_FIELDS.has(key))
      throw new ProxyConfigError(`${file}: unknown field "${key}" (known: ${[...TOP_FIELDS].join(", ")})`);
  }
  if (!Array.isArray(top.targets) || top.targets.length === 0) {
    throw new ProxyConfigError(`${file}: "targets" must be a non-empty array of targets`);
  }
  const targets = top.targets.map((t: unknown, i: number) => {
    const where = (field: string) =>
      `${file}: targets[${i}].${field.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())}`;
    if (typeof t !== "object" || t === null || Array.isArray(t)) {
      throw new ProxyConfigError(`${file}: targets[${i}] must be an object`);
    }
    for (const [key, value] of Object.entries(t)) {
      if (!TARGET_FIELDS.has(key)) {
        throw new ProxyConfigError(
          `${where(key)} is not a known field (known: ${[...TARGET_FIELDS].join(", ")})`,
        );
      }
      const ok = key === "allowNonLoopback" ? typeof value === "boolean" : typeof value === "string";
      if (!ok)
        throw new ProxyConfigError(
          `${where(key)} must be a ${key === "allowNonLoopback" ? "boolean" : "string"}`,
        );
    }
    return validateTarget(t as TargetInput, where);
  });
  return {
    targets,
    ops: top.ops === undefined ? undefined : parseHostPort(String(top.ops), `${file}: ops`, "127.0.0.1"),
    maxConnections: positiveInteger(
      top.maxConnections,
      `${file}: maxConnections`,
      PROXY_DEFAULTS.maxConnections,
    ),
    drainTimeoutMs: positiveInteger(
      top.drainTimeoutMs,
      `${file}: drainTimeoutMs`,
      PROXY_DEFAULTS.drainTimeoutMs,
    ),
    connectTimeoutMs: positiveInteger(
      top.connectTimeoutMs,
      `${file}: connectTimeoutMs`,
      PROXY_DEFAULTS.connectTimeoutMs,
    ),
  };
}

/** A name for TLS verification: an IP address is checked against the certificate's IP SANs, not SNI. */
export function isIpAddress(host: string): boolean {
  return isIP(host) !== 0;
}
