// A gateway with one MariaDB/MySQL instance in front of the machine's MariaDB, in the spirit
// of fixture.ts (which is PostgreSQL's): in-memory auth log, port 0, TLS made in the test.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { DEFAULTS } from "../../src/config/load.js";
import type { GatewayLimits } from "../../src/config/types.js";
import { Authenticator } from "../../src/gateway/authenticate.js";
import { AuthLog } from "../../src/gateway/authLog.js";
import { type RunningGateway, startGateway } from "../../src/gateway/gateway.js";
import { GatewayMetrics } from "../../src/gateway/metrics.js";
import { mysqlAccounts, withMysqlAdmin } from "../../src/gateway/provision/mysql.js";
import { SecretBox } from "../../src/iam/secret-box.js";
import { createIamService, type IamService } from "../../src/iam/service.js";
import { DbAccountStore, newDbPassword } from "../../src/instances/accounts.js";
import { MemoryInstanceRegistry } from "../../src/instances/memory.js";
import { newDbiResourceId } from "../../src/instances/state.js";
import type { BackendSpec, DbInstance } from "../../src/instances/types.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";
import { ensureListenerTls } from "../../src/tls/index.js";
import { ACCOUNT, REGION } from "./fixture.js";

export { ACCOUNT, REGION };

const run = promisify(execFile);

/** The machine's MariaDB: root with an empty password, database `test`. */
export const MACHINE_MARIADB: BackendSpec = {
  host: "127.0.0.1",
  port: 3306,
  database: "test",
  tls: "disable",
  adminUser: "root",
};

export const ID = "my1";

export interface MysqlTestGateway {
  dir: string;
  iam: IamService;
  registry: MemoryInstanceRegistry;
  accounts: DbAccountStore;
  gateway: RunningGateway;
  metrics: GatewayMetrics;
  instance(): DbInstance;
  port: number;
  caFile: string;
  caPem: string;
  log(): Array<Record<string, unknown>>;
  logText(): string;
  userWithAccess(name: string, dbUser: string): Promise<{ accessKeyId: string; secretAccessKey: string }>;
  /** Makes `dbUser` an IAM DB account on the backend, with rights on database `test`. */
  provision(dbUser: string): Promise<void>;
  /** Drops the account on the backend (every host). */
  unprovision(dbUser: string): Promise<void>;
  close(): Promise<void>;
}

export async function startMysqlTestGateway(
  options: { backend?: BackendSpec; limits?: Partial<GatewayLimits>; allowPlaintext?: boolean } = {},
): Promise<MysqlTestGateway> {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-gw-my-"));
  const masterKey = randomBytes(32);
  const iam = createIamService({
    repository: openSqliteStore({ dataDir: dir }),
    masterKey,
    accountId: ACCOUNT,
  });
  const backend = options.backend ?? MACHINE_MARIADB;
  const base: DbInstance = {
    identifier: ID,
    engine: "mariadb",
    region: REGION,
    dbiResourceId: newDbiResourceId(),
    listen: { host: "127.0.0.1", port: 0 },
    endpoints: ["localhost", "127.0.0.1"],
    port: 0,
    iamAuthEnabled: true,
    tags: [],
    backend,
    createdAt: new Date(),
  };
  const registry = new MemoryInstanceRegistry([base], { accountId: ACCOUNT });
  const tls = await ensureListenerTls({ dir: join(dir, "tls"), names: ["localhost", "127.0.0.1"] });
  const accounts = new DbAccountStore(dir, new SecretBox(masterKey));
  const metrics = new GatewayMetrics([ID]);
  const lines: string[] = [];
  const authLog = new AuthLog({ write: (line) => void lines.push(line) });
  const limits = { ...DEFAULTS.gateway, loginTimeoutMs: 5_000, ...options.limits };
  const gateway = await startGateway({
    registry,
    tls: new Map([[ID, tls]]),
    plaintextAllowed: new Set(options.allowPlaintext ? [ID] : []),
    limits,
    authenticator: new Authenticator({ iam, accounts, clockSkewSeconds: limits.clockSkewSeconds }),
    authLog,
    metrics,
  });
  const port = gateway.listeners.get(ID)?.port ?? 0;
  registry.update(ID, (i) => ({ ...i, listen: { host: "127.0.0.1", port }, port }));
  const instance = () => registry.get(ID) as DbInstance;
  return {
    dir,
    iam,
    registry,
    accounts,
    gateway,
    metrics,
    instance,
    port,
    caFile: tls.caFile as string,
    caPem: tls.caPem ?? readFileSync(tls.caFile as string, "utf8"),
    log: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    logText: () => lines.join(""),
    async userWithAccess(name, dbUser) {
      await iam.createUser({ userName: name });
      const key = await iam.createAccessKey({ userName: name });
      const resource = `arn:aws:rds-db:${REGION}:${ACCOUNT}:dbuser:${instance().dbiResourceId}/${dbUser}`;
      await iam.putUserPolicy({
        userName: name,
        policyName: "connect",
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: resource }],
        }),
      });
      return { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
    },
    async provision(dbUser) {
      const password = newDbPassword();
      await mysqlAccounts.drop(backend, dbUser);
      await mysqlAccounts.create(backend, dbUser, password);
      await withMysqlAdmin(backend, async (c) => {
        for (const host of await mysqlAccounts.hosts(backend, dbUser)) {
          await c.query("GRANT ALL ON test.* TO ?@?", [dbUser, host]);
        }
      });
      accounts.put(ID, dbUser, password);
    },
    async unprovision(dbUser) {
      await mysqlAccounts.drop(backend, dbUser);
    },
    async close() {
      await gateway.stop(0);
      await iam.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The real `mariadb` client over TCP with TLS verified against our CA; the password only in
 * MYSQL_PWD (never on a command line), no option files of the machine.
 */
export async function mariadbCli(
  port: number,
  caFile: string,
  user: string,
  password: string,
  sql: string,
  extra: string[] = [],
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(
      "mariadb",
      [
        "--no-defaults",
        "--protocol=TCP",
        "-h",
        "127.0.0.1",
        "-P",
        String(port),
        // --ssl-ca implies TLS, whatever follows: a plaintext test leaves both out.
        ...(extra.includes("--skip-ssl") ? [] : [`--ssl-ca=${caFile}`, "--ssl-verify-server-cert"]),
        "-u",
        user,
        "-D",
        "test",
        "-N",
        "-B",
        "--connect-timeout=10",
        ...extra,
        "-e",
        sql,
      ],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MYSQL_PWD: password, HOME: tmpdir() },
        timeout: 60_000,
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    return { code: 0, stdout: stdout.trimEnd(), stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}
