import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import mysql from "mysql2/promise";
import type { BackendSpec } from "../../instances/types.js";
import { asAdmin, type EnableOptions, ProvisionError, superuserRefusal } from "../admin.js";

/**
 * MySQL / MariaDB IAM-only accounts. RDS marks them `IDENTIFIED WITH AWSAuthenticationPlugin
 * AS 'RDS'`; stock servers have no such plugin, so the account gets a random password only
 * the gateway holds (`CREATE USER 'jane'@'%' IDENTIFIED BY …`) and the gateway logs in with it.
 *
 * Anonymous accounts: MySQL matches the most specific Host first and only then the user, so
 * an anonymous `''@'localhost'` wins over `'jane'@'%'` for a connection from localhost, and
 * the gateway's login as jane would land on the anonymous account and fail. iamdb never
 * drops accounts it did not create; instead, for every host an anonymous account names,
 * it creates jane at that host too, with the same password (`'jane'@'localhost'` is as
 * specific as `''@'localhost'` and, naming a user, sorts first). `rotate` and `enable`
 * repeat this, so an anonymous account added later is covered by the next rotation.
 * @see https://mariadb.com/kb/en/create-user/#account-names
 * @see https://dev.mysql.com/doc/refman/8.0/en/connection-access.html
 */

/** Runs `fn` on a MySQL / MariaDB connection as the instance's administrator (see {@link asAdmin}). */
export function withMysqlAdmin<T>(spec: BackendSpec, fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  return asAdmin(
    spec,
    () =>
      mysql.createConnection({
        host: spec.host,
        port: spec.port,
        user: spec.adminUser,
        ...(spec.adminPassword === undefined ? {} : { password: spec.adminPassword }),
        ...(spec.database ? { database: spec.database } : {}),
        connectTimeout: 10_000,
        ...(spec.tls === "disable"
          ? {}
          : {
              ssl: {
                rejectUnauthorized: spec.tls === "verify-full",
                ...(spec.caFile ? { ca: readFileSync(spec.caFile, "utf8") } : {}),
              },
            }),
      }),
    fn,
  );
}

async function hostsOf(c: mysql.Connection, user: string): Promise<string[]> {
  const [rows] = await c.query("SELECT Host FROM mysql.user WHERE User = ? ORDER BY Host", [user]);
  return (rows as Array<{ Host: string }>).map((r) => r.Host);
}

/** The hosts the account must exist at: '%' and every host an anonymous account could shadow it from. */
async function wantedHosts(c: mysql.Connection): Promise<string[]> {
  return [...new Set(["%", ...(await hostsOf(c, ""))])];
}

/**
 * Why the account counts as a superuser, or undefined: SUPER (`Super_priv`) at any host, or
 * `GRANT ALL PRIVILEGES ON *.*` (which carries every administrative privilege, SUPER or not).
 * @see https://mariadb.com/kb/en/grant/#global-privileges
 */
async function superuserReason(
  c: mysql.Connection,
  user: string,
  hosts: readonly string[],
): Promise<string | undefined> {
  // Compared here, not in SQL: MariaDB's mysql.user view mixes collations with a 'Y' literal.
  const [rows] = await c.query("SELECT Host, Super_priv FROM mysql.user WHERE User = ?", [user]);
  const superHost = (rows as Array<{ Host: string; Super_priv: string }>).find(
    (r) => String(r.Super_priv).toUpperCase() === "Y",
  )?.Host;
  if (superHost !== undefined) return `a superuser (SUPER privilege at '${user}'@'${superHost}')`;
  for (const host of hosts) {
    const [grants] = await c.query("SHOW GRANTS FOR ?@?", [user, host]);
    for (const g of grants as Array<Record<string, string>>) {
      const line = Object.values(g)[0] ?? "";
      if (/^GRANT ALL PRIVILEGES ON \*\.\* /i.test(line))
        return `a superuser (ALL PRIVILEGES ON *.* at '${user}'@'${host}')`;
    }
  }
  return undefined;
}

/**
 * The mysql_native_password hash of `password`: `*` + hex(SHA1(SHA1(password))).
 * @see https://mariadb.com/kb/en/authentication-plugin-mysql_native_password/
 */
export function nativePasswordHash(password: string): string {
  const once = createHash("sha1").update(password, "utf8").digest();
  return `*${createHash("sha1").update(once).digest("hex").toUpperCase()}`;
}

/**
 * Sets the gateway-held password at every wanted host. On MariaDB the statement carries the
 * native hash (`IDENTIFIED BY PASSWORD '*…'`), so the password itself never reaches the
 * server's general log or binlog; MySQL 8 removed that syntax, so there it is sent as is.
 */
async function setPassword(
  c: mysql.Connection,
  user: string,
  password: string,
  existing: readonly string[],
): Promise<void> {
  const [rows] = await c.query("SELECT VERSION() AS v");
  const mariadb = /mariadb/i.test(String((rows as Array<{ v: string }>)[0]?.v));
  const identified = mariadb ? "IDENTIFIED BY PASSWORD ?" : "IDENTIFIED BY ?";
  const secret = mariadb ? nativePasswordHash(password) : password;
  for (const host of await wantedHosts(c)) {
    if (!existing.includes(host)) await c.query(`CREATE USER ?@? ${identified}`, [user, host, secret]);
  }
  for (const host of existing) await c.query(`ALTER USER ?@? ${identified}`, [user, host, secret]);
}

export const mysqlAccounts = {
  async create(spec: BackendSpec, user: string, password: string): Promise<void> {
    await withMysqlAdmin(spec, async (c) => {
      const existing = await hostsOf(c, user);
      if (existing.length > 0) {
        const su = await superuserReason(c, user, existing);
        throw new ProvisionError(
          `account '${user}'@'${existing[0]}' already exists on the backend; to hand it to IAM (new gateway-held password), run db-user enable instead${su === undefined ? "" : ` (it is ${su}: enable refuses it without --allow-superuser)`}`,
        );
      }
      await setPassword(c, user, password, []);
    });
  },

  /** Takes over existing accounts: IAM replaces their password, as on RDS. */
  async enable(
    spec: BackendSpec,
    user: string,
    password: string,
    options: EnableOptions = {},
  ): Promise<void> {
    await withMysqlAdmin(spec, async (c) => {
      const existing = await hostsOf(c, user);
      if (existing.length === 0) {
        throw new ProvisionError(
          `account '${user}' does not exist on the backend; create it with db-user create`,
        );
      }
      if (!options.allowSuperuser) {
        const su = await superuserReason(c, user, existing);
        if (su !== undefined) throw new ProvisionError(superuserRefusal(`account '${user}'`, su));
      }
      await setPassword(c, user, password, existing);
    });
  },

  async rotate(spec: BackendSpec, user: string, password: string): Promise<void> {
    await withMysqlAdmin(spec, async (c) => {
      const existing = await hostsOf(c, user);
      if (existing.length === 0) {
        throw new ProvisionError(
          `account '${user}' does not exist on the backend; recreate it with db-user create`,
        );
      }
      await setPassword(c, user, password, existing);
    });
  },

  /** Drops the account at every host. */
  async drop(spec: BackendSpec, user: string): Promise<void> {
    await withMysqlAdmin(spec, async (c) => {
      for (const host of await hostsOf(c, user)) await c.query("DROP USER ?@?", [user, host]);
    });
  },

  /** The hosts the account exists at (for operators and tests). */
  async hosts(spec: BackendSpec, user: string): Promise<string[]> {
    return withMysqlAdmin(spec, (c) => hostsOf(c, user));
  },
};
