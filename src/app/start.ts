import { createHash, randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ensureAdministrator } from "../api/bootstrap.js";
import { startAdminApi } from "../api/server.js";
import { plaintextBackendWarnings } from "../config/backend-tls.js";
import type { Config } from "../config/types.js";
import { type EmbeddedPostgres, startEmbeddedPostgres } from "../embedded/pglite.js";
import { DbUserService } from "../engines/db-users.js";
import { gatewayEngines } from "../engines/registry.js";
import { FleetCancelRouter } from "../fleet/cancel-router.js";
import { FleetMembership, MISSED_BEATS } from "../fleet/membership.js";
import { peerKey } from "../fleet/peer-cancel.js";
import { AuthLog, authLogSink, reopenOnSighup } from "../gateway/auth-log.js";
import { Authenticator } from "../gateway/authenticate.js";
import { type RunningGateway, startGateway } from "../gateway/gateway.js";
import { GatewayMetrics } from "../gateway/metrics.js";
import { startOpsServer } from "../gateway/ops.js";
import { SecretBox } from "../iam/secret-box.js";
import { createIamService, type IamService } from "../iam/service.js";
import type { DbAccountStore } from "../instances/accounts.js";
import { openDeployment } from "../instances/deployment.js";
import type { StoreInstanceRegistry } from "../instances/registry.js";
import type { BackendSpec, DbInstance } from "../instances/types.js";
import { log } from "../log/logger.js";
import { StoreError } from "../store/errors.js";
import { loadMasterKey } from "../store/master-key.js";
import { openPostgresStore } from "../store/postgres/open.js";
import type { StoreRepository } from "../store/sql/repository.js";
import { openSqliteStore } from "../store/sqlite/open.js";
import { ensureListenerTls, type ListenerTls } from "../tls/index.js";
import { IAMDB_VERSION } from "../version.js";
import { type IamdbStatus, removeStatus, writeStatus } from "./status.js";

export interface RunningIamdb {
  readonly status: IamdbStatus;
  readonly iam: IamService;
  readonly registry: StoreInstanceRegistry;
  readonly accounts: DbAccountStore;
  readonly fleet: FleetMembership;
  readonly gateway: RunningGateway;
  readonly metrics: GatewayMetrics;
  /** The backend each instance uses (embedded ones are known only once started). */
  readonly backends: ReadonlyMap<string, BackendSpec>;
  /** Stops accepting, drains sessions up to the configured deadline, and stops every part. */
  stop(): Promise<void>;
}

/** The store's name for messages: the SQLite file, or the PostgreSQL server, database and schema. */
export function storeName(config: Config): string {
  const s = config.store;
  return s.type === "sqlite"
    ? join(config.dataDir, "iamdb.sqlite")
    : `PostgreSQL store ${s.host}:${s.port}/${s.database} (schema ${s.schema ?? "iamdb"})`;
}

async function openStore(config: Config): Promise<StoreRepository> {
  if (config.store.type === "sqlite") return openSqliteStore({ dataDir: config.dataDir });
  const s = config.store;
  try {
    return await openPostgresStore({
      host: s.host,
      port: s.port,
      user: s.user,
      ...(s.password === undefined ? {} : { password: s.password }),
      database: s.database,
      ...(s.schema === undefined ? {} : { schema: s.schema }),
    });
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError(
      `cannot open the ${storeName(config)}: ${(err as Error).message}; check that it is running and that config.store names it correctly`,
    );
  }
}

/** What other gateways dial to reach this one's listener: the listen host unless it is a wildcard. */
function advertisedHost(config: Config, listenHost: string): string {
  if (config.fleet.advertiseHost !== undefined) return config.fleet.advertiseHost;
  return listenHost === "0.0.0.0" || listenHost === "::" || listenHost === "" ? hostname() : listenHost;
}

/**
 * Everything `iamdb up` runs, in one process: the store, the admin API, the gateway's
 * listeners, the ops endpoints, and an embedded PostgreSQL for instances without a backend.
 * Stopping reverses the order.
 */
export async function startIamdb(
  config: Config,
  options: {
    /** How iamdb commands reach this deployment (`--config FILE`), for the fix hints of the auth log. */
    commandFlags?: string;
  } = {},
): Promise<RunningIamdb> {
  for (const warning of plaintextBackendWarnings(config)) log().warn({ component: "backend-tls" }, warning);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  const cleanups: Array<() => Promise<void> | void> = [];
  const stopAll = async () => {
    for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  };
  try {
    const masterKey = loadMasterKey({ dataDir: config.dataDir });
    const repository = await openStore(config);
    const iam = createIamService({
      repository,
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
    const configured = config.instances.map(
      (c): DbInstance => ({
        identifier: c.identifier,
        engine: c.engine,
        region: c.region,
        dbiResourceId: "", // minted by the first gateway to start, then read from the store
        listen: c.listen,
        endpoints: c.endpoints,
        port: c.port,
        iamAuthEnabled: c.iamAuthEnabled,
        tags: c.tags,
        backend: backends.get(c.identifier) as BackendSpec,
        createdAt: new Date(),
      }),
    );
    const secrets = new SecretBox(masterKey);
    const deployment = await openDeployment({
      repo: repository,
      changes: repository.changes,
      secrets,
      masterKey,
      storeName: storeName(config),
      dataDir: config.dataDir,
      configured,
      accountId: config.accountId,
      partition: config.partition,
    });
    cleanups.push(() => deployment.close());
    const { registry, accounts } = deployment;

    // Each instance with its own files serves them; the others share one generated certificate
    // (signed by the deployment's CA) for all their names.
    const tlsByInstance = new Map<string, ListenerTls>();
    for (const i of config.instances) {
      const { certFile, keyFile, caFile } = i.tls;
      if (certFile === undefined && keyFile === undefined && caFile === undefined) continue;
      tlsByInstance.set(
        i.identifier,
        await ensureListenerTls({
          dir: join(config.dataDir, "tls"),
          names: [...i.endpoints],
          ...(certFile ? { certFile } : {}),
          ...(keyFile ? { keyFile } : {}),
          ...(caFile ? { caFile } : {}),
        }),
      );
    }
    const generatedFor = config.instances.filter((i) => !tlsByInstance.has(i.identifier));
    const generated =
      generatedFor.length === 0
        ? undefined
        : await ensureListenerTls({
            dir: join(config.dataDir, "tls"),
            names: [...new Set(generatedFor.flatMap((i) => i.endpoints))],
            authority: deployment.listenerCa,
          });
    if (generated) for (const i of generatedFor) tlsByInstance.set(i.identifier, generated);
    const tlsOf = (id: string) => tlsByInstance.get(id) as ListenerTls;

    const metrics = new GatewayMetrics(config.instances);
    const sink = authLogSink(config.authLog, { onWriteError: () => metrics.authLogWriteFailed() });
    cleanups.push(() => sink.close(), reopenOnSighup(sink));
    const authLog = new AuthLog(sink, { onSuppressed: (n) => metrics.authLogSuppressed(n) });
    cleanups.push(() => authLog.close());
    const authenticator = new Authenticator({
      iam,
      accounts,
      instances: registry,
      clockSkewSeconds: config.gateway.clockSkewSeconds,
      ...(options.commandFlags === undefined ? {} : { commandFlags: options.commandFlags }),
    });
    const cancelRouter = new FleetCancelRouter(peerKey(masterKey), config.gateway.backendConnectTimeoutMs);
    let fleet: FleetMembership | undefined;
    const gateway = await startGateway({
      registry,
      engines: gatewayEngines(config.gateway),
      fleet: cancelRouter,
      tls: tlsByInstance,
      plaintextAllowed: new Set(config.instances.filter((i) => i.allowPlaintext).map((i) => i.identifier)),
      limits: config.gateway,
      authenticator,
      authLog,
      metrics,
      instanceLimits: new Map(
        config.instances.flatMap((i) => (i.limits === undefined ? [] : [[i.identifier, i.limits] as const])),
      ),
      sessionIdentity: new Set(config.instances.filter((i) => i.sessionIdentity).map((i) => i.identifier)),
      transactionPools: new Map(
        config.instances.flatMap((i) => (i.pool ? [[i.identifier, i.pool] as const] : [])),
      ),
      changes: repository.changes,
      refreshInstances: (c) =>
        c.scope === "all" || (c.scope === "deployment" && c.kind === "instances")
          ? registry.reload()
          : Promise.resolve(),
      fleetSize: () => fleet?.members().length || 1,
      audit: new Map(config.instances.flatMap((i) => (i.audit ? [[i.identifier, i.audit] as const] : []))),
    });
    let gatewayStopped: Promise<void> | undefined;
    const stopGateway = () => {
      gatewayStopped ??= gateway.stop(config.gateway.drainTimeoutMs);
      return gatewayStopped;
    };
    cleanups.push(stopGateway);
    // A listen port of 0 picks a free port; the advertised port (what tokens are signed for) follows it.
    for (const i of config.instances) {
      const listener = gateway.listeners.get(i.identifier);
      if (listener && (i.listen.port === 0 || i.port === 0)) {
        registry.setListen(
          i.identifier,
          { host: i.listen.host, port: listener.port },
          i.port === 0 ? listener.port : i.port,
        );
      }
    }

    const dbUsers = new DbUserService(registry, accounts, (id) => backends.get(id));
    const api = await startAdminApi({
      iam,
      instances: registry,
      services: {
        dbUsers,
        fleet: () => fleet?.members() ?? [],
        explainLogin: (req) => authenticator.explain(req),
        sessions: {
          list: (filter, limit) => gateway.live.listFleet(filter, limit),
          terminate: async (filter, requestedBy) => {
            const listed = await gateway.live.listFleet(filter, 100_000);
            await gateway.live.requestTermination({
              commandId: randomUUID(),
              filter,
              requestedBy,
              created: new Date(),
            });
            return listed;
          },
        },
      },
      host: config.api.host,
      port: config.api.port,
      regions: [config.region],
      limits: config.api,
      admitConnection: () => gateway.descriptors.admitsAuxiliary("admin API"),
      // One line per request (action, status, caller's key id and ARN, ms; never a signature or body).
      log: (line) => log().debug({ component: "admin-api", ...line }, "admin API request"),
    });
    cleanups.push(() => api.close());
    const admin = await ensureAdministrator({
      iam,
      dataDir: config.dataDir,
      endpointUrl: api.url,
      region: config.region,
      // A shared store serves a fleet: each further gateway's data directory gets an administrator of its own.
      ...(config.store.type === "postgres"
        ? {
            fallbackUserName: `iamdb-admin-${createHash("sha256").update(`${hostname()}:${config.dataDir}`).digest("hex").slice(0, 8)}`,
          }
        : {}),
    });
    const ops = await startOpsServer(
      metrics,
      () =>
        gateway.draining
          ? { ok: false, detail: "draining" }
          : { ok: true, detail: `ready: ${gateway.listeners.size} listener(s)` },
      config.ops.host,
      config.ops.port,
      config.ops,
      () => gateway.descriptors.admitsAuxiliary("ops endpoint"),
    );
    cleanups.push(() => ops.close());

    const membership = await FleetMembership.join({
      repo: repository,
      changes: repository.changes,
      heartbeatMs: config.fleet.heartbeatMs,
      onError: (err) =>
        log().warn(
          { component: "fleet", err },
          "fleet heartbeat could not reach the store (retrying every heartbeat); other gateways count this one gone after 3 missed beats: check the store",
        ),
      info: {
        version: IAMDB_VERSION,
        pid: process.pid,
        hostname: hostname(),
        apiUrl: api.url,
        opsUrl: ops.url,
        listeners: Object.fromEntries(
          [...gateway.listeners].map(([id, l]) => [
            id,
            { host: advertisedHost(config, registry.get(id)?.listen.host ?? ""), port: l.port },
          ]),
        ),
      },
    });
    fleet = membership;
    cancelRouter.attach(membership);
    cleanups.push(() => membership.leave());
    gateway.live.attachStore({
      repo: repository,
      changes: repository.changes,
      memberId: membership.memberId,
      aliveSince: () => new Date(Date.now() - MISSED_BEATS * config.fleet.heartbeatMs),
    });

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
          caFile: tlsOf(i.identifier).caFile,
          backend: {
            host: backend.host,
            port: backend.port,
            database: backend.database,
            embedded: embedded.has(i.identifier),
          },
        };
      }),
    };
    writeStatus(config.dataDir, status);
    cleanups.push(() => removeStatus(config.dataDir));
    log().info(
      {
        version: IAMDB_VERSION,
        apiUrl: api.url,
        opsUrl: ops.url,
        listeners: Object.fromEntries([...gateway.listeners].map(([id, l]) => [id, `${l.host}:${l.port}`])),
        store: config.store.type,
        authLog: config.authLog,
      },
      "iamdb is running",
    );
    return {
      status,
      iam,
      registry,
      accounts,
      fleet: membership,
      gateway,
      metrics,
      backends,
      /**
       * A drain first: /readyz turns 503 at once, the listeners stay open for drainDelayMs (so a
       * load balancer's health check takes this gateway out before it refuses anyone), then stop
       * accepting, let sessions end, then close the rest in reverse order of start (leaving the
       * fleet first).
       */
      async stop() {
        gateway.draining = true;
        if (config.fleet.drainDelayMs > 0) await new Promise((r) => setTimeout(r, config.fleet.drainDelayMs));
        await stopGateway();
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
