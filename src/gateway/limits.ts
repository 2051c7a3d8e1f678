import type { LoginLimits } from "../sessions/limits.js";

/**
 * The limits the gateway works within: its listeners, the login path, the PostgreSQL backend
 * pool and live sessions. Declared here, by what the gateway reads; the config file's
 * `gateway` section (`GatewayLimits` in `config/types.ts`, where each field's default and
 * meaning are documented) is one of these.
 */
export interface GatewayLimits {
  /** From accept to authenticated session: TLS, startup and password. */
  readonly loginTimeoutMs: number;
  readonly backendConnectTimeoutMs: number;
  /** Connections in their login phase, in total and from one source address. */
  readonly maxPendingLogins: number;
  readonly maxPendingLoginsPerSource: number;
  /** PostgreSQL's pool of logged-in backend connections (0 turns it off). */
  readonly backendPoolMaxIdle: number;
  readonly backendPoolMaxIdleTotal: number | "auto";
  readonly backendPoolIdleTimeoutMs: number;
  readonly backendPoolLifetimeMs: number;
  /** File descriptors kept for the listeners. */
  readonly fileDescriptorReserve: number;
  /** What a change to IAM or an instance does to live sessions. */
  readonly revocation: "terminate" | "keep";
  readonly sessionsFollowCredentialExpiry: boolean;
  /** Login limits of every instance (an instance's own override them field by field). */
  readonly limits: LoginLimits;
}
