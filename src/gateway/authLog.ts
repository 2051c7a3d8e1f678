import { createWriteStream, mkdirSync } from "node:fs";
import { dirname } from "node:path";
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

/**
 * Appends JSON lines to a file (created 0600) through one open stream, so a login costs no
 * synchronous disk write; "-" writes to stderr. Lines written in the same turn of the event
 * loop go out in one write (under a storm of logins, one write per turn instead of one per
 * login); they reach the file before the next turn's I/O.
 */
export function authLogSink(target: string): AuthLogSink & { close(): Promise<void> } {
  if (target === "-") return { write: (line) => process.stderr.write(line), close: async () => undefined };
  mkdirSync(dirname(target), { recursive: true, mode: 0o700 });
  const stream = createWriteStream(target, { flags: "a", mode: 0o600 });
  // A full disk must not take logins down with it; the metrics still count every attempt.
  stream.on("error", () => undefined);
  let corked = false;
  const flush = () => {
    corked = false;
    stream.uncork();
  };
  return {
    write: (line) => {
      if (!corked) {
        corked = true;
        stream.cork();
        setImmediate(flush);
      }
      stream.write(line);
    },
    close: () =>
      new Promise((resolve) => {
        if (corked) flush();
        stream.end(resolve);
      }),
  };
}

/**
 * The auth error log: a JSON line for every attempt, with RDS's wording and status/error
 * codes plus the precise cause and a correlation id the client's error message also carries.
 */
export class AuthLog {
  readonly #failureListeners: Array<(instance: string, cause: LoginFailureCause) => void> = [];

  constructor(
    private readonly sink: AuthLogSink,
    private readonly now: () => Date = () => new Date(),
  ) {}

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

  #base(a: AuthAttempt) {
    return {
      time: this.now().toISOString(),
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
