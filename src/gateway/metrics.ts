import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { RDS_ERROR_CODE } from "../token/causes.js";
import type { AuditDropReason } from "./audit/audit-file.js";
import {
  type FailureKind,
  isAuthenticationCause,
  type LoginFailureCause,
  NOT_AUTHENTICATION_CAUSES,
  type NotAuthenticationCause,
} from "./outcome.js";

/**
 * Attempts the auth log records that are not IAM authentications, so RDS's metrics leave
 * them out: counted apart, by cause, so /metrics accounts for every line of the auth log.
 */
const ENDED_CAUSES = NOT_AUTHENTICATION_CAUSES;
type EndedCause = NotAuthenticationCause;
const isEndedCause = (c: LoginFailureCause): c is EndedCause => !isAuthenticationCause(c);

/** The gateway's own causes (beyond the token's); a Record so that a new cause cannot be left out. */
const GATEWAY_CAUSES: Record<Exclude<LoginFailureCause, keyof typeof RDS_ERROR_CODE>, true> = {
  "iam-disabled": true,
  "db-user-not-iam-enabled": true,
  "db-user-name-too-long": true,
  "not-authorized": true,
  throttled: true,
  "backend-unavailable": true,
  "backend-login-failed": true,
  "internal-error": true,
  "tls-required": true,
  "protocol-violation": true,
  "login-timeout": true,
  "client-closed": true,
};
/** Every cause the auth log can write, each a zero-filled label value of iamdb_login_failures_total. */
export const LOGIN_FAILURE_CAUSES = [
  ...Object.keys(RDS_ERROR_CODE),
  ...Object.keys(GATEWAY_CAUSES),
] as readonly LoginFailureCause[];

/** RDS's IamDbAuthConnection* metrics, by the names /metrics has always used. */
const RDS_COUNTERS = {
  requests: [
    "iam_db_auth_connection_requests_total",
    "IAM authentication attempts (RDS IamDbAuthConnectionRequests).",
  ],
  success: [
    "iam_db_auth_connection_success_total",
    "Successful IAM authentications (IamDbAuthConnectionSuccess).",
  ],
  failure: [
    "iam_db_auth_connection_failure_total",
    "Failed IAM authentications (IamDbAuthConnectionFailure).",
  ],
  InvalidToken: [
    "iam_db_auth_connection_failure_invalid_token_total",
    "Failures for an invalid token (IamDbAuthConnectionFailureInvalidToken).",
  ],
  InsufficientPermissions: [
    "iam_db_auth_connection_failure_insufficient_permissions_total",
    "Failures for missing rds-db:connect permission (IamDbAuthConnectionFailureInsufficientPermissions).",
  ],
  Throttling: [
    "iam_db_auth_connection_failure_throttling_total",
    "Failures from throttling (IamDbAuthConnectionFailureThrottling).",
  ],
  ServerError: [
    "iam_db_auth_connection_failure_server_error_total",
    "Failures from an internal error (IamDbAuthConnectionFailureServerError).",
  ],
  backendLogins: [
    "iamdb_backend_logins_total",
    "Sessions that started with a new backend connection and login.",
  ],
  backendReused: [
    "iamdb_backend_reused_total",
    "Sessions that started on a pooled backend connection (reset with DISCARD ALL).",
  ],
} as const satisfies Record<string, readonly [string, string]>;
type CounterKey = keyof typeof RDS_COUNTERS;

/** Process-wide counters (no instance label), by name: their HELP text. */
const PROCESS_COUNTERS = {
  iamdb_auth_log_write_failures_total:
    "Auth log writes that failed (disk full, file gone) and lines dropped until the file was opened again.",
  iamdb_auth_log_suppressed_total:
    "Pre-authentication failures counted in a summary line instead of logged one by one (junk-traffic bound).",
  iamdb_accept_errors_total:
    "Connections a listener could not accept (EMFILE/ENFILE: out of file descriptors).",
} as const;
type ProcessCounter = keyof typeof PROCESS_COUNTERS;

/** Why a statement-audit line was dropped: each a zero-filled label value. */
const AUDIT_DROP_REASONS: readonly AuditDropReason[] = ["queue-full", "write-error"];

/** Handshake latency buckets, in seconds (unchanged since the hand-written exposition). */
const HANDSHAKE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Login latency buckets, 1 ms to 10 s in 1-2-5 steps. */
export const LOGIN_BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

/** An instance, named for labels: a bare identifier leaves the engine unknown until a login says it. */
export type MetricsInstance = string | { readonly identifier: string; readonly engine: string };

/** What a transaction pool's gauges read. */
export interface TransactionPoolStats {
  readonly inUse: number;
  readonly idle: number;
  readonly waiting: number;
  readonly pinned: number;
}

/** One instance's child handles, resolved once so that a login touches no label maps of ours. */
interface InstanceMetrics {
  readonly counters: Record<CounterKey, Counter.Internal>;
  readonly failures: ReadonlyMap<LoginFailureCause, Counter.Internal>;
  readonly ended: ReadonlyMap<EndedCause, Counter.Internal>;
  readonly handshake: Histogram.Internal<"instance">;
  /** By engine (one per instance in practice). */
  readonly login: Map<string, Histogram.Internal<"instance" | "engine">>;
  sessions: number;
}

export interface GatewayMetricsOptions {
  /**
   * Process and event-loop metrics (prom-client's default set: CPU, memory, descriptors, GC,
   * `nodejs_eventloop_lag_*`). Default true; tests that make many registries may leave them out.
   */
  readonly defaultMetrics?: boolean;
}

/**
 * /metrics, on a prom-client registry of its own (never the global one, so several gateways
 * or tests in one process do not collide): RDS's IAM auth metrics by instance, failures by
 * cause, sessions, handshake and login latency by instance (and engine), the auth log's and
 * listeners' process-wide counters, and prom-client's process and event-loop metrics.
 *
 * Every label value is known at start and zero-filled, and each instance's child handles are
 * resolved once (`labels(...)` at construction), so a login does no label work of ours.
 * @see https://prometheus.io/docs/instrumenting/exposition_formats/
 */
export class GatewayMetrics {
  readonly registry = new Registry();
  readonly #byInstance = new Map<string, InstanceMetrics>();
  readonly #counters: Record<CounterKey, Counter<"instance">>;
  readonly #failures: Counter<"instance" | "cause">;
  readonly #ended: Counter<"instance" | "cause">;
  readonly #terminated: Counter<"instance" | "cause">;
  readonly #handshake: Histogram<"instance">;
  readonly #login: Histogram<"instance" | "engine">;
  readonly #process: Record<ProcessCounter, Counter>;
  readonly #auditWritten: Counter<"instance">;
  readonly #auditDropped: Counter<"instance" | "reason">;
  readonly #pinned: Counter<"instance" | "reason">;
  readonly #borrowTimeouts: Counter<"instance">;
  readonly #borrowWait: Histogram<"instance">;
  /** Transaction pools by instance: what their gauges read at each scrape. */
  readonly #pools = new Map<string, () => TransactionPoolStats>();
  /** Per instance with the statement audit on: written, then dropped by reason. */
  readonly #audit = new Map<string, { written: Counter.Internal; dropped: Map<string, Counter.Internal> }>();

  constructor(instances: readonly MetricsInstance[], options: GatewayMetricsOptions = {}) {
    const registers = [this.registry];
    this.#counters = Object.fromEntries(
      Object.entries(RDS_COUNTERS).map(([key, [name, help]]) => [
        key,
        new Counter({ name, help, labelNames: ["instance"], registers }),
      ]),
    ) as Record<CounterKey, Counter<"instance">>;
    this.#failures = new Counter({
      name: "iamdb_login_failures_total",
      help: "Every failure the auth log records, by instance and cause (the auth log's cause field, before any noise bound); iamdb_login_ended_total and the iam_db_auth_* counters split the same attempts their own way.",
      labelNames: ["instance", "cause"],
      registers,
    });
    this.#ended = new Counter({
      name: "iamdb_login_ended_total",
      help: "Connections the auth log records that ended without an IAM authentication decision, by cause (tls-required, client-closed, protocol-violation, login-timeout); the iam_db_auth_* counters leave them out.",
      labelNames: ["instance", "cause"],
      registers,
    });
    this.#terminated = new Counter({
      name: "iamdb_sessions_terminated_total",
      help: "Live sessions iamdb ended, by instance and cause: revoked (a change to IAM, the instance or its DB accounts denies them now), terminated (iamdb sessions terminate), credentials-expired (gateway.sessionsFollowCredentialExpiry).",
      labelNames: ["instance", "cause"],
      registers,
    });
    for (const i of instances) {
      const id = typeof i === "string" ? i : i.identifier;
      for (const cause of ["revoked", "terminated", "credentials-expired"])
        this.#terminated.labels(id, cause);
    }
    new Gauge({
      name: "iamdb_active_sessions",
      help: "Relayed sessions open now.",
      labelNames: ["instance"],
      registers,
      collect: (() => {
        const byInstance = this.#byInstance;
        return function (this: Gauge<"instance">) {
          for (const [instance, m] of byInstance) this.set({ instance }, m.sessions);
        };
      })(),
    });
    this.#handshake = new Histogram({
      name: "iamdb_handshake_seconds",
      help: "Time from accept to an authenticated, relayed session.",
      labelNames: ["instance"],
      buckets: HANDSHAKE_BUCKETS,
      registers,
    });
    this.#login = new Histogram({
      name: "iamdb_login_duration_seconds",
      help: "The gateway's part of a successful login, by instance and engine: from the client's token to a relayed session (token check, authorization, backend login or pooled connection), without the client's TLS handshake and round trips.",
      labelNames: ["instance", "engine"],
      buckets: LOGIN_BUCKETS,
      registers,
    });
    this.#process = Object.fromEntries(
      Object.entries(PROCESS_COUNTERS).map(([name, help]) => [name, new Counter({ name, help, registers })]),
    ) as Record<ProcessCounter, Counter>;
    for (const c of Object.values(this.#process)) c.inc(0);
    this.#auditWritten = new Counter({
      name: "iamdb_audit_statements_written_total",
      help: "Statement-audit lines written to the instance's audit file (instances with audit.statements on).",
      labelNames: ["instance"],
      registers,
    });
    this.#auditDropped = new Counter({
      name: "iamdb_audit_statements_dropped_total",
      help: "Statements not audited, by reason: queue-full (more than audit.queueLines lines waiting for the disk) or write-error (the file could not be written); the operational log says so too.",
      labelNames: ["instance", "reason"],
      registers,
    });
    this.#pinned = new Counter({
      name: "iamdb_sessions_pinned_total",
      help: "Transaction-mode sessions pinned to their backend connection for the rest of the session, by instance and reason (the first reason found; each session counted once).",
      labelNames: ["instance", "reason"],
      registers,
    });
    this.#borrowTimeouts = new Counter({
      name: "iamdb_pool_borrow_timeouts_total",
      help: "Transaction-mode clients refused because no backend connection came free within pool.borrowTimeoutMs.",
      labelNames: ["instance"],
      registers,
    });
    this.#borrowWait = new Histogram({
      name: "iamdb_pool_borrow_wait_seconds",
      help: "Time a transaction-mode client waited for a backend connection (0 when one was idle).",
      labelNames: ["instance"],
      buckets: LOGIN_BUCKETS,
      registers,
    });
    const pools = this.#pools;
    const poolGauge = (name: string, help: string, read: (s: TransactionPoolStats) => number) =>
      new Gauge({
        name,
        help,
        labelNames: ["instance"],
        registers,
        collect() {
          for (const [instance, stats] of pools) this.set({ instance }, read(stats()));
        },
      });
    poolGauge(
      "iamdb_pool_backends_in_use",
      "Transaction-mode backend connections serving a client now (or logging in).",
      (s) => s.inUse,
    );
    poolGauge(
      "iamdb_pool_backends_idle",
      "Transaction-mode backend connections idle in the pool.",
      (s) => s.idle,
    );
    poolGauge(
      "iamdb_pool_clients_waiting",
      "Transaction-mode clients waiting for a backend connection.",
      (s) => s.waiting,
    );
    poolGauge(
      "iamdb_sessions_pinned",
      "Transaction-mode sessions pinned to their backend connection now (RDS's DatabaseConnectionsCurrentlySessionPinned).",
      (s) => s.pinned,
    );
    for (const i of instances) {
      if (typeof i === "string") this.#instance(i);
      else this.#loginHistogram(this.#instance(i.identifier), i.identifier, i.engine);
    }
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  #instance(instance: string): InstanceMetrics {
    let m = this.#byInstance.get(instance);
    if (m) return m;
    const counters = Object.fromEntries(
      Object.entries(this.#counters).map(([key, c]) => {
        const child = c.labels(instance);
        child.inc(0);
        return [key, child];
      }),
    ) as Record<CounterKey, Counter.Internal>;
    const failures = new Map(
      LOGIN_FAILURE_CAUSES.map((cause) => {
        const child = this.#failures.labels(instance, cause);
        child.inc(0);
        return [cause, child];
      }),
    );
    const ended = new Map(
      ENDED_CAUSES.map((cause) => {
        const child = this.#ended.labels(instance, cause);
        child.inc(0);
        return [cause, child];
      }),
    );
    this.#handshake.zero({ instance });
    m = {
      counters,
      failures,
      ended,
      handshake: this.#handshake.labels(instance),
      login: new Map(),
      sessions: 0,
    };
    this.#byInstance.set(instance, m);
    return m;
  }

  #loginHistogram(m: InstanceMetrics, instance: string, engine: string) {
    let h = m.login.get(engine);
    if (!h) {
      this.#login.zero({ instance, engine });
      h = this.#login.labels(instance, engine);
      m.login.set(engine, h);
    }
    return h;
  }

  /** A transaction pool for `instance`: its gauges read `stats` at each scrape. */
  transactionPool(instance: string, stats: () => TransactionPoolStats): void {
    this.#pools.set(instance, stats);
    this.#borrowTimeouts.labels(instance).inc(0);
  }

  /** A transaction-mode session was pinned to its backend for `reason`. */
  sessionPinned(instance: string, reason: string): void {
    this.#pinned.labels(instance, reason).inc();
  }

  /** A client got a backend after `seconds`, or (`timedOut`) was refused. */
  borrowed(instance: string, seconds: number, timedOut: boolean): void {
    if (timedOut) this.#borrowTimeouts.labels(instance).inc();
    else this.#borrowWait.labels(instance).observe(seconds);
  }

  /** A session started on a new backend login (`reused` false) or a pooled backend connection. */
  backendSession(instance: string, reused: boolean): void {
    const c = this.#instance(instance).counters;
    (reused ? c.backendReused : c.backendLogins).inc();
  }

  /** The statement audit is on for `instance`: its counters are zero-filled now. */
  auditEnabled(instance: string): void {
    this.#auditChildren(instance);
  }

  #auditChildren(instance: string) {
    let a = this.#audit.get(instance);
    if (!a) {
      const written = this.#auditWritten.labels(instance);
      written.inc(0);
      const dropped = new Map(
        AUDIT_DROP_REASONS.map((reason) => {
          const child = this.#auditDropped.labels(instance, reason);
          child.inc(0);
          return [reason as string, child];
        }),
      );
      a = { written, dropped };
      this.#audit.set(instance, a);
    }
    return a;
  }

  /** Statement-audit lines that reached the file. */
  auditWritten(instance: string, lines: number): void {
    this.#auditChildren(instance).written.inc(lines);
  }

  /** Statement-audit lines dropped. */
  auditDropped(instance: string, reason: AuditDropReason, lines: number): void {
    this.#auditChildren(instance).dropped.get(reason)?.inc(lines);
  }

  /** A write to the auth log failed, or a line was dropped while the file is being retried. */
  authLogWriteFailed(): void {
    this.#process.iamdb_auth_log_write_failures_total.inc();
  }

  /** Pre-authentication failures left out of the auth log (summarised instead). */
  authLogSuppressed(n: number): void {
    this.#process.iamdb_auth_log_suppressed_total.inc(n);
  }

  /** A listener failed to accept a connection (out of file descriptors). */
  acceptFailed(): void {
    this.#process.iamdb_accept_errors_total.inc();
  }

  request(instance: string): void {
    this.#instance(instance).counters.requests.inc();
  }

  /**
   * An authenticated session: `handshakeSeconds` from accept, `loginSeconds` from the token
   * (see iamdb_login_duration_seconds), for an instance of `engine`.
   */
  success(instance: string, handshakeSeconds: number, loginSeconds?: number, engine?: string): void {
    const m = this.#instance(instance);
    m.counters.success.inc();
    m.handshake.observe(handshakeSeconds);
    if (loginSeconds !== undefined && engine !== undefined) {
      (m.login.get(engine) ?? this.#loginHistogram(m, instance, engine)).observe(loginSeconds);
    }
  }

  failure(instance: string, kind: FailureKind): void {
    const c = this.#instance(instance).counters;
    c.failure.inc();
    c[kind].inc();
  }

  /**
   * Every auth-log failure, by cause (iamdb_login_failures_total); those that are not an IAM
   * authentication (no TLS, the client left, a protocol violation, the login timeout) also in
   * iamdb_login_ended_total. The RDS-named counters are kept by {@link failure}.
   */
  loginEnded(instance: string, cause: LoginFailureCause): void {
    const m = this.#instance(instance);
    m.failures.get(cause)?.inc();
    if (isEndedCause(cause)) m.ended.get(cause)?.inc();
  }

  sessionTerminated(instance: string, cause: "revoked" | "terminated" | "credentials-expired"): void {
    this.#terminated.labels(instance, cause).inc();
  }

  sessionOpened(instance: string): void {
    this.#instance(instance).sessions++;
  }

  sessionClosed(instance: string): void {
    const m = this.#instance(instance);
    m.sessions = Math.max(0, m.sessions - 1);
  }

  activeSessions(instance?: string): number {
    if (instance !== undefined) return this.#byInstance.get(instance)?.sessions ?? 0;
    let n = 0;
    for (const m of this.#byInstance.values()) n += m.sessions;
    return n;
  }

  /** One sample's value: `name` with exactly these labels (0 when absent). */
  async value(name: string, labels: Readonly<Record<string, string>> = {}): Promise<number> {
    const metric = this.registry.getSingleMetric(name);
    if (!metric) return 0;
    const want = Object.entries(labels);
    const { values } = await metric.get();
    const hit = values.find(
      (v) =>
        Object.keys(v.labels).length === want.length && want.every(([k, val]) => String(v.labels[k]) === val),
    );
    return hit?.value ?? 0;
  }

  /** An instance-labelled counter's value (iam_db_auth_*, iamdb_backend_*). */
  counter(name: string, instance: string): Promise<number> {
    return this.value(name, { instance });
  }

  /** iamdb_login_ended_total for one instance and cause. */
  ended(instance: string, cause: EndedCause): Promise<number> {
    return this.value("iamdb_login_ended_total", { instance, cause });
  }

  /** A process-wide counter's value. */
  processCounter(name: ProcessCounter): Promise<number> {
    return this.value(name);
  }

  /** The Content-Type of {@link render}'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
