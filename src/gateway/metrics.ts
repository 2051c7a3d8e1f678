import type { FailureKind, LoginFailureCause } from "./outcome.js";

/**
 * Attempts the auth log records that are not IAM authentications, so RDS's metrics leave
 * them out: counted apart, by cause, so /metrics accounts for every line of the auth log.
 */
const ENDED_CAUSES = ["tls-required", "client-closed", "protocol-violation", "login-timeout"] as const;
type EndedCause = (typeof ENDED_CAUSES)[number];
const isEndedCause = (c: LoginFailureCause): c is EndedCause =>
  (ENDED_CAUSES as readonly string[]).includes(c);

const FAILURE_COUNTERS: Record<FailureKind, string> = {
  InvalidToken: "iam_db_auth_connection_failure_invalid_token_total",
  InsufficientPermissions: "iam_db_auth_connection_failure_insufficient_permissions_total",
  Throttling: "iam_db_auth_connection_failure_throttling_total",
  ServerError: "iam_db_auth_connection_failure_server_error_total",
};

const HELP: Record<string, string> = {
  iam_db_auth_connection_requests_total: "IAM authentication attempts (RDS IamDbAuthConnectionRequests).",
  iam_db_auth_connection_success_total: "Successful IAM authentications (IamDbAuthConnectionSuccess).",
  iam_db_auth_connection_failure_total: "Failed IAM authentications (IamDbAuthConnectionFailure).",
  iam_db_auth_connection_failure_invalid_token_total:
    "Failures for an invalid token (IamDbAuthConnectionFailureInvalidToken).",
  iam_db_auth_connection_failure_insufficient_permissions_total:
    "Failures for missing rds-db:connect permission (IamDbAuthConnectionFailureInsufficientPermissions).",
  iam_db_auth_connection_failure_throttling_total:
    "Failures from throttling (IamDbAuthConnectionFailureThrottling).",
  iam_db_auth_connection_failure_server_error_total:
    "Failures from an internal error (IamDbAuthConnectionFailureServerError).",
  iamdb_backend_logins_total: "Sessions that started with a new backend connection and login.",
  iamdb_backend_reused_total:
    "Sessions that started on a pooled backend connection (reset with DISCARD ALL).",
};

/** Handshake latency buckets, in seconds. */
const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Prometheus text-format metrics, labelled by instance: RDS's IAM auth metrics plus sessions and latency. */
export class GatewayMetrics {
  readonly #counters = new Map<string, Map<string, number>>();
  readonly #sessions = new Map<string, number>();
  readonly #histograms = new Map<string, { buckets: number[]; sum: number; count: number }>();
  /** Process-wide counters (no instance label), by name: HELP text and value. */
  readonly #process = new Map<string, { help: string; value: number }>([
    [
      "iamdb_auth_log_write_failures_total",
      {
        help: "Auth log writes that failed (disk full, file gone) and lines dropped until the file was opened again.",
        value: 0,
      },
    ],
    [
      "iamdb_auth_log_suppressed_total",
      {
        help: "Pre-authentication failures counted in a summary line instead of logged one by one (junk-traffic bound).",
        value: 0,
      },
    ],
    [
      "iamdb_accept_errors_total",
      {
        help: "Connections a listener could not accept (EMFILE/ENFILE: out of file descriptors).",
        value: 0,
      },
    ],
  ]);
  /** iamdb_login_ended_total by instance, then by cause. */
  readonly #ended = new Map<string, Map<EndedCause, number>>();

  constructor(instances: readonly string[]) {
    for (const name of [...Object.keys(HELP)]) {
      this.#counters.set(name, new Map(instances.map((i) => [i, 0])));
    }
    for (const i of instances) {
      this.#sessions.set(i, 0);
      this.#histograms.set(i, { buckets: BUCKETS.map(() => 0), sum: 0, count: 0 });
      this.#ended.set(i, new Map(ENDED_CAUSES.map((c) => [c, 0])));
    }
  }

  #inc(name: string, instance: string): void {
    const m = this.#counters.get(name);
    if (m) m.set(instance, (m.get(instance) ?? 0) + 1);
  }

  /** A session started on a new backend login (`reused` false) or a pooled backend connection. */
  backendSession(instance: string, reused: boolean): void {
    this.#inc(reused ? "iamdb_backend_reused_total" : "iamdb_backend_logins_total", instance);
  }

  #bump(name: string, n = 1): void {
    const c = this.#process.get(name);
    if (c) c.value += n;
  }

  /** A write to the auth log failed, or a line was dropped while the file is being retried. */
  authLogWriteFailed(): void {
    this.#bump("iamdb_auth_log_write_failures_total");
  }

  /** Pre-authentication failures left out of the auth log (summarised instead). */
  authLogSuppressed(n: number): void {
    this.#bump("iamdb_auth_log_suppressed_total", n);
  }

  /** A listener failed to accept a connection (out of file descriptors). */
  acceptFailed(): void {
    this.#bump("iamdb_accept_errors_total");
  }

  /** A process-wide counter's value. */
  processCounter(name: string): number {
    return this.#process.get(name)?.value ?? 0;
  }

  request(instance: string): void {
    this.#inc("iam_db_auth_connection_requests_total", instance);
  }

  success(instance: string, handshakeSeconds: number): void {
    this.#inc("iam_db_auth_connection_success_total", instance);
    const h = this.#histograms.get(instance);
    if (!h) return;
    h.count++;
    h.sum += handshakeSeconds;
    for (const [i, b] of BUCKETS.entries()) {
      if (handshakeSeconds <= b) h.buckets[i] = (h.buckets[i] ?? 0) + 1;
    }
  }

  failure(instance: string, kind: FailureKind): void {
    this.#inc("iam_db_auth_connection_failure_total", instance);
    this.#inc(FAILURE_COUNTERS[kind], instance);
  }

  /**
   * An auth-log failure: counted here when it is not an IAM authentication (no TLS, the
   * client left, a protocol violation, the login timeout); the RDS-named counters take the rest.
   */
  loginEnded(instance: string, cause: LoginFailureCause): void {
    if (!isEndedCause(cause)) return;
    const m = this.#ended.get(instance);
    if (m) m.set(cause, (m.get(cause) ?? 0) + 1);
  }

  /** iamdb_login_ended_total for one instance and cause. */
  ended(instance: string, cause: EndedCause): number {
    return this.#ended.get(instance)?.get(cause) ?? 0;
  }

  sessionOpened(instance: string): void {
    this.#sessions.set(instance, (this.#sessions.get(instance) ?? 0) + 1);
  }

  sessionClosed(instance: string): void {
    this.#sessions.set(instance, Math.max(0, (this.#sessions.get(instance) ?? 0) - 1));
  }

  activeSessions(instance?: string): number {
    if (instance !== undefined) return this.#sessions.get(instance) ?? 0;
    let n = 0;
    for (const v of this.#sessions.values()) n += v;
    return n;
  }

  counter(name: string, instance: string): number {
    return this.#counters.get(name)?.get(instance) ?? 0;
  }

  /** @see https://prometheus.io/docs/instrumenting/exposition_formats/ */
  render(): string {
    const lines: string[] = [];
    const label = (i: string) => `instance="${i.replace(/["\\\n]/g, "_")}"`;
    for (const [name, byInstance] of this.#counters) {
      lines.push(`# HELP ${name} ${HELP[name]}`, `# TYPE ${name} counter`);
      for (const [i, v] of byInstance) lines.push(`${name}{${label(i)}} ${v}`);
    }
    lines.push(
      "# HELP iamdb_login_ended_total Connections the auth log records that ended without an IAM authentication decision, by cause (tls-required, client-closed, protocol-violation, login-timeout); the iam_db_auth_* counters leave them out.",
      "# TYPE iamdb_login_ended_total counter",
    );
    for (const [i, byCause] of this.#ended) {
      for (const [c, v] of byCause) lines.push(`iamdb_login_ended_total{${label(i)},cause="${c}"} ${v}`);
    }
    lines.push(
      "# HELP iamdb_active_sessions Relayed sessions open now.",
      "# TYPE iamdb_active_sessions gauge",
    );
    for (const [i, v] of this.#sessions) lines.push(`iamdb_active_sessions{${label(i)}} ${v}`);
    lines.push(
      "# HELP iamdb_handshake_seconds Time from accept to an authenticated, relayed session.",
      "# TYPE iamdb_handshake_seconds histogram",
    );
    for (const [i, h] of this.#histograms) {
      for (const [n, b] of BUCKETS.entries()) {
        lines.push(`iamdb_handshake_seconds_bucket{${label(i)},le="${b}"} ${h.buckets[n] ?? 0}`);
      }
      lines.push(`iamdb_handshake_seconds_bucket{${label(i)},le="+Inf"} ${h.count}`);
      lines.push(
        `iamdb_handshake_seconds_sum{${label(i)}} ${h.sum}`,
        `iamdb_handshake_seconds_count{${label(i)}} ${h.count}`,
      );
    }
    for (const [name, c] of this.#process) {
      lines.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`, `${name} ${c.value}`);
    }
    return `${lines.join("\n")}\n`;
  }
}
