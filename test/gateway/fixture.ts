import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULTS } from "../../src/config/load.js";
import type { GatewayLimits, StatementAuditConfig, TransactionPoolConfig } from "../../src/config/types.js";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import { gatewayEngines } from "../../src/engines/registry.js";
import { AuthLog, type NoiseLimits } from "../../src/gateway/auth-log.js";
import { Authenticator } from "../../src/gateway/authenticate.js";
import type { Dialer } from "../../src/gateway/dialer.js";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.js";
import { GatewayMetrics } from "../../src/gateway/metrics.js";
import { SecretBox } from "../../src/iam/secret-box.js";
import { createIamService, type IamService } from "../../src/iam/service.js";
import { generateAuthToken } from "../../src/index.js";
import { DbAccountStore, newDbPassword } from "../../src/instances/accounts.js";
import { StoreInstanceRegistry } from "../../src/instances/registry.js";
import { newDbiResourceId } from "../../src/instances/state.js";
import type { BackendSpec, DbEngine, DbInstance } from "../../src/instances/types.js";
import type { LoginLimits } from "../../src/sessions/limits.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";
import { ensureListenerTls } from "../../src/tls/index.js";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";

/** The machine's PostgreSQL (trust auth): fine for relaying, not for checking the backend login. */
export const MACHINE_PG: BackendSpec = {
  host: "127.0.0.1",
  port: 5432,
  database: "test",
  tls: "disable",
  adminUser: "postgres",
};

export interface TestGateway {
  dir: string;
  iam: IamService;
  registry: StoreInstanceRegistry;
  accounts: DbAccountStore;
  gateway: RunningGateway;
  metrics: GatewayMetrics;
  instance(): DbInstance;
  port: number;
  caPem: string;
  caFile: string;
  authLog: AuthLog;
  /** Every auth-log line written so far, parsed. */
  log(): Array<Record<string, unknown>>;
  logText(): string;
  /** A user with an access key and an inline policy allowing rds-db:connect to `dbUser` on this instance. */
  /** An auth token for `dbUser` at this gateway's port, signed with `credentials` (for `hostname`, localhost by default). */
  token(
    dbUser: string,
    credentials: { accessKeyId: string; secretAccessKey: string },
    hostname?: string,
  ): string;
  userWithAccess(
    name: string,
    dbUser: string,
    extraStatements?: object[],
  ): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  /** Makes `dbUser` an IAM DB account on the backend (gateway-held password); `close` drops it. */
  provision(dbUser: string): Promise<void>;
  /** Stops the gateway and drops every DB account `provision` made, even when a test failed. */
  close(): Promise<void>;
}

export interface GatewayFixtureOptions {
  backend?: BackendSpec;
  /** Bound pre-authentication noise in the auth log (default: every line in full). */
  authLogNoise?: NoiseLimits;
  limits?: Partial<GatewayLimits>;
  allowPlaintext?: boolean;
  tags?: Array<{ key: string; value: string }>;
  /** The instance's own login limits (over limits.limits). */
  instanceLimits?: LoginLimits;
  /** PostgreSQL: record who is behind each session in the database (`iamdb.session_identity()`). */
  sessionIdentity?: boolean;
  /** The instance's statement audit (off when absent). */
  audit?: StatementAuditConfig;
  /** The IAM service's and the token verifier's clock (tests of expiry); real time by default. */
  now?: () => Date;
  /** PostgreSQL transaction pooling (session mode when absent). */
  transactionPool?: TransactionPoolConfig;
  /** How the gateway opens backend connections (test/helpers/dialers.ts); TCP and TLS when absent. */
  dialer?: Dialer;
}

/** What differs between the engines' fixtures: the instance, its backend, and how a DB user is provisioned. */
export interface EngineFixture {
  identifier: string;
  engine: DbEngine;
  backend: BackendSpec;
  /** Creates `dbUser` on `backend` with `password` (dropping any earlier one) and the rights the tests need. */
  provision(backend: BackendSpec, dbUser: string, password: string): Promise<void>;
  /** Drops `dbUser` from `backend` if it is there: tests leave no accounts behind on the machine's databases. */
  drop(backend: BackendSpec, dbUser: string): Promise<void>;
}

/**
 * A gateway with one instance of `engine` in front of its backend: an IAM store in a temp
 * dir, an in-memory auth log, port 0, TLS made in the test.
 */
export async function startGatewayFixture(
  engine: EngineFixture,
  options: GatewayFixtureOptions = {},
): Promise<TestGateway> {
  const id = engine.identifier;
  const dir = mkdtempSync(join(tmpdir(), `iamdb-gw-${id}-`));
  const masterKey = randomBytes(32);
  const store = openSqliteStore({ dataDir: dir });
  const iam = createIamService({
    repository: store,
    masterKey,
    accountId: ACCOUNT,
    ...(options.now ? { now: options.now } : {}),
  });
  const backend = engine.backend;
  const base: DbInstance = {
    identifier: id,
    engine: engine.engine,
    region: REGION,
    dbiResourceId: newDbiResourceId(),
    listen: { host: "127.0.0.1", port: 0 },
    endpoints: ["localhost", "127.0.0.1"],
    port: 0,
    iamAuthEnabled: true,
    tags: options.tags ?? [],
    backend,
    createdAt: new Date(),
  };
  const registry = await StoreInstanceRegistry.open({
    repo: store,
    changes: store.changes,
    configured: [base],
    accountId: ACCOUNT,
  });
  const tls = await ensureListenerTls({ dir: join(dir, "tls"), names: ["localhost", "127.0.0.1"] });
  const accounts = new DbAccountStore(store, store.changes, new SecretBox(masterKey));
  const metrics = new GatewayMetrics([base]);
  const lines: string[] = [];
  const authLog = new AuthLog(
    {
      write: (line) => {
        lines.push(line);
      },
    },
    // Every line in full unless asked: tests look at the last line after each junk connection.
    { noise: options.authLogNoise ?? false },
  );
  const limits = { ...DEFAULTS.gateway, loginTimeoutMs: 5_000, ...options.limits };
  const gateway = await startGateway({
    registry,
    engines: gatewayEngines(limits),
    tls: new Map([[id, tls]]),
    plaintextAllowed: new Set(options.allowPlaintext ? [id] : []),
    limits,
    authenticator: new Authenticator({
      iam,
      accounts,
      instances: registry,
      clockSkewSeconds: limits.clockSkewSeconds,
      ...(options.now ? { now: options.now } : {}),
    }),
    authLog,
    metrics,
    ...(options.instanceLimits ? { instanceLimits: new Map([[id, options.instanceLimits]]) } : {}),
    ...(options.sessionIdentity ? { sessionIdentity: new Set([id]) } : {}),
    ...(options.transactionPool ? { transactionPools: new Map([[id, options.transactionPool]]) } : {}),
    // Changes to IAM, the instance and its DB accounts reach live sessions (gateway.revocation).
    changes: store.changes,
    refreshInstances: () => registry.reload(),
    ...(options.audit ? { audit: new Map([[id, options.audit]]) } : {}),
    ...(options.dialer ? { dialer: options.dialer } : {}),
  });
  const port = gateway.listeners.get(id)?.port ?? 0;
  registry.setListen(id, { host: "127.0.0.1", port }, port);
  const instance = () => registry.get(id) as DbInstance;
  const provisioned = new Set<string>();
  return {
    dir,
    iam,
    registry,
    accounts,
    gateway,
    metrics,
    instance,
    port,
    caPem: tls.caPem ?? readFileSync(tls.caFile as string, "utf8"),
    caFile: tls.caFile as string,
    authLog,
    log: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    logText: () => lines.join(""),
    token(dbUser, credentials, hostname = "localhost") {
      return generateAuthToken({ hostname, port, username: dbUser, region: REGION, credentials }) as string;
    },
    async userWithAccess(name, dbUser, extraStatements = []) {
      await iam.createUser({ userName: name });
      const key = await iam.createAccessKey({ userName: name });
      const resource = `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${instance().dbiResourceId}/${dbUser}`;
      await iam.putUserPolicy({
        userName: name,
        policyName: "connect",
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            { Sid: "Connect", Effect: "Allow", Action: "rds-db:connect", Resource: resource },
            ...extraStatements,
          ],
        }),
      });
      return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    },
    async provision(dbUser) {
      const password = newDbPassword();
      // Noted first: a provisioning that fails half-way may have created the account.
      provisioned.add(dbUser);
      await engine.provision(backend, dbUser, password);
      await accounts.put(id, dbUser, password);
    },
    async close() {
      try {
        // Sessions and pooled backend connections end first; then the accounts can go.
        await gateway.stop(0);
        for (const dbUser of provisioned) await engine.drop(backend, dbUser);
        provisioned.clear();
      } finally {
        registry.close();
        accounts.close();
        authLog.close();
        await iam.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** A gateway with one PostgreSQL instance (`pg1`), in front of the machine's PostgreSQL unless told otherwise. */
export function startTestGateway(options: GatewayFixtureOptions = {}): Promise<TestGateway> {
  return startGatewayFixture(
    {
      identifier: "pg1",
      engine: "postgres",
      backend: options.backend ?? MACHINE_PG,
      async provision(backend, dbUser, password) {
        await postgresAccounts.drop(backend, dbUser).catch(() => undefined);
        await postgresAccounts.create(backend, dbUser, password);
      },
      drop: (backend, dbUser) => postgresAccounts.drop(backend, dbUser),
    },
    options,
  );
}
