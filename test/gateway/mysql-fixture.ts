// A gateway with one MariaDB/MySQL instance in front of the machine's MariaDB, in the spirit
// of fixture.ts (which is PostgreSQL's): in-memory auth log, port 0, TLS made in the test.
import { execFile } from "node:child_process";
import { tmpdir } from "node:os";
import { promisify } from "node:util";
import { mysqlAccounts, withMysqlAdmin } from "../../src/engines/mysql/provision.js";
import type { BackendSpec } from "../../src/instances/types.js";
import {
  ACCOUNT,
  type GatewayFixtureOptions,
  REGION,
  startGatewayFixture,
  type TestGateway,
} from "./fixture.js";

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

export interface MysqlTestGateway extends TestGateway {
  /** Drops the account on the backend (every host). */
  unprovision(dbUser: string): Promise<void>;
}

/**
 * A gateway with one MariaDB instance (`my1`) in front of the machine's MariaDB unless told
 * otherwise; `provision` also grants the account everything on database `test`.
 */
export async function startMysqlTestGateway(options: GatewayFixtureOptions = {}): Promise<MysqlTestGateway> {
  const backend = options.backend ?? MACHINE_MARIADB;
  const gw = await startGatewayFixture(
    {
      identifier: ID,
      engine: "mariadb",
      backend,
      async provision(spec, dbUser, password) {
        await mysqlAccounts.drop(spec, dbUser);
        await mysqlAccounts.create(spec, dbUser, password);
        await withMysqlAdmin(spec, async (c) => {
          for (const host of await mysqlAccounts.hosts(spec, dbUser)) {
            await c.query("GRANT ALL ON test.* TO ?@?", [dbUser, host]);
          }
        });
      },
      drop: (spec, dbUser) => mysqlAccounts.drop(spec, dbUser),
    },
    options,
  );
  return { ...gw, unprovision: (dbUser) => mysqlAccounts.drop(backend, dbUser) };
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
