import { type DestinationStream, type Logger, pino } from "pino";
import { prettyLine } from "./pretty.js";

/**
 * The operational log: what the gateway, admin API and store say about themselves (accept
 * errors, auth-log write failures, plaintext backends, store listener reconnects, admin API
 * requests at debug, logins at debug / trace). It is not the auth log, which keeps its own
 * RDS-shaped lines and file (src/gateway/auth-log.ts); the CLI's output to a person stays
 * plain text (src/cli/).
 *
 * JSON lines (`level`, `time`, `msg`, then fields) on stderr when stderr is not a terminal,
 * so a process manager or log shipper reads them as they are; one readable line per entry
 * on a terminal.
 */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const DEFAULT_LOG_LEVEL: LogLevel = "info";
export const LOG_LEVEL_ENV = "IAMDB_LOG_LEVEL";

/** A log level that is not one of {@link LOG_LEVELS}; the message names where it came from and the choices. */
export class LogLevelError extends Error {
  constructor(value: string, source: string) {
    super(`${source} is "${value}": use one of ${LOG_LEVELS.join(", ")}`);
    this.name = "LogLevelError";
  }
}

const isLogLevel = (v: string): v is LogLevel => (LOG_LEVELS as readonly string[]).includes(v);

/** A level as written by a person (any letter case, spaces around), or a {@link LogLevelError}. */
export function parseLogLevel(value: string, source: string): LogLevel {
  const v = value.trim().toLowerCase();
  if (!isLogLevel(v)) throw new LogLevelError(value, source);
  return v;
}

/** The level to run at: `--log-level`, else `IAMDB_LOG_LEVEL`, else info. */
export function resolveLogLevel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): LogLevel {
  if (flag !== undefined) return parseLogLevel(flag, "--log-level");
  const fromEnv = env[LOG_LEVEL_ENV];
  if (fromEnv !== undefined && fromEnv !== "") return parseLogLevel(fromEnv, LOG_LEVEL_ENV);
  return DEFAULT_LOG_LEVEL;
}

/**
 * Field names that could carry a secret, censored wherever they appear at the top level or
 * one level down. Nothing logs them on purpose (the test greps a trace-level login for the
 * token, the secret key and the gateway-held password); this is the second line of defence.
 */
const SECRET_FIELDS = [
  "password",
  "token",
  "authToken",
  "secretAccessKey",
  "SecretAccessKey",
  "sessionToken",
  "SessionToken",
  "authorization",
  "Authorization",
  "masterKey",
];
const REDACT_PATHS = [...SECRET_FIELDS, ...SECRET_FIELDS.map((f) => `*.${f}`)];

export interface LoggerOptions {
  readonly level?: LogLevel;
  /** Where lines go; stderr by default. Anything with `write(line)` (tests capture lines this way). */
  readonly destination?: { write(line: string): unknown };
  /** Readable lines instead of JSON; by default, when stderr is a terminal and no destination is given. */
  readonly pretty?: boolean;
}

/** A logger per {@link LoggerOptions}; most code uses {@link log}, the process's logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (options.destination === undefined && process.stderr.isTTY === true);
  // Synchronous: operational lines are few, and a line written just before an exit must not be lost.
  const target = options.destination ?? pino.destination({ dest: 2, sync: true });
  const destination: DestinationStream = pretty
    ? { write: (line: string) => void target.write(prettyLine(line)) }
    : (target as DestinationStream);
  return pino(
    {
      level: options.level ?? DEFAULT_LOG_LEVEL,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    },
    destination,
  );
}

function initialLevel(): LogLevel {
  try {
    return resolveLogLevel(undefined);
  } catch {
    // A bad IAMDB_LOG_LEVEL is reported by the command that reads it (`iamdb up` exits 2).
    return DEFAULT_LOG_LEVEL;
  }
}

let current: Logger = createLogger({ level: initialLevel() });

/** The process's operational logger (read at each use, so {@link configureLogger} reaches every caller). */
export function log(): Logger {
  return current;
}

/** Replaces the process's logger (`iamdb up --log-level`, tests capturing lines); returns it. */
export function configureLogger(options: LoggerOptions): Logger {
  current = createLogger(options);
  return current;
}
