import { createSecureContext, type SecureContext } from "node:tls";
import type { StatementAuditConfig, TransactionPoolConfig } from "../config/types.js";
import type { FleetCancelRouter } from "../fleet/cancel-router.js";
import type { ChangeFeed, Invalidation } from "../iam/repository.js";
import type { InstanceRegistry } from "../instances/types.js";
import { LoginLimiter, type LoginLimits } from "../sessions/limits.js";
import { LiveSessions } from "../sessions/live.js";
import { SessionRevoker } from "../sessions/revocation.js";
import { StatementAuditor } from "./audit/statement-audit.js";
import type { AuthLog } from "./auth-log.js";
import { type Authenticator, RecheckPass } from "./authenticate.js";
import { DescriptorWatch } from "./descriptors.js";
import { type Dialer, tcpDialer } from "./dialer.js";
import type { Engine, GatewayEngines, SessionIdentityRecorder } from "./engine.js";
import type { GatewayLimits } from "./limits.js";
import { type RunningListener, startListener } from "./listener.js";
import type { GatewayMetrics } from "./metrics.js";
import { countFailuresByCause } from "./refusal.js";
import { Sessions } from "./sessions.js";

export interface ListenerTlsMaterial {
  readonly key: string;
  readonly cert: string;
}

export interface GatewayOptions {
  readonly registry: InstanceRegistry;
  /** The engines by instance: the engine registry's `gatewayEngines(limits)` (`src/engines/registry.ts`). */
  readonly engines: GatewayEngines;
  readonly tls: ReadonlyMap<string, ListenerTlsMaterial>;
  readonly plaintextAllowed: ReadonlySet<string>;
  readonly limits: GatewayLimits;
  readonly authenticator: Authenticator;
  readonly authLog: AuthLog;
  readonly metrics: GatewayMetrics;
  /** Forwards PostgreSQL cancel requests to the gateway of the fleet that issued the key. */
  readonly fleet?: FleetCancelRouter;
  /** The process's descriptor watch (made from limits.fileDescriptorReserve when not given). */
  readonly descriptors?: DescriptorWatch;
  /** Per-instance login limits, each field replacing `limits.limits`'s. */
  readonly instanceLimits?: ReadonlyMap<string, LoginLimits>;
  /**
   * The store's change feed: with it, changes to IAM, an instance or its DB accounts re-evaluate
   * live sessions (limits.revocation). Without it (tests of the wire alone), nothing is revoked.
   */
  readonly changes?: ChangeFeed;
  /** Brings the registry up to date before a revocation pass reads it. */
  readonly refreshInstances?: (change: Invalidation) => Promise<void>;
  /** Live gateways sharing the per-second login limits (1 outside a fleet). */
  readonly fleetSize?: () => number;
  /** The statement audit of each instance that has it on, by identifier. */
  readonly audit?: ReadonlyMap<string, StatementAuditConfig>;
  /** PostgreSQL instances whose sessions' identities are recorded in the database (`sessionIdentity`). */
  readonly sessionIdentity?: ReadonlySet<string>;
  /** PostgreSQL instances in transaction pooling mode, with their pool settings. */
  readonly transactionPools?: ReadonlyMap<string, TransactionPoolConfig>;
  /** How backend connections are opened: TCP and TLS (`tcpDialer`) unless a test scripts them. */
  readonly dialer?: Dialer;
}

export interface RunningGateway {
  readonly listeners: ReadonlyMap<string, RunningListener>;
  /** Keeps descriptors for the listeners; the admin API and ops endpoint ask it before accepting. */
  readonly descriptors: DescriptorWatch;
  readonly sessions: Sessions;
  /** The live sessions, for the admin API's listing and termination (attached to the store by `iamdb up`). */
  readonly live: LiveSessions;
  readonly revoker: SessionRevoker;
  /** The statement auditors, by instance (only those with audit on). */
  readonly audit: ReadonlyMap<string, StatementAuditor>;
  draining: boolean;
  /**
   * Stops accepting, waits up to `deadlineMs` for sessions to end, then closes the rest; the
   * statement audit files are flushed and closed last.
   */
  stop(deadlineMs: number): Promise<void>;
}

/** Starts one listener per instance. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const sessions = new Sessions();
  const listeners = new Map<string, RunningListener>();
  const engines: Engine[] = [];
  const descriptors =
    options.descriptors ??
    new DescriptorWatch({
      reserve: options.limits.fileDescriptorReserve,
      onAcceptFailed: () => options.metrics.acceptFailed(),
    });
  countFailuresByCause(options);
  const live = new LiveSessions();
  const base = options.limits.limits;
  const limiter = new LoginLimiter({
    sessions: live,
    limitsFor: (id) => ({ ...base, ...options.instanceLimits?.get(id) }),
    fleetSize: options.fleetSize ?? (() => 1),
  });
  const { authenticator, registry } = options;
  const revoker = new SessionRevoker({
    sessions: live,
    changes: options.changes ?? { subscribe: () => () => undefined, poll: () => undefined, live: true },
    begin: () => {
      const pass = new RecheckPass();
      return async (s) => {
        const instance = registry.get(s.record.instance);
        if (instance === undefined) return { ok: false, reason: `instance ${s.record.instance} is gone` };
        return authenticator.recheck(
          {
            instance,
            dbUser: s.record.dbUser,
            accessKeyId: s.record.accessKeyId,
            sourceIp: s.sourceIp,
            secureTransport: s.secureTransport,
          },
          pass,
        );
      };
    },
    ...(options.refreshInstances ? { refresh: options.refreshInstances } : {}),
    mode: options.limits.revocation,
    followCredentialExpiry: options.limits.sessionsFollowCredentialExpiry,
  });
  // Made before any listener starts: a file with the wrong mode stops the gateway here.
  const identities = new Map<string, SessionIdentityRecorder>();
  for (const instance of options.registry.list()) {
    if (!options.sessionIdentity?.has(instance.identifier)) continue;
    const recorder = options.engines.sessionIdentity(instance);
    if (recorder !== undefined) identities.set(instance.identifier, recorder);
  }
  const auditors = new Map<string, StatementAuditor>();
  for (const instance of options.registry.list()) {
    const config = options.audit?.get(instance.identifier);
    if (config === undefined) continue;
    options.metrics.auditEnabled(instance.identifier);
    auditors.set(
      instance.identifier,
      new StatementAuditor({
        instance: instance.identifier,
        engine: instance.engine,
        config,
        counters: options.metrics,
      }),
    );
  }
  for (const instance of options.registry.list()) {
    const engine = options.engines.engineFor(instance);
    engines.push(engine);
    const material = options.tls.get(instance.identifier);
    if (!material) throw new Error(`no TLS material for instance ${instance.identifier}`);
    const secureContext: SecureContext = createSecureContext({
      key: material.key,
      cert: material.cert,
      minVersion: "TLSv1.2",
    });
    const identifier = instance.identifier;
    const listener = await startListener(
      engine,
      {
        instance: () => options.registry.get(identifier) ?? instance,
        secureContext,
        allowPlaintext: options.plaintextAllowed.has(identifier),
        limits: options.limits,
        authenticator: options.authenticator,
        authLog: options.authLog,
        metrics: options.metrics,
        sessions,
        live,
        limiter,
        fleet: options.fleet,
        audit: auditors.get(identifier),
        identity: identities.get(identifier),
        transactionPool: options.transactionPools?.get(identifier),
        dialer: options.dialer ?? tcpDialer,
      },
      instance.listen.host,
      instance.listen.port,
      descriptors,
    );
    listeners.set(identifier, listener);
  }
  const gateway: RunningGateway = {
    listeners,
    descriptors,
    sessions,
    live,
    revoker,
    audit: auditors,
    draining: false,
    async stop(deadlineMs: number) {
      gateway.draining = true;
      await Promise.all([...listeners.values()].map((l) => l.stopAccepting().catch(() => undefined)));
      await sessions.drain(deadlineMs);
      revoker.close();
      await live.close();
      for (const engine of engines) engine.close?.();
      await Promise.all([...auditors.values()].map((a) => a.close()));
      for (const w of identities.values()) w.close();
    },
  };
  return gateway;
}
