import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";
import { log } from "../log/logger.js";
import { classify, type LoginFailureCause } from "./outcome.js";

/** One auth attempt, as the auth log records it. Never a token, secret or password. */
export interface AuthAttempt {
  correlationId: string;
  client: string;
  instance: string;
  engine: string;
  dbUser?: string | undefined;
  accessKeyId?: string | undefined;
  principalArn?: string | undefined;
}

export interface AuthLogSink {
  write(line: string): void;
}

export interface AuthLogFileSink extends AuthLogSink {
  /** Closes the file and opens the path again: after a rename-based rotation, lines go to the new file. */
  reopen(): void;
  close(): Promise<void>;
}

export interface AuthLogSinkOptions {
  /** Called for every failed write (the lines in it are lost) and every line dropped while the file is being retried. */
  readonly onWriteError?: (err: Error) => void;
  /** Where the operator hears of write failures; the operational log (error) by default. */
  readonly stderr?: (line: string) => void;
  /** After a failure, lines are dropped for this long before the file is opened again. Default 1 s. */
  readonly retryMs?: number;
  /** At most one stderr line per this interval while writes keep failing. Default 60 s. */
  readonly complainEveryMs?: number;
}

/**
 * Appends JSON lines to a file (created 0600) through one open stream, so a login costs no
 * synchronous disk write; "-" writes to stderr. Lines written in the same turn of the event
 * loop go out in one write (under a storm of logins, one write per turn instead of one per
 * login); they reach the file before the next turn's I/O.
 *
 * A failed write (disk full, file system gone) never takes logins down: it is counted
 * (`onWriteError`, which feeds /metrics), said on stderr (at most once a minute, with the
 * count of failures since), and the file is opened again on a later write, so logging
 * resumes by itself once the cause is fixed. `reopen()` (SIGHUP) follows a rename-based
 * rotation (logrotate without copytruncate).
 */
export function authLogSink(target: string, options: AuthLogSinkOptions = {}): AuthLogFileSink {
  if (target === "-") {
    return {
      write: (line) => process.stderr.write(line),
      reopen: () => undefined,
      close: async () => undefined,
    };
  }
  const retryMs = options.retryMs ?? 1000;
  const complainEveryMs = options.complainEveryMs ?? 60_000;
  const stderr =
    options.stderr ??
    ((line: string) => log().error({ component: "auth-log" }, line.replace(/^iamdb: /, "").trimEnd()));
  let stream: WriteStream | undefined;
  let failedAt = Number.NEGATIVE_INFINITY;
  let failures = 0;
  let complainedAt = Number.NEGATIVE_INFINITY;
  let unreported = 0;

  const failed = (err: Error) => {
    failures++;
    unreported++;
    options.onWriteError?.(err);
    const now = performance.now();
    if (now - complainedAt >= complainEveryMs) {
      complainedAt = now;
      stderr(
        `iamdb: cannot write the auth log ${target}: ${err.message} (${unreported} failed write(s) since the last report, ${failures} in all; those lines are lost). Logins go on; iamdb retries the file every ${retryMs} ms: free disk space or fix the path.\n`,
      );
      unreported = 0;
    }
  };
  const open = (): WriteStream => {
    mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
    const s = createWriteStream(target, { flags: "a", mode: 0o600 });
    s.on("error", (err) => {
      // The stream is destroyed: later lines wait for the retry, a fresh stream.
      if (stream === s) {
        stream = undefined;
        failedAt = performance.now();
      }
      failed(err);
    });
    return s;
  };
  let corked: WriteStream | undefined;
  const flush = () => {
    const s = corked;
    corked = undefined;
    s?.uncork();
  };
  stream = open();
  return {
    write: (line) => {
      if (stream === undefined) {
        if (performance.now() - failedAt < retryMs) {
          failed(new Error("an earlier write failed; this line was dropped until the retry"));
          return;
        }
        try {
          stream = open();
        } catch (err) {
          failedAt = performance.now();
          failed(err as Error);
          return;
        }
      }
      if (corked !== stream) {
        flush();
        corked = stream;
        stream.cork();
        setImmediate(flush);
      }
      stream.write(line);
    },
    reopen: () => {
      flush();
      const old = stream;
      stream = undefined;
      old?.end();
      try {
        stream = open();
      } catch (err) {
        failedAt = performance.now();
        failed(err as Error);
      }
    },
    close: () =>
      new Promise((resolve) => {
        flush();
        const s = stream;
        stream = undefined;
        failedAt = Number.POSITIVE_INFINITY;
        if (!s || s.destroyed) return resolve();
        s.end(resolve);
      }),
  };
}

/** The SIGHUP handler: reopen the auth log (`kill -HUP`, as logrotate's postrotate does). */
export function sighupHandler(sink: Pick<AuthLogFileSink, "reopen">): () => void {
  return () => sink.reopen();
}

/** Installs {@link sighupHandler} for `sink`; returns the function that removes it. */
export function reopenOnSighup(sink: Pick<AuthLogFileSink, "reopen">): () => void {
  const handler = sighupHandler(sink);
  process.on("SIGHUP", handler);
  return () => {
    process.off("SIGHUP", handler);
  };
}

/**
 * Bounds on pre-authentication noise (connections that never named a credential: protocol
 * violations, no TLS, timeouts, hang-ups, throttled floods, unparseable tokens), so junk
 * traffic cannot fill the disk. Per window, each (source address, instance, cause) gets its
 * first `perSource` lines in full (with their correlation ids), at most `maxLines` in all;
 * the rest are counted and reported at the end of the window in one summary line per source
 * and cause (at most `maxSummaries`, then one line for all other sources).
 */
export interface NoiseLimits {
  readonly windowMs: number;
  readonly perSource: number;
  readonly maxLines: number;
  readonly maxSummaries: number;
}

export const DEFAULT_NOISE_LIMITS: NoiseLimits = {
  windowMs: 60_000,
  perSource: 10,
  maxLines: 200,
  maxSummaries: 100,
};

/** Causes that, without an access key named, are noise rather than an authentication attempt to investigate. */
const NOISE_CAUSES: ReadonlySet<LoginFailureCause> = new Set<LoginFailureCause>([
  "protocol-violation",
  "tls-required",
  "login-timeout",
  "client-closed",
  "throttled",
  "malformed",
  "unsupported-algorithm",
]);

export interface AuthLogOptions {
  readonly now?: () => Date;
  /** Pre-authentication noise bounds; false logs every line in full (tests that count lines). */
  readonly noise?: NoiseLimits | false;
  /** Counts lines left out by the noise bounds (for /metrics). */
  readonly onSuppressed?: (n: number) => void;
}

interface NoiseCount {
  readonly source: string;
  readonly instance: string;
  readonly engine: string;
  readonly cause: LoginFailureCause;
  logged: number;
  suppressed: number;
}

/** The address part of "address:port" (IPv6 addresses have colons of their own). */
function sourceOf(client: string): string {
  const at = client.lastIndexOf(":");
  return at < 0 ? client : client.slice(0, at);
}

/**
 * The auth error log: a JSON line for every attempt, with RDS's wording and status/error
 * codes plus the precise cause and a correlation id the client's error message also carries.
 * Pre-authentication noise is bounded per source and cause ({@link NoiseLimits}).
 */
export class AuthLog {
  readonly #now: () => Date;
  readonly #noise: NoiseLimits | false;
  readonly #onSuppressed: ((n: number) => void) | undefined;
  #windowStart: number;
  #windowLines = 0;
  readonly #counts = new Map<string, NoiseCount>();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #failureListeners: Array<(instance: string, cause: LoginFailureCause) => void> = [];

  constructor(
    private readonly sink: AuthLogSink,
    options: AuthLogOptions = {},
  ) {
    this.#now = options.now ?? (() => new Date());
    this.#noise = options.noise ?? DEFAULT_NOISE_LIMITS;
    this.#onSuppressed = options.onSuppressed;
    this.#windowStart = this.#now().getTime();
    if (this.#noise && options.now === undefined) {
      // Summaries come out even when the noise stops; a fake clock drives tick() itself.
      this.#timer = setInterval(() => this.tick(), Math.min(this.#noise.windowMs, 10_000));
      this.#timer.unref();
    }
  }

  /** Called with every failure this log records (the metrics count the causes RDS's counters leave out). */
  onFailure(listener: (instance: string, cause: LoginFailureCause) => void): void {
    this.#failureListeners.push(listener);
  }

  success(a: AuthAttempt, detail: string): void {
    this.#write({ ...this.#base(a), decision: "success", statusCode: 200, detail });
  }

  failure(
    a: AuthAttempt,
    cause: LoginFailureCause,
    detail: string,
    tokenErrorCode?: "InvalidToken" | "ExpiredToken" | "InternalFailure",
  ): void {
    for (const listener of this.#failureListeners) listener(a.instance, cause);
    if (this.#noise && a.accessKeyId === undefined && NOISE_CAUSES.has(cause) && !this.#admitNoise(a, cause))
      return;
    const c = classify(cause, tokenErrorCode);
    const user = a.dbUser ?? "";
    this.#write({
      ...this.#base(a),
      decision: "failure",
      statusCode: c.statusCode,
      errorCode: c.errorCode,
      cause,
      message: `PAM: Authentication failure for user "${user}" because ${c.because}. (Status Code: ${c.statusCode}, Error Code: ${c.errorCode})`,
      detail,
    });
  }

  /**
   * A live session ended by iamdb rather than by its client: revoked after a change to IAM or
   * the instance, terminated by an administrator, or its temporary credentials expired.
   */
  sessionEnded(
    a: AuthAttempt,
    cause: "revoked" | "terminated" | "credentials-expired",
    reason: string,
    detail?: string,
  ): void {
    this.#write({
      ...this.#base(a),
      decision: "terminated",
      cause,
      message: `session ended: ${reason}`,
      ...(detail === undefined ? {} : { detail }),
    });
  }

  /** Ends the noise window when it is over: one summary line per source and cause that had lines left out. */
  tick(): void {
    if (!this.#noise) return;
    const now = this.#now().getTime();
    if (now - this.#windowStart < this.#noise.windowMs) return;
    this.flush();
  }

  /** Writes the current window's summaries now and starts a new window (at close, and from tick). */
  flush(): void {
    if (!this.#noise) return;
    const now = this.#now();
    const windowSeconds = Math.round((now.getTime() - this.#windowStart) / 1000);
    const summaries = [...this.#counts.values()].filter((c) => c.suppressed > 0);
    summaries.sort((x, y) => y.suppressed - x.suppressed);
    const shown = summaries.slice(0, this.#noise.maxSummaries);
    for (const c of shown) {
      this.#write({
        time: now.toISOString(),
        decision: "suppressed",
        client: c.source,
        instance: c.instance,
        engine: c.engine,
        cause: c.cause,
        suppressed: c.suppressed,
        windowSeconds,
        message: `${c.suppressed} more pre-authentication failure(s) (${c.cause}) from ${c.source} in the last ${windowSeconds} s were counted, not logged (after ${c.logged} logged in full)`,
      });
    }
    const rest = summaries.slice(this.#noise.maxSummaries);
    if (rest.length > 0) {
      const suppressed = rest.reduce((n, c) => n + c.suppressed, 0);
      this.#write({
        time: now.toISOString(),
        decision: "suppressed",
        client: "*",
        sources: rest.length,
        suppressed,
        windowSeconds,
        message: `${suppressed} more pre-authentication failure(s) from ${rest.length} other source(s) in the last ${windowSeconds} s were counted, not logged`,
      });
    }
    this.#counts.clear();
    this.#windowLines = 0;
    this.#windowStart = now.getTime();
  }

  /** Writes what is pending and stops the window timer. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.flush();
  }

  /** Whether this noise line goes out in full; otherwise it is counted for the window's summary. */
  #admitNoise(a: AuthAttempt, cause: LoginFailureCause): boolean {
    const limits = this.#noise as NoiseLimits;
    this.tick();
    const source = sourceOf(a.client);
    const key = `${source}\0${a.instance}\0${cause}`;
    let count = this.#counts.get(key);
    if (!count) {
      // The map is bounded too: beyond its size, new sources are only summed up.
      const overflow = this.#counts.size >= limits.maxSummaries * 10;
      const k = overflow ? `*\0${a.instance}\0${cause}` : key;
      count = this.#counts.get(k);
      if (!count) {
        count = {
          source: overflow ? "*" : source,
          instance: a.instance,
          engine: a.engine,
          cause,
          logged: 0,
          suppressed: 0,
        };
        this.#counts.set(k, count);
      }
    }
    if (count.logged < limits.perSource && this.#windowLines < limits.maxLines) {
      count.logged++;
      this.#windowLines++;
      return true;
    }
    count.suppressed++;
    this.#onSuppressed?.(1);
    return false;
  }

  #base(a: AuthAttempt) {
    return {
      time: this.#now().toISOString(),
      correlationId: a.correlationId,
      client: a.client,
      instance: a.instance,
      engine: a.engine,
      dbUser: a.dbUser,
      accessKeyId: a.accessKeyId,
      principalArn: a.principalArn,
    };
  }

  #write(entry: object): void {
    try {
      this.sink.write(`${JSON.stringify(entry)}\n`);
    } catch {
      // A full disk must not take logins down with it; the metrics still count the attempt.
    }
  }
}
