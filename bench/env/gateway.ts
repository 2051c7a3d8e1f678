// Starts bench/gateway-server.ts as a child process and talks to it over stdio (one request
// at a time, one JSON line each way).
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { GatewayServerConfig } from "../gateway-server.js";
import { spawnTracked, stopChild } from "./proc.js";

export interface GatewayProcess {
  readonly pid: number;
  readonly ports: Record<string, number>;
  token(instance: string): Promise<string>;
  /** RSS and V8 heap after a full GC. */
  memory(): Promise<{ rss: number; heapUsed: number; sessions: number }>;
  /** For the soak: event-loop delay since the last call, sessions, then RSS and heap after a full GC. */
  soakSample(): Promise<{
    loopDelayMs: { p50: number; p99: number; max: number; mean: number };
    rssAfterGc: number;
    heapUsed: number;
    sessions: number;
  }>;
  profileStart(): Promise<void>;
  profileStop(file: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startGatewayProcess(config: Omit<GatewayServerConfig, "dir">): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-bench-gw-"));
  const entry = join(dirname(fileURLToPath(import.meta.url)), "..", "gateway-server.ts");
  const child: ChildProcess = spawnTracked(
    process.execPath,
    ["--expose-gc", "--import", "tsx", entry, JSON.stringify({ ...config, dir })],
    { name: "iamdb gateway", stdio: ["pipe", "pipe", "pipe"] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const waiting: Array<(o: Record<string, unknown>) => void> = [];
  let ready: ((o: Record<string, unknown>) => void) | undefined;
  const first = new Promise<Record<string, unknown>>((resolve, reject) => {
    ready = resolve;
    child.once("exit", (code) => reject(new Error(`the iamdb gateway exited (${code}) before it was ready`)));
  });
  lines.on("line", (line) => {
    const msg = JSON.parse(line) as Record<string, unknown>;
    if (ready) {
      const r = ready;
      ready = undefined;
      r(msg);
    } else waiting.shift()?.(msg);
  });
  const call = (msg: object) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      waiting.push((o) => (typeof o.error === "string" ? reject(new Error(o.error)) : resolve(o)));
      child.stdin?.write(`${JSON.stringify(msg)}\n`);
    });
  const stop = async () => {
    child.stdin?.end();
    await stopChild(child, "SIGTERM", 5_000);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const hello = await first;
    return {
      pid: child.pid ?? 0,
      ports: hello.ports as Record<string, number>,
      token: async (instance) => (await call({ cmd: "token", instance })).token as string,
      memory: async () => (await call({ cmd: "mem" })) as { rss: number; heapUsed: number; sessions: number },
      soakSample: async () =>
        (await call({ cmd: "soak-sample" })) as Awaited<ReturnType<GatewayProcess["soakSample"]>>,
      profileStart: async () => {
        await call({ cmd: "profile-start" });
      },
      profileStop: async (file) => {
        await call({ cmd: "profile-stop", file });
      },
      async stop() {
        // Closing stdin asks for a clean stop; the signal is only the fallback.
        child.stdin?.end();
        await new Promise<void>((resolve) => {
          if (child.exitCode !== null) resolve();
          const t = setTimeout(() => void stop().then(resolve), 5_000);
          child.once("exit", () => {
            clearTimeout(t);
            resolve();
          });
        });
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
