import { spawn } from "node:child_process";
import { lookup } from "node:dns/promises";
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ClientInvocation,
  type ConnectTarget,
  mysqlInvocation,
  psqlInvocation,
} from "../../client/connect.js";
import { CLIENT_ENGINES, type ClientEngine, clientEngineForPort } from "../../client/engines.js";
import { ProxyConfigError, parseEngine, parseHostPort } from "../../client/proxy/config.js";
import { resolveCredentials, resolveRegion } from "../credentials.js";
import { UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { signToken } from "./token.js";

export interface ConnectOptions {
  host: string;
  port: string;
  username: string;
  engine?: string;
  database?: string;
  region?: string;
  profile?: string;
  caFile?: string;
  tokenHost?: string;
  /** The client program (default psql, or mariadb then mysql). */
  client?: string;
}

/** The first of `names` found on PATH, by trying to run it with --version. */
async function firstOnPath(
  names: readonly string[],
): Promise<{ command: string; version: string } | undefined> {
  for (const command of names) {
    const version = await new Promise<string | undefined>((resolve) => {
      const child = spawn(command, ["--version"], { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      child.stdout.on("data", (d) => {
        out += d;
      });
      child.once("error", () => resolve(undefined));
      child.once("close", (code) => resolve(code === 0 ? out : undefined));
    });
    if (version !== undefined) return { command, version };
  }
  return undefined;
}

/** The invocation for the engine's client, found on PATH unless --client names it. */
async function clientInvocation(
  target: ConnectTarget,
  token: string,
  client?: string,
): Promise<ClientInvocation> {
  return CLIENT_INVOCATIONS[target.engine](target, token, client);
}

/** How `iamdb connect` finds and runs each engine's client. */
const CLIENT_INVOCATIONS: Readonly<
  Record<ClientEngine, (target: ConnectTarget, token: string, client?: string) => Promise<ClientInvocation>>
> = {
  postgres: async (target, token, client) => psqlInvocation(target, token, client ?? "psql"),
  mysql: mysqlClientInvocation,
};

/** The mariadb or mysql client, whichever is first on PATH, unless --client names one. */
async function mysqlClientInvocation(
  target: ConnectTarget,
  token: string,
  client?: string,
): Promise<ClientInvocation> {
  const found = await firstOnPath(client ? [client] : ["mariadb", "mysql"]);
  if (found === undefined) {
    throw new UserError(
      client
        ? `cannot run ${client}: check --client`
        : "neither mariadb nor mysql is on PATH: install a MySQL client (apt install mariadb-client) or pass --client PATH",
    );
  }
  return mysqlInvocation(target, token, found.command, /MariaDB/i.test(found.version) ? "mariadb" : "mysql");
}

/**
 * The option text as a file descriptor for the child's fd 3: written to a 0600 file in a
 * 0700 directory of its own, opened, and unlinked at once, so nothing names it by the time
 * the client runs (`/dev/fd/3` reopens the open file; a Node pipe is a socket, which
 * `/dev/fd/N` cannot open on Linux).
 */
function optionFd(text: string): number {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-connect-"));
  const file = join(dir, "client.cnf");
  try {
    writeFileSync(file, text, { mode: 0o600, flag: "wx" });
    return openSync(file, "r");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the client attached to this terminal; resolves to its exit code. */
function run(invocation: ClientInvocation, env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const fd3 = invocation.fd3 === undefined ? undefined : optionFd(invocation.fd3);
    const child = spawn(invocation.command, [...invocation.args], {
      env: { ...env, ...invocation.env },
      stdio: ["inherit", "inherit", "inherit", ...(fd3 !== undefined ? [fd3] : [])],
    });
    if (fd3 !== undefined) closeSync(fd3);
    // Ctrl-C reaches the client from the terminal (it cancels a query); iamdb waits for it.
    const ignore = () => {};
    process.on("SIGINT", ignore);
    child.once("error", (err: NodeJS.ErrnoException) => {
      process.off("SIGINT", ignore);
      reject(
        err.code === "ENOENT"
          ? new UserError(
              `${invocation.command} is not installed or not on PATH: install it (PostgreSQL: apt install postgresql-client) or pass --client PATH`,
            )
          : new UserError(`cannot run ${invocation.command}: ${err.message}`),
      );
    });
    child.once("close", (code, signal) => {
      process.off("SIGINT", ignore);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

/**
 * `iamdb connect`: signs a token with the caller's AWS credentials and runs psql or the
 * mariadb/mysql client with it and verify-full TLS; exits with the client's exit code.
 */
export async function connectCommand(opts: ConnectOptions, extra: string[], io: CliIO): Promise<number> {
  let engine: ClientEngine;
  let endpoint: { host: string; port: number };
  let tokenHost: { host: string; port: number };
  try {
    endpoint = parseHostPort(
      `${opts.host.includes(":") ? `[${opts.host}]` : opts.host}:${opts.port}`,
      "--host/--port",
    );
    engine =
      opts.engine === undefined ? clientEngineForPort(endpoint.port) : parseEngine(opts.engine, "--engine");
    tokenHost =
      opts.tokenHost === undefined
        ? endpoint
        : /:\d+$/.test(opts.tokenHost)
          ? parseHostPort(opts.tokenHost, "--token-host")
          : { host: opts.tokenHost, port: endpoint.port };
  } catch (err) {
    if (err instanceof ProxyConfigError) throw new UsageError(err.message);
    throw err;
  }
  const forwarded = tokenHost.host.toLowerCase() !== endpoint.host.toLowerCase();
  const forwardRefusal = CLIENT_ENGINES[engine].forwardRefusal;
  if (forwarded && forwardRefusal !== undefined) throw new UsageError(forwardRefusal);
  let hostaddr: string | undefined;
  if (forwarded) {
    try {
      hostaddr = isIP(endpoint.host) ? endpoint.host : (await lookup(endpoint.host)).address;
    } catch (err) {
      throw new UserError(`cannot resolve --host ${endpoint.host}: ${(err as Error).message}`);
    }
  }
  const region = await resolveRegion(io.env, opts.region, opts.profile);
  const credentials = await resolveCredentials(io.env, opts.profile);
  const token = signToken({
    hostname: tokenHost.host,
    port: tokenHost.port,
    username: opts.username,
    region,
    credentials,
  });
  const target: ConnectTarget = {
    engine,
    host: endpoint.host,
    port: endpoint.port,
    tlsName: tokenHost.host,
    hostaddr,
    username: opts.username,
    database: opts.database,
    caFile: opts.caFile,
    extra,
  };
  return run(await clientInvocation(target, token, opts.client), io.env);
}
