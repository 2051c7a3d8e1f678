import pg from "pg";
import type { BackendSpec } from "../../instances/types.js";
import { MAX_IDENTIFIER_BYTES, SqlState } from "../../wire/postgres/constants.js";
import { scramVerifier } from "../../wire/postgres/scram.js";

import { asAdmin, type EnableOptions, ProvisionError, superuserRefusal } from "../admin.js";

export { ProvisionError };

/**
 * A DB-user name longer than PostgreSQL keeps (NAMEDATALEN - 1 = 63 bytes). PostgreSQL would
 * cut it short silently, so two names sharing their first 63 bytes would be one role and
 * enabling the second would replace the first one's password.
 */
export class DbUserNameTooLong extends ProvisionError {
  constructor(readonly username: string) {
    super(postgresNameTooLong(username) ?? "");
    this.name = "DbUserNameTooLong";
  }
}

/** Why `name` cannot be a PostgreSQL role name as is, or undefined when it can. */
export function postgresNameTooLong(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes <= MAX_IDENTIFIER_BYTES) return undefined;
  return `the PostgreSQL user name "${name}" is ${bytes} bytes long; PostgreSQL keeps only ${MAX_IDENTIFIER_BYTES} bytes (NAMEDATALEN - 1) and would silently cut it to another name: choose a shorter name`;
}

function checkName(name: string): void {
  if (postgresNameTooLong(name) !== undefined) throw new DbUserNameTooLong(name);
}

/** Runs `fn` on a PostgreSQL connection as the instance's administrator (see {@link asAdmin}). */
export function withAdmin<T>(spec: BackendSpec, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  return asAdmin(
    spec,
    async () => {
      const client = new pg.Client({
        host: spec.host,
        port: spec.port,
        user: spec.adminUser,
        password: spec.adminPassword,
        database: spec.database,
        ssl: spec.tls === "disable" ? false : { rejectUnauthorized: spec.tls === "verify-full" },
        connectionTimeoutMillis: 10_000,
      });
      await client.connect();
      return client;
    },
    fn,
  );
}

/** rds_iam marks IAM-only accounts, as on RDS; NOLOGIN because nobody logs in as it. */
async function ensureRdsIam(client: pg.Client): Promise<void> {
  try {
    await client.query("CREATE ROLE rds_iam NOLOGIN");
  } catch (err) {
    // It exists already (or another gateway just made it).
    if ((err as { code?: string }).code !== SqlState.DuplicateObject) throw err;
  }
}

/** The role's row, or undefined when there is none. */
async function roleOf(client: pg.Client, user: string): Promise<{ rolsuper: boolean } | undefined> {
  const r = await client.query<{ rolsuper: boolean }>("SELECT rolsuper FROM pg_roles WHERE rolname = $1", [
    user,
  ]);
  return r.rows[0];
}

const roleExists = async (client: pg.Client, user: string) => (await roleOf(client, user)) !== undefined;

/** PostgreSQL IAM-only accounts: roles that log in with a password only the gateway holds. */
export const postgresAccounts = {
  async create(spec: BackendSpec, user: string, password: string): Promise<void> {
    checkName(user);
    await withAdmin(spec, async (client) => {
      const existing = await roleOf(client, user);
      if (existing !== undefined) {
        throw new ProvisionError(
          `role "${user}" already exists on the backend; to hand it to IAM (new gateway-held password + rds_iam), run db-user enable instead${existing.rolsuper ? " (it is a SUPERUSER: enable refuses it without --allow-superuser)" : ""}`,
        );
      }
      await ensureRdsIam(client);
      const role = client.escapeIdentifier(user);
      await client.query(
        `CREATE ROLE ${role} LOGIN PASSWORD ${client.escapeLiteral(scramVerifier(password))}`,
      );
      await client.query(`GRANT rds_iam TO ${role}`);
    });
  },

  /** Takes over an existing role: IAM takes precedence over its old password, as on RDS. */
  async enable(
    spec: BackendSpec,
    user: string,
    password: string,
    options: EnableOptions = {},
  ): Promise<void> {
    checkName(user);
    await withAdmin(spec, async (client) => {
      const existing = await roleOf(client, user);
      if (existing === undefined) {
        throw new ProvisionError(
          `role "${user}" does not exist on the backend; create it with db-user create`,
        );
      }
      if (existing.rolsuper && !options.allowSuperuser) {
        throw new ProvisionError(superuserRefusal(`role "${user}"`, "a SUPERUSER"));
      }
      await ensureRdsIam(client);
      const role = client.escapeIdentifier(user);
      await client.query(
        `ALTER ROLE ${role} LOGIN PASSWORD ${client.escapeLiteral(scramVerifier(password))}`,
      );
      await client.query(`GRANT rds_iam TO ${role}`);
    });
  },

  async rotate(spec: BackendSpec, user: string, password: string): Promise<void> {
    checkName(user);
    await withAdmin(spec, async (client) => {
      if (!(await roleExists(client, user))) {
        throw new ProvisionError(
          `role "${user}" does not exist on the backend; recreate it with db-user create`,
        );
      }
      await client.query(
        `ALTER ROLE ${client.escapeIdentifier(user)} PASSWORD ${client.escapeLiteral(scramVerifier(password))}`,
      );
    });
  },

  async drop(spec: BackendSpec, user: string): Promise<void> {
    await withAdmin(spec, async (client) => {
      if (!(await roleExists(client, user))) return;
      try {
        await client.query(`DROP ROLE ${client.escapeIdentifier(user)}`);
      } catch (err) {
        throw new ProvisionError(
          `cannot drop role "${user}": ${(err as Error).message}; reassign or drop what it owns first (REASSIGN OWNED BY / DROP OWNED BY), or use --keep-role`,
        );
      }
    });
  },

  /** Roles the backend marks as IAM accounts (members of rds_iam). */
  async members(spec: BackendSpec): Promise<string[]> {
    return withAdmin(spec, async (client) => {
      const r = await client.query<{ rolname: string }>(
        `SELECT m.rolname FROM pg_auth_members am
           JOIN pg_roles g ON g.oid = am.roleid AND g.rolname = 'rds_iam'
           JOIN pg_roles m ON m.oid = am.member ORDER BY 1`,
      );
      return r.rows.map((row) => row.rolname);
    });
  },
};
