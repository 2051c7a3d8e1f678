import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { ensureAdministrator } from "../api/bootstrap.js";
import { startAdminApi } from "../api/server.js";
import { plaintextBackendWarnings } from "../config/backendTls.js";
import type { Config, InstanceConfig } from "../config/types.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../embedded/pglite.js";
import { Authenticator } from "../gateway/authenticate.js";
import { AuthLog, authLogSink } from "../gateway/authLog.js";
import { type RunningGateway, startGateway } from "../gateway/gateway.js";
import { GatewayMetrics } from "../gateway/metrics.js";
import { startOpsServer } from "../gateway/ops.js";
import { SecretBox } from "../iam/secret-box.js";
import { createIamService, type IamService } from "../iam/service.js";
import { DbAccountStore } from "../instances/accounts.js";
import { MemoryInstanceRegistry } from "../instances/memory.js";
import { loadInstances } from "../instances/state.js";
import type { BackendSpec } from "../instances/types.js";
import { loadMasterKey } from "../store/master-key.js";
import { openPostgresStore } from "../store/postgres/open.js";
import { openSqliteStore } from "../store/sqlite/open.js";
import { ensureListenerTls } from "../tls/index.js";
import { type IamdbStatus, removeStatus, writeStatus } from "./status.js";

export interface RunningIamdb {
  readonly status: IamdbStatus;
  readonly iam: IamService;
  readonly registry: MemoryInstanceRegistry;
  readonly accounts: DbAccountStore;
  readonly gateway: RunningGateway;
  readonly metrics: GatewayMetrics;
  /** The backend each instance uses (embedded ones are known only once started). */
  readonly backends: ReadonlyMap<string, BackendSpec>;
  /** Stops accepting, drains sessions up to the configured deadline, and stops every part. */
  stop(): Promise<void>;
}

async function openStore(config: Config) {
  if (config.store.type === "sqlite") return openSqliteStore({ dataDir: config.dataDir });
  const s = config.store;
  return openPostgresStore({
    host: s.host,
    port: s.port,
    user: s.user,
    ...(s.password === undefined ? {} : { password: s.password }),
    database: s.database,
    ...(s.schema === undefined ? {} : { schema: s.schema }),
  });
}

/**
 * Everything `iamdb up` runs, in one process: the store, the admin API, the gateway's
 * listeners, the ops endpoints, and an embedded PostgreSQL for instances without a backend.
 * Stopping reverses the order.
 */
export async function startIamdb(config: Config): Promise<RunningIamdb> {
  for (const warning of plaintextBackendWarnings(config)) console.warn(warning);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const cleanups: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const masterKey = loadMasterKey({ dataDir: config.dataDir });
    const iam = createIamService({
      repository: await openStore(config),
      masterKey,
      accountId: config.accountId,
      partition: config.partition,
    });
    cleanups.push(() => iam.close());

    const backends = new Map<string, BackendSpec>();
    const embedded = new Map<string, EmbeddedPostgres>();
    for (const i of config.instances) {
      if (i.backend.type === "embedded") {
        const pg = await startEmbeddedPostgres({ dataDir: join(config.dataDir, "pglite", i.identifier) });
        cleanups.push(() => pg.close());
        embedded.set(i.identifier, pg);
        backends.set(i.identifier, {
          host: pg.host,
          port: pg.port,
          database: pg.database,
          tls: "disable",
          adminUser: pg.adminUser,
          // Its clients share one PGlite session: DISCARD ALL for one would reset them all.
          reuseConnections: false,
        });
      } else {
        const { type: _t, ...spec } = i.backend;
        backends.set(i.identifier, spec);
      }
    }
    const backendOf = (i: InstanceConfig) => backends.get(i.identifier) as BackendSpec;
    const { instances, persist } = loadInstances(config, backendOf);
    const registry = new MemoryInstanceRegistry(instances, {
      accountId: config.accountId,
      partition: config.partition,
      persist,
    });

    const allNames = [...new Set(config.instances.flatMap((i) => i.endpoints))];
    const operatorTls = config.instances.find((i) => i.tls.certFile !== undefined)?.tls;
    const tls = await ensureListenerTls({
      dir: join(config.dataDir, "tls"),
      names: allNames,
      ...(operatorTls?.certFile ? { certFile: operatorTls.certFile } : {}),
      ...(operatorTls?.keyFile ? { keyFile: operatorTls.keyFile } : {}),
      ...(operatorTls?.caFile ? { caFile: operatorTls.caFile } : {}),
    });

    const secrets = new SecretBox(masterKey);
    const accounts = new DbAccountStore(config.dataDir, secrets);
    const metrics = new GatewayMetrics(config.instances.map((i) => i.identifier));
    const sink = authLogSink(config.authLog);
    cleanups.push(() => sink.close());
    const authLog = new AuthLog(sink);
    const authenticator = new Authenticator({
      iam,
      accounts,
      clockSkewSeconds: config.gateway.clockSkewSeconds,
    });
    const gateway = await startGateway({
      registry,
      tls: new Map(config.instances.map((i) => [i.identifier, tls])),
      plaintextAllowed: new Set(config.instances.filter((i) => i.allowPlaintext).map((i) => i.identifier)),
      limits: config.gateway,
      authenticator,
      authLog,
      metrics,
    });
    cleanups.push(() => gateway.stop(config.gateway.drainTimeoutMs));
    // A listen port of 0 picks a free port; the advertised port (what tokens are signed for) follows it.
    for (const i of config.instances) {
      const listener = gateway.listeners.get(i.identifier);
      if (listener && (i.listen.port === 0 || i.port === 0)) {
        registry.update(i.identifier, (x) => ({
          ...x,
          listen: { host: x.listen.host, port: listener.port },
          port: i.port === 0 ? listener.port : x.port,
        }));
      }
    }

    const api = await startAdminApi({
      iam,
      instances: registry,
      host: config.api.host,
      port: config.api.port,
    });
    cleanups.push(() => api.close());
    const admin = await ensureAdministrator({
      iam,
      dataDir: config.dataDir,
      endpointUrl: api.url,
      region: config.region,
    });
    const ops = await startOpsServer(
      metrics,
      () =>
        gateway.draining
          ? { ok: false, detail: "draining" }
          : { ok: true, detail: `ready: ${gateway.listeners.size} listener(s)` },
      config.ops.host,
      config.ops.port,
    );
    cleanups.push(() => ops.close());

    const status: IamdbStatus = {
      pid: process.pid,
      startedAt: new Date().toISOString(),
      dataDir: config.dataDir,
      apiUrl: api.url,
      opsUrl: ops.url,
      authLog: config.authLog,
      adminCredentials: {
        credentialsFile: admin.credentialsFile,
        configFile: admin.configFile,
        profile: admin.profile,
      },
      instances: registry.list().map((i) => {
        const backend = backends.get(i.identifier) as BackendSpec;
        return {
          identifier: i.identifier,
          engine: i.engine,
          listen: i.listen,
          endpoints: i.endpoints,
          port: i.port,
          region: i.region,
          dbiResourceId: i.dbiResourceId,
          iamAuthEnabled: i.iamAuthEnabled,
          caFile: tls.caFile,
          backend: { host: backend.host, port: backend.port, embedded: embedded.has(i.identifier) },
        };
      }),
    };
    writeStatus(config.dataDir, status);
    cleanups.push(() => removeStatus(config.dataDir));
    return {
      status,
      iam,
      registry,
      accounts,
      gateway,
      metrics,
      backends,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
