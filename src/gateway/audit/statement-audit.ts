import { TextDecoder } from "node:util";
import type { StatementAuditConfig } from "../../config/types.js";
import { log } from "../../log/logger.js";
import type { MysqlStatementText } from "../../wire/mysql/index.js";
import { Command } from "../../wire/mysql/index.js";
import type { StatementText } from "../../wire/postgres/index.js";
import type { AuthAttempt } from "../auth-log.js";
import { type AuditDropReason, AuditFile } from "./audit-file.js";

/** What a line says the statement was: a simple Query or a Parse (PostgreSQL), a COM_QUERY or COM_STMT_PREPARE (MySQL). */
export type StatementKind = "query" | "parse" | "prepare";

/** Who runs the session's statements, as each line records it. */
export interface AuditIdentity {
  readonly sessionId: string;
  readonly correlationId: string;
  readonly principalArn: string | undefined;
  readonly accessKeyId: string | undefined;
  readonly dbUser: string | undefined;
  /** The database named at login (a later USE / COM_INIT_DB is not followed). */
  readonly database: string | undefined;
}

/**
 * A session's identity from its login attempt. The session id is the login's correlation id
 * (the auth log's), so an audit line leads to the login's auth-log line.
 */
export function auditIdentity(attempt: AuthAttempt, database: string | undefined): AuditIdentity {
  return {
    sessionId: attempt.correlationId,
    correlationId: attempt.correlationId,
    principalArn: attempt.principalArn,
    accessKeyId: attempt.accessKeyId,
    dbUser: attempt.dbUser,
    database,
  };
}

/** Where the auditor's counts go (GatewayMetrics in the gateway). */
export interface AuditCounters {
  auditWritten(instance: string, lines: number): void;
  auditDropped(instance: string, reason: AuditDropReason, lines: number): void;
}

export interface StatementAuditorOptions {
  readonly instance: string;
  readonly engine: string;
  readonly config: StatementAuditConfig;
  readonly counters?: AuditCounters;
  /** At most one warning in the operational log per this interval while lines are dropped. Default 60 s. */
  readonly warnEveryMs?: number;
  /** Wall clock for the lines' `time` (ms since the epoch). */
  readonly clock?: () => number;
  /** Monotonic milliseconds, for the warning's interval and the file's retry. */
  readonly now?: () => number;
}

/**
 * The statement audit of one instance (`audit.statements` in its config): one JSON line per
 * statement a client sends — PostgreSQL simple Query and Parse, MySQL COM_QUERY and
 * COM_STMT_PREPARE — with the session's identity (session and correlation id, principal ARN,
 * access key id, DB user, database), into its own 0600 file ({@link AuditFile}: bounded queue,
 * asynchronous batched appends, size-based rotation). Bind values (Bind, COM_STMT_EXECUTE)
 * are never read.
 *
 * The relay never waits for it: a line that finds the queue full is dropped, counted in
 * `iamdb_audit_statements_dropped_total{instance,reason}` and said in the operational log
 * (a warning at most once per `warnEveryMs`, with the count since the last one).
 */
export class StatementAuditor {
  readonly instance: string;
  readonly engine: string;
  readonly maxTextBytes: number;
  readonly #file: AuditFile;
  readonly #clock: () => number;
  readonly #now: () => number;
  readonly #warnEveryMs: number;
  #warnedAt = Number.NEGATIVE_INFINITY;
  #unreported = 0;
  #unreportedWhy = new Set<AuditDropReason>();
  #lastError: Error | undefined;
  #dropped = 0;
  #warnTimer: NodeJS.Timeout | undefined;
  #timeMs = Number.NaN;
  #timeText = "";

  constructor(options: StatementAuditorOptions) {
    const { instance, engine, config, counters } = options;
    this.instance = instance;
    this.engine = engine;
    this.maxTextBytes = config.maxTextBytes;
    this.#clock = options.clock ?? Date.now;
    this.#now = options.now ?? (() => performance.now());
    this.#warnEveryMs = options.warnEveryMs ?? 60_000;
    this.#file = new AuditFile({
      file: config.file,
      maxBytes: config.maxBytes,
      maxFiles: config.maxFiles,
      queueLines: config.queueLines,
      now: this.#now,
      ...(counters ? { onWritten: (n: number) => counters.auditWritten(instance, n) } : {}),
      onDropped: (n, reason, err) => {
        if (n > 0) counters?.auditDropped(instance, reason, n);
        this.#droppedLines(n, reason, err);
      },
    });
  }

  /** The file the lines go to. */
  get file(): string {
    return this.#file.file;
  }

  /** A session's sink: what the relay calls for each statement. */
  session(identity: AuditIdentity, options: { mysqlCharset?: number } = {}): SessionAudit {
    return new SessionAudit(this, identity, mysqlLabel(options.mysqlCharset));
  }

  /** Queues a finished line (JSON + newline). */
  append(line: string): void {
    this.#file.append(line);
  }

  /** The line's time, as the auth log writes it (formatted once per millisecond). */
  time(): string {
    const ms = this.#clock();
    if (ms !== this.#timeMs) {
      this.#timeMs = ms;
      this.#timeText = new Date(ms).toISOString();
    }
    return this.#timeText;
  }

  #droppedLines(n: number, reason: AuditDropReason, err: Error | undefined): void {
    this.#dropped += n;
    this.#unreported += n;
    this.#unreportedWhy.add(reason);
    if (err) this.#lastError = err;
    if (this.#now() - this.#warnedAt >= this.#warnEveryMs) this.#warn();
    else
      this.#warnTimer ??= setTimeout(
        () => {
          this.#warnTimer = undefined;
          if (this.#unreported > 0) this.#warn();
        },
        Math.max(0, this.#warnedAt + this.#warnEveryMs - this.#now()),
      ).unref();
  }

  #warn(): void {
    this.#warnedAt = this.#now();
    const why = [...this.#unreportedWhy];
    const err = this.#lastError;
    const fix = why.includes("write-error")
      ? `the file could not be written (${err?.message ?? "see earlier errors"}): free disk space or fix the path; iamdb opens it again by itself`
      : "the queue was full: the disk is slower than the statements arrive; raise the instance's audit.queueLines or put the file on a faster disk";
    log().warn(
      {
        component: "statement-audit",
        instance: this.instance,
        file: this.#file.file,
        dropped: this.#unreported,
        droppedTotal: this.#dropped,
        reasons: why,
      },
      `statement audit lines dropped: ${this.#unreported} since the last report (${this.#dropped} in all, iamdb_audit_statements_dropped_total); ${fix}`,
    );
    this.#unreported = 0;
    this.#unreportedWhy = new Set();
    this.#lastError = undefined;
  }

  /** Resolves once every line queued so far is written (or dropped). */
  flush(): Promise<void> {
    return this.#file.flush();
  }

  /** Writes what is queued and closes the file (gateway stop); any drop not yet reported is reported now. */
  async close(): Promise<void> {
    await this.#file.close();
    if (this.#warnTimer) clearTimeout(this.#warnTimer);
    this.#warnTimer = undefined;
    if (this.#unreported > 0) this.#warn();
  }
}

/**
 * One session's audit sink: the identity's JSON fields are serialized once, at session start,
 * so a statement costs its text's decoding and one JSON string.
 */
export class SessionAudit {
  /** `"instance":…,"engine":…,…,"database":…` */
  readonly #fields: string;
  #pgEncoding: Buffer | undefined;
  #pgDecoder: TextDecoder = decoder("utf-8");
  readonly #mysqlDecoder: TextDecoder;

  constructor(
    private readonly auditor: StatementAuditor,
    identity: AuditIdentity,
    mysqlCharset: string,
  ) {
    this.#fields = JSON.stringify({
      instance: auditor.instance,
      engine: auditor.engine,
      sessionId: identity.sessionId,
      correlationId: identity.correlationId,
      principalArn: identity.principalArn ?? null,
      accessKeyId: identity.accessKeyId ?? null,
      dbUser: identity.dbUser ?? null,
      database: identity.database ?? null,
    }).slice(1, -1);
    this.#mysqlDecoder = decoder(mysqlCharset);
  }

  /** The longest text written whole (the readers' cap). */
  get maxTextBytes(): number {
    return this.auditor.maxTextBytes;
  }

  /**
   * A PostgreSQL Query or Parse. `clientEncoding` is the session's client_encoding
   * ParameterStatus message as the relay keeps it: texts are decoded in that encoding.
   */
  postgres(s: StatementText, clientEncoding: Buffer | undefined): void {
    if (clientEncoding !== this.#pgEncoding) {
      this.#pgEncoding = clientEncoding;
      this.#pgDecoder = decoder(postgresLabel(clientEncoding));
    }
    this.#line(
      s.kind,
      s.name === undefined ? undefined : this.#pgDecoder.decode(s.name),
      decodeCapped(this.#pgDecoder, s.text, s.truncated),
      s.truncated,
      s.textBytes,
    );
  }

  /** A MySQL COM_QUERY or COM_STMT_PREPARE. */
  mysql(s: MysqlStatementText): void {
    this.#line(
      s.command === Command.STMT_PREPARE ? "prepare" : "query",
      undefined,
      decodeCapped(this.#mysqlDecoder, s.text, s.truncated),
      s.truncated,
      s.textBytes,
    );
  }

  #line(
    kind: StatementKind,
    name: string | undefined,
    text: string,
    truncated: boolean,
    textBytes: number | undefined,
  ): void {
    let line = `{"time":"${this.auditor.time()}","kind":"${kind}",${this.#fields}`;
    if (name !== undefined) line += `,"statement":${JSON.stringify(name)}`;
    line += `,"text":${JSON.stringify(text)}`;
    if (truncated) {
      line += ',"truncated":true';
      if (textBytes !== undefined) line += `,"textBytes":${textBytes}`;
    }
    this.auditor.append(`${line}}\n`);
  }
}

const decoders = new Map<string, TextDecoder>();

/** A shared decoder for a WHATWG encoding label (UTF-8 for a label this Node does not know). */
function decoder(label: string): TextDecoder {
  let d = decoders.get(label);
  if (d === undefined) {
    try {
      d = new TextDecoder(label);
    } catch {
      d = decoders.get("utf-8") ?? new TextDecoder("utf-8");
    }
    decoders.set(label, d);
  }
  return d;
}

/** A cut text: a UTF-8 sequence cut at the end is left out rather than shown as U+FFFD. */
function decodeCapped(d: TextDecoder, bytes: Buffer, truncated: boolean): string {
  if (!truncated || d.encoding !== "utf-8" || bytes.length === 0) return d.decode(bytes);
  let end = bytes.length;
  let k = end - 1;
  // Back over continuation bytes to the lead byte; drop the sequence if it is incomplete.
  while (k > 0 && end - k < 4 && ((bytes[k] as number) & 0xc0) === 0x80) k--;
  const lead = bytes[k] as number;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (end - k < need) end = k;
  return d.decode(bytes.subarray(0, end));
}

/**
 * PostgreSQL's client_encoding names as WHATWG labels; the value is read from the session's
 * ParameterStatus ('S', length, "client_encoding\0", value, "\0"). SQL_ASCII (bytes undeclared)
 * and names without a label are read as UTF-8.
 * @see https://www.postgresql.org/docs/current/multibyte.html#MULTIBYTE-CHARSET-SUPPORTED
 */
function postgresLabel(parameterStatus: Buffer | undefined): string {
  if (parameterStatus === undefined) return "utf-8";
  const start = 5 + "client_encoding".length + 1;
  const end = parameterStatus.indexOf(0, start);
  const name = parameterStatus
    .toString("latin1", start, end < 0 ? parameterStatus.length : end)
    .toUpperCase();
  const latin = /^LATIN(\d+)$/.exec(name);
  if (latin) {
    const part = [0, 1, 2, 3, 4, 9, 10, 13, 14, 15, 16][Number(latin[1])];
    return part === undefined ? "utf-8" : `iso-8859-${part}`;
  }
  const win = /^WIN(\d+)$/.exec(name);
  if (win) return win[1] === "866" ? "ibm866" : `windows-${win[1]}`;
  const iso = /^ISO_8859_(\d+)$/.exec(name);
  if (iso) return `iso-8859-${iso[1]}`;
  return (
    (
      {
        KOI8R: "koi8-r",
        KOI8U: "koi8-u",
        EUC_JP: "euc-jp",
        EUC_JIS_2004: "euc-jp",
        SJIS: "shift_jis",
        SHIFT_JIS_2004: "shift_jis",
        EUC_KR: "euc-kr",
        UHC: "euc-kr",
        GBK: "gbk",
        EUC_CN: "gbk",
        GB18030: "gb18030",
        BIG5: "big5",
      } as Record<string, string>
    )[name] ?? "utf-8"
  );
}

/** MySQL's latin1 collations (latin1 is cp1252 in MySQL); every other character set is read as UTF-8. */
const MYSQL_LATIN1 = new Set([5, 8, 15, 31, 47, 48, 49, 94]);

function mysqlLabel(charset: number | undefined): string {
  return charset !== undefined && MYSQL_LATIN1.has(charset) ? "windows-1252" : "utf-8";
}
