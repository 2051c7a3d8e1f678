import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/** How a login to the target ended (see TargetLoginError's kinds). */
export type LoginResult =
  | "success"
  | "refused"
  | "unavailable"
  | "protocol"
  | "credentials"
  | "client-closed";
const LOGIN_RESULTS: readonly LoginResult[] = [
  "success",
  "refused",
  "unavailable",
  "protocol",
  "credentials",
  "client-closed",
];

/**
 * The proxy's Prometheus metrics, in a registry of its own (as the gateway's), labelled by
 * target. Tokens signed vs logins shows the cache at work: thousands of logins, a handful
 * of signings.
 */
export class ProxyMetrics {
  readonly registry = new Registry();
  readonly #connections: Counter<"target">;
  readonly #refused: Counter<"target" | "reason">;
  readonly #active: Gauge<"target">;
  readonly #logins: Counter<"target" | "result">;
  readonly #retries: Counter<"target">;
  readonly #signed: Counter<"target">;
  readonly #tokenExpiry: Gauge<"target">;
  readonly #loginSeconds: Histogram<"target">;
  readonly #tls: Counter<"target" | "handshake">;

  constructor(targets: readonly string[], options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.#connections = new Counter({
      name: "iamdb_proxy_connections_total",
      help: "Client connections accepted.",
      labelNames: ["target"],
      registers,
    });
    this.#refused = new Counter({
      name: "iamdb_proxy_connections_refused_total",
      help: "Client connections refused before login: max-connections reached, or draining.",
      labelNames: ["target", "reason"],
      registers,
    });
    this.#active = new Gauge({
      name: "iamdb_proxy_active_connections",
      help: "Client connections open (logging in or relaying).",
      labelNames: ["target"],
      registers,
    });
    this.#logins = new Counter({
      name: "iamdb_proxy_target_logins_total",
      help: "Logins to the target, by result.",
      labelNames: ["target", "result"],
      registers,
    });
    this.#retries = new Counter({
      name: "iamdb_proxy_login_retries_total",
      help: "Logins retried once with a newly signed token after the server refused a cached one.",
      labelNames: ["target"],
      registers,
    });
    this.#signed = new Counter({
      name: "iamdb_proxy_tokens_signed_total",
      help: "Auth tokens signed (each serves every login until shortly before it expires).",
      labelNames: ["target"],
      registers,
    });
    this.#tokenExpiry = new Gauge({
      name: "iamdb_proxy_token_expiry_timestamp_seconds",
      help: "When the current token (or the credentials that signed it) expires, Unix time.",
      labelNames: ["target"],
      registers,
    });
    this.#loginSeconds = new Histogram({
      name: "iamdb_proxy_login_duration_seconds",
      help: "From a client's startup to the target's login answer (TCP, TLS, token, authentication).",
      labelNames: ["target"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.#tls = new Counter({
      name: "iamdb_proxy_target_tls_handshakes_total",
      help: "TLS handshakes with the target: full, or resumed from the previous session (no certificate work).",
      labelNames: ["target", "handshake"],
      registers,
    });
    for (const target of targets) {
      this.#connections.labels(target).inc(0);
      this.#active.labels(target).set(0);
      this.#retries.labels(target).inc(0);
      this.#signed.labels(target).inc(0);
      for (const result of LOGIN_RESULTS) this.#logins.labels(target, result).inc(0);
    }
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  accepted(target: string): void {
    this.#connections.labels(target).inc();
    this.#active.labels(target).inc();
  }

  closed(target: string): void {
    this.#active.labels(target).dec();
  }

  refused(target: string, reason: "max-connections" | "draining"): void {
    this.#refused.labels(target, reason).inc();
  }

  login(target: string, result: LoginResult, seconds?: number): void {
    this.#logins.labels(target, result).inc();
    if (seconds !== undefined) this.#loginSeconds.labels(target).observe(seconds);
  }

  tls(target: string, resumed: boolean): void {
    this.#tls.labels(target, resumed ? "resumed" : "full").inc();
  }

  retried(target: string): void {
    this.#retries.labels(target).inc();
  }

  signed(target: string, expiresAt: number): void {
    this.#signed.labels(target).inc();
    this.#tokenExpiry.labels(target).set(Math.floor(expiresAt / 1000));
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
