import { readFileSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { DB_ENGINES, DEFAULT_ENGINE, engineSpec, isDbEngine } from "../engines/catalog.js";
import type { DbEngine, Support } from "../engines/spec.js";
import type { LoginLimits } from "../sessions/limits.js";
import type {
  BackendConfig,
  Config,
  FleetConfig,
  GatewayLimits,
  HttpEndpointConfig,
  InstanceConfig,
  StatementAuditConfig,
  StoreConfig,
  TransactionPoolConfig,
} from "./types.js";

/** A configuration problem; the message names the field and says what is expected. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Default ports sit clear of a PostgreSQL on 5432, a MySQL on 3306, pgbouncer on 6432, and
 * below the ephemeral range (32768+), so `iamdb up` starts beside the databases it fronts.
 * An instance's listener port and backend defaults are its engine's (`src/engines/<name>/spec.ts`).
 */
export const DEFAULTS = {
  dataDir: ".iamdb",
  accountId: "000000000000",
  region: "us-east-1",
  apiPort: 18400,
  opsPort: 18401,
  api: { maxConnections: 256, headersTimeoutMs: 10_000, requestTimeoutMs: 30_000 },
  ops: { maxConnections: 64, headersTimeoutMs: 5_000, requestTimeoutMs: 10_000 },
  gateway: {
    loginTimeoutMs: 15_000,
    backendConnectTimeoutMs: 5_000,
    maxPendingLogins: 2_000,
    maxPendingLoginsPerSource: 500,
    clockSkewSeconds: 60,
    drainTimeoutMs: 10_000,
    backendPoolMaxIdle: 32,
    backendPoolMaxIdleTotal: "auto",
    fileDescriptorReserve: 256,
    backendPoolIdleTimeoutMs: 60_000,
    backendPoolLifetimeMs: 3_600_000,
    revocation: "terminate",
    sessionsFollowCredentialExpiry: false,
    limits: {},
  } satisfies GatewayLimits,
  fleet: {
    heartbeatMs: 2_000,
    drainDelayMs: 0,
  },
  pool: {
    maxBackendConnections: 20,
    borrowTimeoutMs: 120_000,
    maxPreparedStatements: 200,
  },
  audit: {
    maxBytes: 100 * 1024 * 1024,
    maxFiles: 5,
    queueLines: 10_000,
    maxTextBytes: 16 * 1024,
  },
};

/** An instance's `audit` before paths are resolved (the file's default needs the data directory). */
type ParsedAudit = Omit<StatementAuditConfig, "file"> & { readonly file: string | undefined };

function audit(o: Json, where: string): ParsedAudit | undefined {
  const a = obj(o, "audit", where);
  const w = `${where}.audit`;
  known(a, ["statements", "file", "maxBytes", "maxFiles", "queueLines", "maxTextBytes"], w);
  const d = DEFAULTS.audit;
  const parsed: ParsedAudit = {
    file: optStr(a, "file", w),
    maxBytes: int(a, "maxBytes", w, d.maxBytes, 4096, 2 ** 40),
    maxFiles: int(a, "maxFiles", w, d.maxFiles, 1, 1000),
    queueLines: int(a, "queueLines", w, d.queueLines, 1, 10_000_000),
    maxTextBytes: int(a, "maxTextBytes", w, d.maxTextBytes, 64, 1024 * 1024),
  };
  if (parsed.maxTextBytes * 6 + 2048 > parsed.maxBytes) {
    // A line is never split across files: the largest one (every byte escaped as \u00XX) must fit one.
    throw new ConfigError(
      `${w}.maxBytes (${parsed.maxBytes}) must be at least 6 × maxTextBytes + 2048 (${parsed.maxTextBytes * 6 + 2048}) so that the longest line fits a file; raise maxBytes or lower maxTextBytes`,
    );
  }
  return bool(a, "statements", w, false) ? parsed : undefined;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function str(o: Json, key: string, where: string, fallback?: string): string {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "string" || v === "") throw new ConfigError(`${where}.${key} must be a non-empty string`);
  return v;
}

function optStr(o: Json, key: string, where: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key, where);
}

/**
 * A bad value as an error message may show it: numbers, `true`/`false`/`null`, and strings that
 * look like a mistaken number or word ("30s", "half"); any other string (a password pasted into
 * the wrong field, say) only by its length, and objects and arrays by their kind.
 */
function shown(v: unknown): string {
  if (typeof v === "number" || typeof v === "boolean" || v === null) return String(v);
  if (typeof v === "string") {
    return /^(-?[0-9][0-9._]*\s*[a-z]{0,3}|[a-z][a-z-]{0,15})$/i.test(v)
      ? JSON.stringify(v)
      : `a string of ${v.length} characters, not shown`;
  }
  return Array.isArray(v) ? "an array" : "an object";
}

function int(o: Json, key: string, where: string, fallback: number, min: number, max: number): number {
  const v = o[key] ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(`${where}.${key} must be a whole number from ${min} to ${max} (got ${shown(v)})`);
  }
  return v;
}

function autoOrInt(o: Json, key: string, where: string, min: number, max: number): number | "auto" {
  const v = o[key] ?? "auto";
  if (v === "auto") return v;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new ConfigError(
      `${where}.${key} must be "auto" or a whole number from ${min} to ${max} (got ${shown(v)})`,
    );
  }
  return v;
}

function oneOf<T extends string>(o: Json, key: string, where: string, choices: readonly T[], fallback: T): T {
  const v = o[key] ?? fallback;
  if (typeof v !== "string" || !(choices as readonly string[]).includes(v))
    throw new ConfigError(
      `${where}.${key} must be one of ${choices.map((c) => `"${c}"`).join(", ")} (got ${shown(v)})`,
    );
  return v as T;
}

function bool(o: Json, key: string, where: string, fallback: boolean): boolean {
  const v = o[key] ?? fallback;
  if (typeof v !== "boolean") throw new ConfigError(`${where}.${key} must be true or false`);
  return v;
}

function obj(o: Json, key: string, where: string): Json {
  const v = o[key] ?? {};
  if (!isObject(v)) throw new ConfigError(`${where}.${key} must be an object`);
  return v;
}

function known(o: Json, keys: readonly string[], where: string): void {
  for (const k of Object.keys(o)) {
    if (!keys.includes(k))
      throw new ConfigError(`${where} has an unknown field "${k}" (known: ${keys.join(", ")})`);
  }
}

const IDENTIFIER = /^[a-zA-Z](?:-?[a-zA-Z0-9])*$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$|^local$/;

function backend(o: Json, where: string, engine: DbEngine): BackendConfig {
  const spec = engineSpec(engine);
  if (o.backend === undefined || o.backend === "embedded") {
    if (!spec.embeddedBackend) {
      throw new ConfigError(
        `${where}.backend is required for ${engine} instances (no embedded ${engine}); give host, port, adminUser`,
      );
    }
    return { type: "embedded" };
  }
  const b = obj(o, "backend", where);
  const w = `${where}.backend`;
  known(
    b,
    ["host", "port", "database", "tls", "caFile", "adminUser", "adminPassword", "adminPasswordEnv"],
    w,
  );
  const tls = str(b, "tls", w, "disable");
  if (tls !== "disable" && tls !== "require" && tls !== "verify-full") {
    throw new ConfigError(`${w}.tls must be disable, require or verify-full`);
  }
  const envName = optStr(b, "adminPasswordEnv", w);
  const adminPassword = envName !== undefined ? process.env[envName] : optStr(b, "adminPassword", w);
  if (envName !== undefined && adminPassword === undefined) {
    throw new ConfigError(
      `${w}.adminPasswordEnv names ${envName}, which is not set; export it before starting iamdb`,
    );
  }
  return {
    type: "server",
    host: str(b, "host", w),
    port: int(b, "port", w, spec.backend.port, 1, 65535),
    database: str(b, "database", w, spec.backend.database),
    tls,
    caFile: optStr(b, "caFile", w),
    adminUser: str(b, "adminUser", w, spec.backend.adminUser),
    adminPassword,
  };
}

function instance(
  o: unknown,
  index: number,
  defaults: { region: string },
): InstanceConfig & { readonly parsedAudit: ParsedAudit | undefined } {
  const where = `instances[${index}]`;
  if (!isObject(o)) throw new ConfigError(`${where} must be an object`);
  known(
    o,
    [
      "identifier",
      "engine",
      "region",
      "listen",
      "endpoints",
      "port",
      "iamAuthEnabled",
      "tags",
      "backend",
      "tls",
      "allowPlaintext",
      "limits",
      "audit",
      "sessionIdentity",
      "pool",
    ],
    where,
  );
  const identifier = str(o, "identifier", where);
  if (!IDENTIFIER.test(identifier) || identifier.length > 63) {
    throw new ConfigError(
      `${where}.identifier must be 1-63 letters, digits or hyphens, start with a letter, no "--" (got "${identifier}")`,
    );
  }
  const engine = str(o, "engine", where, DEFAULT_ENGINE);
  if (!isDbEngine(engine)) {
    throw new ConfigError(
      `${where}.engine must be ${DB_ENGINES.slice(0, -1).join(", ")} or ${DB_ENGINES.at(-1)}`,
    );
  }
  const listen = obj(o, "listen", where);
  const listenPort = int(listen, "port", `${where}.listen`, engineSpec(engine).listenPort, 0, 65535);
  const listenHost = str(listen, "host", `${where}.listen`, "127.0.0.1");
  const endpoints = o.endpoints ?? ["localhost", "127.0.0.1"];
  if (
    !Array.isArray(endpoints) ||
    endpoints.length === 0 ||
    !endpoints.every((e) => typeof e === "string" && /^[A-Za-z0-9.:_-]+$/.test(e))
  ) {
    throw new ConfigError(`${where}.endpoints must be a non-empty list of host names or IP addresses`);
  }
  const tags = o.tags ?? [];
  if (
    !Array.isArray(tags) ||
    !tags.every((t) => isObject(t) && typeof t.key === "string" && typeof t.value === "string")
  ) {
    throw new ConfigError(`${where}.tags must be a list of {"key": "...", "value": "..."}`);
  }
  const region = str(o, "region", where, defaults.region);
  if (!REGION.test(region))
    throw new ConfigError(`${where}.region must look like us-east-1 (got "${region}")`);
  const tls = obj(o, "tls", where);
  known(tls, ["certFile", "keyFile", "caFile"], `${where}.tls`);
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    throw new ConfigError(
      `${where}.tls needs both certFile and keyFile, or neither (then iamdb generates them)`,
    );
  }
  return {
    identifier,
    engine,
    region,
    listen: { host: listenHost, port: listenPort },
    endpoints: endpoints as string[],
    port: int(o, "port", where, listenPort, 0, 65535),
    iamAuthEnabled: bool(o, "iamAuthEnabled", where, true),
    tags: tags.map((t) => ({ key: String((t as Json).key), value: String((t as Json).value) })),
    backend: backend(o, where, engine),
    tls: {
      ...(tls.certFile === undefined ? {} : { certFile: str(tls, "certFile", `${where}.tls`) }),
      ...(tls.keyFile === undefined ? {} : { keyFile: str(tls, "keyFile", `${where}.tls`) }),
      ...(tls.caFile === undefined ? {} : { caFile: str(tls, "caFile", `${where}.tls`) }),
    },
    allowPlaintext: bool(o, "allowPlaintext", where, false),
    sessionIdentity: sessionIdentity(o, where, engine),
    ...poolConfig(o, where, engine),
    ...(o.limits === undefined ? {} : { limits: loginLimits(o, `${where}`) }),
    parsedAudit: audit(o, where),
  };
}

/** A setting the engine has not: the error says why (the engine's words) and to remove the field. */
function unsupported(field: string, support: Support): void {
  if (support !== true) throw new ConfigError(`${field} ${support.refusal}`);
}

/** `sessionIdentity`: where the engine has it (MySQL sessions carry their identity in connection attributes). */
function sessionIdentity(o: Json, where: string, engine: DbEngine): boolean {
  const on = bool(o, "sessionIdentity", where, false);
  if (on) unsupported(`${where}.sessionIdentity`, engineSpec(engine).sessionIdentity);
  return on;
}

const POOL_TUNING = ["maxBackendConnections", "borrowTimeoutMs", "maxPreparedStatements"] as const;

/**
 * `pool`: session mode (the default, backends reused only after a client leaves) or
 * transaction mode (engines that have it, i.e. PostgreSQL, on a server backend, without sessionIdentity, which names
 * one client per backend process). The tuning fields belong to transaction mode.
 */
function poolConfig(o: Json, where: string, engine: DbEngine): { pool?: TransactionPoolConfig } {
  if (o.pool === undefined) return {};
  const p = obj(o, "pool", where);
  const w = `${where}.pool`;
  known(p, ["mode", ...POOL_TUNING], w);
  const mode = oneOf(p, "mode", w, ["session", "transaction"] as const, "session");
  if (mode === "session") {
    const tuning = POOL_TUNING.find((k) => p[k] !== undefined);
    if (tuning !== undefined)
      throw new ConfigError(
        `${w}.${tuning} applies to transaction mode only: set ${w}.mode to "transaction" or remove the field (session mode opens one backend connection per client)`,
      );
    return {};
  }
  unsupported(`${w}.mode "transaction"`, engineSpec(engine).transactionPooling);
  if (o.backend === undefined || o.backend === "embedded")
    throw new ConfigError(
      `${w}.mode "transaction" needs a server backend: the embedded backend serves every client from one session`,
    );
  if (o.sessionIdentity === true)
    throw new ConfigError(
      `${w}.mode "transaction" cannot be combined with sessionIdentity: a backend process serves many clients in turn, so iamdb.session_identity() could not name one; turn one of them off`,
    );
  const d = DEFAULTS.pool;
  return {
    pool: {
      mode,
      maxBackendConnections: int(p, "maxBackendConnections", w, d.maxBackendConnections, 1, 100_000),
      borrowTimeoutMs: int(p, "borrowTimeoutMs", w, d.borrowTimeoutMs, 1, 3_600_000),
      maxPreparedStatements: int(p, "maxPreparedStatements", w, d.maxPreparedStatements, 1, 100_000),
    },
  };
}

const LIMIT_FIELDS = [
  "newConnectionsPerSecondPerPrincipal",
  "newConnectionsPerSecondPerInstance",
  "maxSessionsPerPrincipal",
] as const;

/** `limits`: each field a positive whole number, or absent (no limit). */
function loginLimits(o: Json, where: string): LoginLimits {
  const l = obj(o, "limits", where);
  known(l, LIMIT_FIELDS, `${where}.limits`);
  const out: Record<string, number> = {};
  for (const k of LIMIT_FIELDS)
    if (l[k] !== undefined) out[k] = int(l, k, `${where}.limits`, 0, 1, 1_000_000);
  return out;
}

function httpEndpoint(
  o: Json,
  where: string,
  port: number,
  defaults: Omit<HttpEndpointConfig, "host" | "port">,
): HttpEndpointConfig {
  known(o, ["host", "port", "maxConnections", "headersTimeoutMs", "requestTimeoutMs"], where);
  const headersTimeoutMs = int(o, "headersTimeoutMs", where, defaults.headersTimeoutMs, 100, 600_000);
  const requestTimeoutMs = int(o, "requestTimeoutMs", where, defaults.requestTimeoutMs, 100, 600_000);
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      `${where}.headersTimeoutMs (${headersTimeoutMs}) must not exceed ${where}.requestTimeoutMs (${requestTimeoutMs})`,
    );
  }
  return {
    host: str(o, "host", where, "127.0.0.1"),
    port: int(o, "port", where, port, 0, 65535),
    maxConnections: int(o, "maxConnections", where, defaults.maxConnections, 1, 1_000_000),
    headersTimeoutMs,
    requestTimeoutMs,
  };
}

function store(o: Json): StoreConfig {
  const s = obj(o, "store", "config");
  const type = str(s, "type", "config.store", "sqlite");
  if (type === "sqlite") return { type };
  if (type !== "postgres") throw new ConfigError("config.store.type must be sqlite or postgres");
  known(s, ["type", "host", "port", "user", "password", "database", "schema"], "config.store");
  return {
    type,
    host: str(s, "host", "config.store", "127.0.0.1"),
    port: int(s, "port", "config.store", 5432, 1, 65535),
    user: str(s, "user", "config.store", "postgres"),
    password: optStr(s, "password", "config.store"),
    database: str(s, "database", "config.store", "postgres"),
    schema: optStr(s, "schema", "config.store"),
  };
}

/** The instance `iamdb up` runs when the configuration defines none: PostgreSQL over embedded PGlite. */
export const DEFAULT_INSTANCE = { identifier: `iamdb-${DEFAULT_ENGINE}`, engine: DEFAULT_ENGINE };

/**
 * Validates a configuration object once, filling every default. `baseDir` resolves relative
 * paths (the config file's directory, or the working directory).
 */
export function parseConfig(raw: unknown, baseDir: string = process.cwd()): Config {
  const o = raw ?? {};
  if (!isObject(o)) throw new ConfigError("the configuration must be a JSON object");
  known(
    o,
    [
      "dataDir",
      "accountId",
      "partition",
      "region",
      "store",
      "api",
      "ops",
      "gateway",
      "fleet",
      "instances",
      "authLog",
    ],
    "config",
  );
  const dataDir = str(o, "dataDir", "config", DEFAULTS.dataDir);
  const accountId = str(o, "accountId", "config", DEFAULTS.accountId);
  if (!/^\d{12}$/.test(accountId))
    throw new ConfigError(`config.accountId must be 12 digits (got "${accountId}")`);
  const region = str(o, "region", "config", DEFAULTS.region);
  if (!REGION.test(region)) throw new ConfigError(`config.region must look like us-east-1 (got "${region}")`);
  const api = obj(o, "api", "config");
  const ops = obj(o, "ops", "config");
  const g = obj(o, "gateway", "config");
  known(g, Object.keys(DEFAULTS.gateway), "config.gateway");
  const gateway: GatewayLimits = {
    loginTimeoutMs: int(g, "loginTimeoutMs", "config.gateway", DEFAULTS.gateway.loginTimeoutMs, 100, 600_000),
    backendConnectTimeoutMs: int(
      g,
      "backendConnectTimeoutMs",
      "config.gateway",
      DEFAULTS.gateway.backendConnectTimeoutMs,
      100,
      600_000,
    ),
    maxPendingLogins: int(
      g,
      "maxPendingLogins",
      "config.gateway",
      DEFAULTS.gateway.maxPendingLogins,
      1,
      1_000_000,
    ),
    maxPendingLoginsPerSource: int(
      g,
      "maxPendingLoginsPerSource",
      "config.gateway",
      DEFAULTS.gateway.maxPendingLoginsPerSource,
      1,
      1_000_000,
    ),
    clockSkewSeconds: int(g, "clockSkewSeconds", "config.gateway", DEFAULTS.gateway.clockSkewSeconds, 0, 900),
    drainTimeoutMs: int(g, "drainTimeoutMs", "config.gateway", DEFAULTS.gateway.drainTimeoutMs, 0, 3_600_000),
    backendPoolMaxIdle: int(
      g,
      "backendPoolMaxIdle",
      "config.gateway",
      DEFAULTS.gateway.backendPoolMaxIdle,
      0,
      100_000,
    ),
    backendPoolMaxIdleTotal: autoOrInt(g, "backendPoolMaxIdleTotal", "config.gateway", 0, 100_000),
    fileDescriptorReserve: int(
      g,
      "fileDescriptorReserve",
      "config.gateway",
      DEFAULTS.gateway.fileDescriptorReserve,
      0,
      1_000_000,
    ),
    backendPoolIdleTimeoutMs: int(
      g,
      "backendPoolIdleTimeoutMs",
      "config.gateway",
      DEFAULTS.gateway.backendPoolIdleTimeoutMs,
      100,
      86_400_000,
    ),
    backendPoolLifetimeMs: int(
      g,
      "backendPoolLifetimeMs",
      "config.gateway",
      DEFAULTS.gateway.backendPoolLifetimeMs,
      1_000,
      604_800_000,
    ),
    revocation: oneOf(g, "revocation", "config.gateway", ["terminate", "keep"], DEFAULTS.gateway.revocation),
    sessionsFollowCredentialExpiry: bool(
      g,
      "sessionsFollowCredentialExpiry",
      "config.gateway",
      DEFAULTS.gateway.sessionsFollowCredentialExpiry,
    ),
    limits: loginLimits(g, "config.gateway"),
  };
  const f = obj(o, "fleet", "config");
  known(f, ["heartbeatMs", "drainDelayMs", "advertiseHost"], "config.fleet");
  const fleet: FleetConfig = {
    heartbeatMs: int(f, "heartbeatMs", "config.fleet", DEFAULTS.fleet.heartbeatMs, 100, 60_000),
    drainDelayMs: int(f, "drainDelayMs", "config.fleet", DEFAULTS.fleet.drainDelayMs, 0, 600_000),
    advertiseHost: optStr(f, "advertiseHost", "config.fleet"),
  };
  const list = o.instances ?? [DEFAULT_INSTANCE];
  if (!Array.isArray(list)) throw new ConfigError("config.instances must be a list");
  const parsed = list.map((i, n) => instance(i, n, { region }));
  const seen = new Set<string>();
  for (const i of parsed) {
    if (seen.has(i.identifier))
      throw new ConfigError(`two instances are called ${i.identifier}; identifiers must be unique`);
    seen.add(i.identifier);
  }
  const absolute = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const resolvedDataDir = absolute(dataDir);
  const auditFiles = new Map<string, string>();
  const instances: InstanceConfig[] = parsed.map(({ parsedAudit, ...parsedInstance }) => {
    // Files named in the config file are found next to it, as dataDir and authLog are.
    const files = (t: InstanceConfig["tls"]) =>
      Object.fromEntries(
        Object.entries(t).map(([k, v]) => [k, absolute(v as string)]),
      ) as InstanceConfig["tls"];
    const b = parsedInstance.backend;
    const i: InstanceConfig = {
      ...parsedInstance,
      tls: files(parsedInstance.tls),
      backend: b.type === "server" && b.caFile !== undefined ? { ...b, caFile: absolute(b.caFile) } : b,
    };
    if (parsedAudit === undefined) return i;
    const file =
      parsedAudit.file === undefined
        ? join(resolvedDataDir, "audit", `${i.identifier}.jsonl`)
        : absolute(parsedAudit.file);
    const other = auditFiles.get(file);
    if (other !== undefined) {
      throw new ConfigError(
        `instances ${other} and ${i.identifier} have the same audit.file ${file}; give each instance a file of its own`,
      );
    }
    auditFiles.set(file, i.identifier);
    return { ...i, audit: { ...parsedAudit, file } };
  });
  const authLog = str(o, "authLog", "config", join(resolvedDataDir, "auth.log"));
  return {
    dataDir: resolvedDataDir,
    accountId,
    partition: str(o, "partition", "config", "aws"),
    region,
    store: store(o),
    api: httpEndpoint(api, "config.api", DEFAULTS.apiPort, DEFAULTS.api),
    ops: httpEndpoint(ops, "config.ops", DEFAULTS.opsPort, DEFAULTS.ops),
    gateway,
    fleet,
    instances,
    authLog: authLog === "-" ? "-" : absolute(authLog),
  };
}

/** Reads and validates a JSON configuration file; no file means all defaults. */
export function loadConfig(file: string | undefined, overrides: { dataDir?: string } = {}): Config {
  let raw: unknown = {};
  let baseDir = process.cwd();
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (err) {
      throw new ConfigError(`cannot read the configuration file ${file}: ${(err as Error).message}`);
    }
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(`the configuration file ${file} is not valid JSON: ${(err as Error).message}`);
    }
    baseDir = resolve(file, "..");
  }
  if (overrides.dataDir !== undefined) raw = { ...(raw as Json), dataDir: resolve(overrides.dataDir) };
  return parseConfig(raw, baseDir);
}
