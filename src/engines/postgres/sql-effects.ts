/**
 * What a statement does to session state that a transaction-mode pool must know about, read
 * from its SQL text alone (no parser of PostgreSQL's grammar: keywords after comments and
 * literals are blanked). Conservative: when a text may create state that cannot be carried
 * from one backend connection to another, it pins; a false pin costs sharing, a missed one
 * costs correctness.
 *
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html
 * @see https://www.pgbouncer.org/features.html (SQL feature map for pooling modes)
 */

/** Why a session is pinned to its backend connection: the metric's `reason` label. */
export type PinReason =
  | "sql-prepare"
  | "listen"
  | "cursor-with-hold"
  | "temporary-object"
  | "advisory-lock"
  | "load"
  | "set-untracked"
  | "set-in-transaction"
  | "set-config"
  | "set-role"
  | "session-characteristics"
  | "function-call"
  | "protocol";

/**
 * Parameters the server reports with ParameterStatus that a SET may change and the pool
 * re-applies from the reported value (lower case; search_path is reported by newer servers
 * only, and then handled here too).
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-ASYNC
 */
export const REAPPLIED_REPORTED = new Set([
  "application_name",
  "client_encoding",
  "datestyle",
  "intervalstyle",
  "timezone",
  "standard_conforming_strings",
  "default_transaction_read_only",
  "search_path",
]);

/**
 * Parameters not reported (before search_path became reported) whose single-statement `SET`
 * outside a transaction is remembered as text and replayed (with RESET for the ones the next
 * client did not set) instead of pinning.
 */
export const TRACKED_BY_TEXT = new Set([
  "search_path",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "work_mem",
  "extra_float_digits",
  "bytea_output",
  "row_security",
]);

export interface SqlEffects {
  /** The session must stay on this backend connection from now on. */
  readonly pin?: PinReason;
  /** A single `SET name = …` of a parameter in {@link TRACKED_BY_TEXT}, to remember once it succeeds. */
  readonly set?: string;
  /** `RESET name` of a tracked parameter, or "all" for RESET ALL. */
  readonly reset?: string;
  /** DEALLOCATE ALL: the session's prepared statements are gone. */
  readonly deallocateAll?: boolean;
  /** DISCARD ALL: prepared statements and tracked settings are gone. */
  readonly discardAll?: boolean;
}

/** The text with comments, string literals and dollar-quoted bodies blanked, in lower case. */
export function blankLiterals(sql: string): string {
  // Most statements have nothing to blank.
  if (!/['$]|--|\/\*/.test(sql)) return sql.toLowerCase();
  let out = "";
  let i = 0;
  const n = sql.length;
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === "-" && next === "-") {
      const end = sql.indexOf("\n", i);
      i = end < 0 ? n : end;
      out += " ";
    } else if (c === "/" && next === "*") {
      // Nested comments, as PostgreSQL allows them.
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === "/" && sql[i + 1] === "*") {
          depth++;
          i += 2;
        } else if (sql[i] === "*" && sql[i + 1] === "/") {
          depth--;
          i += 2;
        } else i++;
      }
      out += " ";
    } else if (c === "'") {
      // 'it''s' and E'\'' alike: a backslash escape is skipped too (harmless with standard strings).
      const escapes = /[eE]$/.test(out);
      i++;
      while (i < n) {
        if (escapes && sql[i] === "\\") i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
      out += "''";
    } else if (c === "$" && /[A-Za-z_0-9$]/.test(next ?? "") && !/[A-Za-z_0-9]$/.test(out)) {
      const tag = /^\$([A-Za-z_][A-Za-z_0-9]*)?\$/.exec(sql.slice(i));
      if (!tag) {
        out += c;
        i++;
        continue;
      }
      const end = sql.indexOf(tag[0], i + tag[0].length);
      i = end < 0 ? n : end + tag[0].length;
      out += " $$ ";
    } else {
      out += c;
      i++;
    }
  }
  return out.toLowerCase();
}

const PIN_ANYWHERE: ReadonlyArray<[RegExp, PinReason]> = [
  [/\blisten\b/, "listen"],
  [/\bwith\s+hold\b/, "cursor-with-hold"],
  [/\bpg_(try_)?advisory_lock(_shared)?\s*\(/, "advisory-lock"],
  [/\bset_config\s*\(/, "set-config"],
  [/\b(create|into)\b[^;]*\btemp(orary)?\b/, "temporary-object"],
];

/**
 * The effects of one simple Query's or Parse's text. `inTransaction`: the client was in a
 * transaction block when it sent it (a SET there may be rolled back: not remembered, pinned).
 */
export function sqlEffects(sql: string, inTransaction: boolean): SqlEffects {
  // Clients send the same texts again and again (every -M extended execution parses anew).
  const cache = inTransaction ? IN_TRANSACTION : OUTSIDE;
  const known = cache.get(sql);
  if (known !== undefined) return known;
  const effects = readEffects(sql, inTransaction);
  if (sql.length <= MAX_CACHED_TEXT) {
    if (cache.size >= MAX_CACHED) cache.clear();
    cache.set(sql, effects);
  }
  return effects;
}

/** Texts whose effects are remembered, per transaction state, and the longest remembered. */
const MAX_CACHED = 2048;
const MAX_CACHED_TEXT = 4096;
const OUTSIDE = new Map<string, SqlEffects>();
const IN_TRANSACTION = new Map<string, SqlEffects>();

function readEffects(sql: string, inTransaction: boolean): SqlEffects {
  const text = blankLiterals(sql);
  for (const [re, reason] of PIN_ANYWHERE) if (re.test(text)) return { pin: reason };
  const statements = text
    .split(";")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  let effects: SqlEffects = {};
  for (const s of statements) {
    const e = statementEffects(s, inTransaction || statements.length > 1);
    if (e.pin) return e;
    effects = { ...effects, ...e };
  }
  if (effects.set !== undefined && statements.length > 1) return { pin: "set-untracked" };
  return effects;
}

function statementEffects(s: string, inTransaction: boolean): SqlEffects {
  if (/^prepare\b/.test(s)) return { pin: "sql-prepare" };
  if (/^load\b/.test(s)) return { pin: "load" };
  if (/^discard\s+all\b/.test(s)) return { discardAll: true };
  if (/^deallocate\s+(prepare\s+)?all\b/.test(s)) return { deallocateAll: true };
  if (/^(set|reset)\s+(session\s+)?(role|session\s+authorization)\b/.test(s)) return { pin: "set-role" };
  if (/^set\s+session\s+characteristics\b/.test(s)) return { pin: "session-characteristics" };
  if (/^set\s+(local|transaction)\b/.test(s)) return {};
  if (/^set\s+(session\s+)?time\s+zone\b/.test(s)) return {};
  const set = /^set\s+(?:session\s+)?("?)([a-z_][a-z0-9_.$]*)\1\s*(=|\bto\b)/.exec(s);
  if (set) {
    const name = set[2] as string;
    if (REAPPLIED_REPORTED.has(name) && name !== "search_path") return {};
    if (!TRACKED_BY_TEXT.has(name)) return { pin: "set-untracked" };
    if (inTransaction) return { pin: "set-in-transaction" };
    return { set: name };
  }
  if (/^set\b/.test(s)) return { pin: "set-untracked" };
  const reset = /^reset\s+("?)([a-z_][a-z0-9_.$]*)\1$/.exec(s);
  if (reset) return { reset: reset[2] as string };
  return {};
}
