// Shared by the client-kit tests: an in-process `iamdb proxy` in front of a test gateway,
// with the operational log captured so tests can grep it for secrets.

import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createServer, connect as netConnect, type Server } from "node:net";
import { promisify } from "node:util";
import { type AwsCredentials, staticCredentials } from "../../src/client/credentials.js";
import type { TargetInput } from "../../src/client/proxy/config.js";
import { PROXY_DEFAULTS, validateTarget } from "../../src/client/proxy/config.js";
import { type RunningProxy, type StartProxyOptions, startProxy } from "../../src/client/proxy/proxy.js";
import { configureLogger } from "../../src/log/logger.js";
import { REGION } from "../gateway/fixture.js";

const run = promisify(execFile);

/** A DB user name unique to this run: kit_ + 8 hex characters. */
export function kitName(prefix = "kit"): string {
  return `${prefix}_${randomBytes(4).toString("hex")}`;
}

/** Operational log lines written so far (JSON), captured from the process's logger. */
export const opLog: string[] = [];
configureLogger({ level: "debug", destination: { write: (line: string) => void opLog.push(line) } });

export async function startKitProxy(
  target: TargetInput,
  credentials: AwsCredentials,
  extra: { ops?: boolean; maxConnections?: number; options?: StartProxyOptions } = {},
): Promise<RunningProxy> {
  return startProxy(
    {
      targets: [validateTarget({ region: REGION, ...target }, (f) => `--${f}`)],
      ops: extra.ops ? { host: "127.0.0.1", port: 0 } : undefined,
      maxConnections: extra.maxConnections ?? PROXY_DEFAULTS.maxConnections,
      drainTimeoutMs: 5_000,
      connectTimeoutMs: 10_000,
    },
    { credentials: () => staticCredentials(credentials), processMetrics: false, ...extra.options },
  );
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real psql with no password anywhere (-w: never prompt), no ~/.pgpass, no PG* variables. */
export async function psqlNoPassword(
  conninfo: string,
  sql: string,
  extra: string[] = [],
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run("psql", ["-w", "-X", conninfo, "-Atc", sql, ...extra], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/nonexistent", PGCONNECT_TIMEOUT: "10" },
      timeout: 30_000,
    });
    return { code: 0, stdout: stdout.trim(), stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

/**
 * A plain TCP forward, as `kubectl port-forward` or an SSH tunnel makes one: what reaches
 * 127.0.0.1:PORT goes to `to`, bytes untouched.
 */
export async function startForward(to: {
  host: string;
  port: number;
}): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((a) => {
    const b = netConnect(to);
    a.pipe(b);
    b.pipe(a);
    const end = () => {
      a.destroy();
      b.destroy();
    };
    a.on("error", end);
    b.on("error", end);
    a.on("close", end);
    b.on("close", end);
  });
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
