import { createSecureContext, type SecureContext } from "node:tls";
import type { GatewayLimits } from "../config/types.js";
import type { DbEngine, InstanceRegistry } from "../instances/types.js";
import type { Authenticator } from "./authenticate.js";
import type { AuthLog } from "./authLog.js";
import type { Engine } from "./engine.js";
import { MysqlEngine } from "./engines/mysql/engine.js";
import { PostgresEngine } from "./engines/postgres/engine.js";
import { type RunningListener, startListener } from "./listener.js";
import type { GatewayMetrics } from "./metrics.js";
import { Sessions } from "./sessions.js";

/** The engines by protocol; MariaDB speaks the MySQL protocol. */
export function engineFor(engine: DbEngine): Engine | undefined {
  return engine === "postgres" ? new PostgresEngine() : new MysqlEngine();
}

export interface ListenerTlsMaterial {
  readonly key: string;
  readonly cert: string;
}

export interface GatewayOptions {
  readonly registry: InstanceRegistry;
  readonly tls: ReadonlyMap<string, ListenerTlsMaterial>;
  readonly plaintextAllowed: ReadonlySet<string>;
  readonly limits: GatewayLimits;
  readonly authenticator: Authenticator;
  readonly authLog: AuthLog;
  readonly metrics: GatewayMetrics;
}

export interface RunningGateway {
  readonly listeners: ReadonlyMap<string, RunningListener>;
  readonly sessions: Sessions;
  draining: boolean;
  /** Stops accepting, waits up to `deadlineMs` for sessions to end, then closes the rest. */
  stop(deadlineMs: number): Promise<void>;
}

/** Starts one listener per instance whose engine exists. */
export async function startGateway(options: GatewayOptions): Promise<RunningGateway> {
  const sessions = new Sessions();
  const listeners = new Map<string, RunningListener>();
  const engines: Engine[] = [];
  options.authLog.onFailure((instance, cause) => options.metrics.loginEnded(instance, cause));
  for (const instance of options.registry.list()) {
    const engine = engineFor(instance.engine);
    if (!engine) continue;
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
      },
      instance.listen.host,
      instance.listen.port,
    );
    listeners.set(identifier, listener);
  }
  const gateway: RunningGateway = {
    listeners,
    sessions,
    draining: false,
    async stop(deadlineMs: number) {
      gateway.draining = true;
      await Promise.all([...listeners.values()].map((l) => l.stopAccepting().catch(() => undefined)));
      await sessions.drain(deadlineMs);
      for (const engine of engines) engine.close?.();
    },
  };
  return gateway;
}
