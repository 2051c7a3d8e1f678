import type { Socket } from "node:net";
import type { SecureContext } from "node:tls";
import type { TransactionPoolConfig } from "../config/types.js";
import type { FleetCancelRouter } from "../fleet/cancel-router.js";
import type { DbInstance } from "../instances/types.js";
import type { LoginLimiter } from "../sessions/limits.js";
import type { LiveSessions } from "../sessions/live.js";
import type { StatementAuditor } from "./audit/statement-audit.js";
import type { AuthLog } from "./auth-log.js";
import type { Authenticator } from "./authenticate.js";
import type { Dialer } from "./dialer.js";
import type { GatewayLimits } from "./limits.js";
import type { GatewayMetrics } from "./metrics.js";

/** What an engine needs to serve one connection; shared by every connection of a listener. */
export interface ListenerContext {
  /** The instance as it is now (the RDS API may switch IAM off or change tags at any time). */
  instance(): DbInstance;
  readonly secureContext: SecureContext;
  readonly allowPlaintext: boolean;
  readonly limits: GatewayLimits;
  readonly authenticator: Authenticator;
  readonly authLog: AuthLog;
  readonly metrics: GatewayMetrics;
  /** Called when a session starts relaying and when it ends, for draining on shutdown. */
  readonly sessions: SessionTracker;
  /**
   * The listener's admission count: told once, with the accepted socket, when its session
   * starts relaying (it no longer counts as a pending login). Supplied by the listener.
   */
  readonly relaying: (socket: Socket) => void;
  /** This gateway's live sessions: listed by the fleet, ended by revocation or an administrator. */
  readonly live: LiveSessions;
  /** The login limits (gateway.limits and the instance's), checked once the principal is known. */
  readonly limiter: LoginLimiter;
  /** Cancel requests across the fleet (PostgreSQL); absent outside `iamdb up`. */
  readonly fleet?: FleetCancelRouter | undefined;
  /** PostgreSQL with `sessionIdentity`: records who is behind each backend session (`iamdb.session_identity()`). */
  readonly identity?: SessionIdentityRecorder | undefined;
  /** The instance's statement audit; absent when it is off (the relays then do no audit work). */
  readonly audit?: StatementAuditor | undefined;
  /** PostgreSQL in transaction pooling mode: its settings (absent in session mode). */
  readonly transactionPool?: TransactionPoolConfig | undefined;
  /** Opens every backend connection (logins, pools, cancels, version probes): TCP/TLS, or a test's fake. */
  readonly dialer: Dialer;
}

export type RefusalReason = "throttled" | "out-of-descriptors";

export interface SessionTracker {
  opened(close: () => void): () => void;
}

/**
 * One engine per wire protocol (Teleport's lib/srv/db shape): the listener accepts, the
 * engine runs the protocol's handshake, authentication through the shared Authenticator,
 * the backend login, and the relay.
 */
export interface Engine {
  /** Takes over an accepted socket. Never throws; every failure ends in a protocol error and a closed socket. */
  handle(socket: Socket, ctx: ListenerContext): void;
  /**
   * Refuses a connection before any handshake, in the protocol's own words: too many pending
   * logins, or the process is running out of file descriptors.
   */
  refuse(socket: Socket, ctx: ListenerContext, reason: RefusalReason): void;
  /** Releases what the engine holds beyond its sessions (pooled backend connections), at shutdown. */
  close?(): void;
}

/**
 * Records who is behind each backend session, in the database itself (`sessionIdentity`;
 * PostgreSQL's `iamdb.session_identity()`), before the client can send a statement.
 */
export interface SessionIdentityRecorder {
  /** Resolves once the row for backend `pid` in `database` is there; rejects if it cannot be (the login is refused). */
  record(
    database: string,
    pid: number,
    who: { sessionId: string; principalArn: string; accessKeyId: string; dbUser: string },
  ): Promise<void>;
  /** Removes backend `pid`'s row if it is still `sessionId`'s (best effort). */
  forget(database: string, pid: number, sessionId: string): void;
  close(): void;
}

/**
 * The engines one gateway serves, looked up by instance. The engine registry
 * (`src/engines/registry.ts`) makes it and the composition root passes it in, so the gateway
 * knows no engine by name. Engines of one module share what they pool for the gateway's life.
 */
export interface GatewayEngines {
  /** A new Engine for the instance's listener. */
  engineFor(instance: DbInstance): Engine;
  /**
   * The instance's session-identity recorder, for an instance configured with `sessionIdentity`
   * (made before any listener starts); undefined when its engine records none.
   */
  sessionIdentity(instance: DbInstance): SessionIdentityRecorder | undefined;
}
