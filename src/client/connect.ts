/**
 * What `iamdb connect` runs: psql or the mariadb/mysql client with a fresh token and
 * verify-full TLS flags. Pure: it builds the command line, environment and option text; the
 * CLI (src/cli/commands/connect.ts) spawns it. The token never goes on the command line
 * (`ps` shows every process's argv to every user): psql reads it from PGPASSWORD, the
 * MySQL clients from an option file handed over as fd 3 (`--defaults-extra-file=/dev/fd/3`),
 * whose name is gone before the client starts.
 */

import type { ClientEngine } from "./engines.js";

export type { ClientEngine } from "./engines.js";

export interface ConnectTarget {
  readonly engine: ClientEngine;
  /** Where the client connects (the endpoint, or a forward to it). */
  readonly host: string;
  readonly port: number;
  /** The endpoint's real name when `host` is a forward: certificates are checked against it. */
  readonly tlsName: string;
  /** `host` as an IP address, when `tlsName` differs from it (libpq's hostaddr). */
  readonly hostaddr: string | undefined;
  readonly username: string;
  readonly database: string | undefined;
  /** CA bundle; absent: the system's trust store. */
  readonly caFile: string | undefined;
  /** Arguments after `--`, passed to the client as they are. */
  readonly extra: readonly string[];
}

export interface ClientInvocation {
  readonly command: string;
  readonly args: readonly string[];
  /** Variables to add to the environment (the token's among them for psql). */
  readonly env: Readonly<Record<string, string>>;
  /** The child's fd 3, which `args` name as an option file (MySQL clients). */
  readonly fd3: string | undefined;
}

/** A libpq connection-string value: quoted, with `\` and `'` escaped. @see https://www.postgresql.org/docs/current/libpq-connect.html#LIBPQ-CONNSTRING-KEYWORD-VALUE */
export function conninfoValue(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * psql with `sslmode=verify-full`: `host` is the name the certificate must carry and
 * `hostaddr` where to connect, when they differ (a forward). Without a CA file,
 * `sslrootcert=system` (libpq 16 and later) trusts the system's store.
 */
export function psqlInvocation(t: ConnectTarget, token: string, command = "psql"): ClientInvocation {
  const parts: Array<[string, string]> = [
    ["host", t.tlsName],
    ...(t.hostaddr !== undefined ? ([["hostaddr", t.hostaddr]] as Array<[string, string]>) : []),
    ["port", String(t.port)],
    ["user", t.username],
    ...(t.database !== undefined ? ([["dbname", t.database]] as Array<[string, string]>) : []),
    ["sslmode", "verify-full"],
    ["sslrootcert", t.caFile ?? "system"],
  ];
  const conninfo = parts.map(([k, v]) => `${k}=${conninfoValue(v)}`).join(" ");
  return { command, args: [conninfo, ...t.extra], env: { PGPASSWORD: token }, fd3: undefined };
}

/** A MySQL option-file value: double-quoted, with `\` and `"` escaped. @see https://dev.mysql.com/doc/refman/8.4/en/option-files.html */
export function optionFileValue(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The mariadb client (or Oracle's mysql, `flavour: "mysql"`) with the server's certificate
 * verified (`--ssl-verify-server-cert` / `--ssl-mode=VERIFY_IDENTITY`), the cleartext
 * plugin allowed (Oracle's client needs `--enable-cleartext-plugin`; the token travels only
 * inside TLS), and the token in an option file on fd 3. `--defaults-extra-file` must be the
 * first argument.
 */
export function mysqlInvocation(
  t: ConnectTarget,
  token: string,
  command = "mariadb",
  flavour: "mariadb" | "mysql" = "mariadb",
): ClientInvocation {
  const tls =
    flavour === "mariadb"
      ? ["--ssl", "--ssl-verify-server-cert", ...(t.caFile ? [`--ssl-ca=${t.caFile}`] : [])]
      : ["--ssl-mode=VERIFY_IDENTITY", ...(t.caFile ? [`--ssl-ca=${t.caFile}`] : [])];
  return {
    command,
    args: [
      "--defaults-extra-file=/dev/fd/3",
      "--protocol=TCP",
      "-h",
      t.host,
      "-P",
      String(t.port),
      "-u",
      t.username,
      ...(t.database !== undefined ? ["-D", t.database] : []),
      ...tls,
      // MariaDB's client allows the cleartext plugin by default (and calls the flag obsolete).
      ...(flavour === "mysql" ? ["--enable-cleartext-plugin"] : []),
      ...t.extra,
    ],
    env: {},
    fd3: `[client]\npassword=${optionFileValue(token)}\n`,
  };
}
