import type { BackendSpec, DbEngine, InstanceTag } from "../instances/types.js";
import type { LoginLimits } from "../sessions/limits.js";

/** The backend of an instance: a real server, or "embedded" (PGlite, PostgreSQL only). */
export type BackendConfig = { readonly type: "embedded" } | ({ readonly type: "server" } & BackendSpec);

export interface InstanceConfig {
  readonly identifier: string;
  readonly engine: DbEngine;
  readonly region: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly endpoints: readonly string[];
  /** The port tokens are signed for; defaults to listen.port. */
  readonly port: number;
  /** Initial IAMDatabaseAuthenticationEnabled; ModifyDBInstance changes it afterwards. */
  readonly iamAuthEnabled: boolean;
  readonly tags: readonly InstanceTag[];
  readonly backend: BackendConfig;
  /** Operator TLS files; generated under the data directory when absent. */
  readonly tls: { readonly certFile?: string; readonly keyFile?: string; readonly caFile?: string };
  /** Accept token logins without TLS. Off by default (RDS requires TLS for IAM); for loopback demos only. */
  readonly allowPlaintext: boolean;
  /**
   * PostgreSQL: record who is behind each session in the database itself (`iamdb.session_identity()`,
   * `iamdb.principal_arn()`), written by the backend administrator. MySQL/MariaDB sessions always
   * carry it as `iamdb.*` connection attributes.
   */
  readonly sessionIdentity: boolean;
  /** Login limits for this instance, each field replacing the gateway's (`gateway.limits`). */
  readonly limits?: LoginLimits | undefined;
  /** The statement audit (`audit.statements: true`); absent when off. */
  readonly audit?: StatementAuditConfig | undefined;
  /** PostgreSQL transaction pooling (`pool.mode: "transaction"`); absent in session mode (the default). */
  readonly pool?: TransactionPoolConfig | undefined;
}

/**
 * `pool` with `mode: "transaction"`: a backend connection serves a client for one transaction
 * (or one simple query outside one) and then goes back to be shared (docs/gateway-postgres.md).
 */
export interface TransactionPoolConfig {
  readonly mode: "transaction";
  /** Backend connections the instance opens in all, every DB user together (default 20). */
  readonly maxBackendConnections: number;
  /** How long a client waits for a backend before it is refused (default 120000, RDS Proxy's ConnectionBorrowTimeout). */
  readonly borrowTimeoutMs: number;
  /** Prepared statements kept per backend connection, least recently used closed first (default 200, pgbouncer 1.24's). */
  readonly maxPreparedStatements: number;
}

/** An instance's statement audit: one JSON line per statement, in a file of its own. */
export interface StatementAuditConfig {
  /** Absolute path of the 0600 JSON-lines file; default DATADIR/audit/<instance>.jsonl. */
  readonly file: string;
  /** The file is rotated (file → file.1 → …) before a write would take it past this size. */
  readonly maxBytes: number;
  /** Rotated files kept (file.1 … file.<maxFiles>). */
  readonly maxFiles: number;
  /** Lines held in memory waiting for the disk; a statement beyond it is not audited (counted as dropped). */
  readonly queueLines: number;
  /** Longest statement text written whole, in bytes; longer ones are cut, and the line says so. */
  readonly maxTextBytes: number;
}

export interface GatewayLimits {
  /** Time allowed from accept to authenticated session: TLS, startup and password. */
  readonly loginTimeoutMs: number;
  readonly backendConnectTimeoutMs: number;
  /** Connections in the handshake phase, in total and from one source address. */
  readonly maxPendingLogins: number;
  readonly maxPendingLoginsPerSource: number;
  /** Tolerated client clock lead for X-Amz-Date. */
  readonly clockSkewSeconds: number;
  /** How long SIGTERM waits for sessions to end before closing them. */
  readonly drainTimeoutMs: number;
  /**
   * PostgreSQL: logged-in backend connections kept, per (DB user, database, startup
   * parameters), for the next authenticated client once a session ends idle (reset with
   * DISCARD ALL, as pgbouncer's session mode does); MySQL / MariaDB likewise, per (DB user,
   * database, character set, session flags, principal), reset with COM_RESET_CONNECTION.
   * 0 turns the pool off.
   */
  readonly backendPoolMaxIdle: number;
  /**
   * PostgreSQL: idle pooled connections per backend server, all users and startup parameters
   * together; "auto" is half of what the server allows ordinary roles (max_connections minus
   * superuser_reserved_connections and reserved_connections), read when the first connection
   * is pooled (MySQL / MariaDB: half of max_connections). A connection coming back to a full pool replaces the least recently used one.
   */
  readonly backendPoolMaxIdleTotal: number | "auto";
  /**
   * File descriptors the admin API and ops endpoint leave to the gateway listeners: they take
   * no new connection once fewer remain.
   */
  readonly fileDescriptorReserve: number;
  /** How long a pooled backend connection may wait unused before it is closed. */
  readonly backendPoolIdleTimeoutMs: number;
  /** A backend connection older than this is closed when its session ends instead of pooled. */
  readonly backendPoolLifetimeMs: number;
  /**
   * What a change to IAM or an instance does to live sessions: "terminate" re-evaluates
   * rds-db:connect for the sessions it may affect and ends those now denied; "keep" is RDS's
   * behaviour (the token is checked once, at login).
   */
  readonly revocation: "terminate" | "keep";
  /** End a session when the temporary credentials that signed its token expire (RDS does not). */
  readonly sessionsFollowCredentialExpiry: boolean;
  /** Login limits of every instance (an instance's own `limits` override them field by field). */
  readonly limits: LoginLimits;
}

/** An HTTP endpoint (admin API, ops) and what bounds it against slow or numerous clients. */
export interface HttpEndpointConfig {
  readonly host: string;
  readonly port: number;
  /** Connections open at once; beyond, new ones are closed at once. */
  readonly maxConnections: number;
  /** Time for a request's headers to arrive (also a connection that sends nothing). */
  readonly headersTimeoutMs: number;
  /** Time for a whole request, headers and body, to arrive: a slow body is cut off (408). */
  readonly requestTimeoutMs: number;
}

export type StoreConfig =
  | { readonly type: "sqlite" }
  | {
      readonly type: "postgres";
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password?: string | undefined;
      readonly database: string;
      readonly schema?: string | undefined;
    };

/** How this gateway takes part in a fleet sharing one store (`docs/FLEET.md`). */
export interface FleetConfig {
  /** How often the gateway renews its membership; a member silent for 3 beats is gone. */
  readonly heartbeatMs: number;
  /**
   * From SIGTERM to closing the listeners: /readyz answers 503 during this time, so a load
   * balancer's health check takes the gateway out before it refuses connections.
   */
  readonly drainDelayMs: number;
  /** The host other gateways reach this one's listeners at (cancel forwarding); default: the listen host, or this machine's name when that is a wildcard. */
  readonly advertiseHost?: string | undefined;
}

/** Validated configuration with every default filled in. */
export interface Config {
  readonly dataDir: string;
  readonly accountId: string;
  readonly partition: string;
  readonly region: string;
  readonly store: StoreConfig;
  readonly api: HttpEndpointConfig;
  /** /metrics, /healthz, /readyz. */
  readonly ops: HttpEndpointConfig;
  readonly gateway: GatewayLimits;
  readonly fleet: FleetConfig;
  readonly instances: readonly InstanceConfig[];
  /** Where the auth log's JSON lines go: a file path, or "-" for stderr. */
  readonly authLog: string;
}
