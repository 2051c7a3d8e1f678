// `npm start` is `exec node scripts/run.mjs start`: a process manager (or `kill $!` after
// `npm start &`) signals npm or that script, not `iamdb up` under them. The signal must
// reach `iamdb up`, which drains and exits, and the script must exit with its status.
// (npm passes SIGTERM/SIGINT to its script's shell; `exec` makes that shell the script.)
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { IamdbStatus } from "../../src/app/status.js";
import { iamdb } from "../helpers/cli.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dirs: string[] = [];

after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether this process can listen on host:port now (nothing else holds it). */
function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

const RUNS = [
  { signal: "SIGTERM", via: "npm start --", command: "npm", args: ["start", "--"] },
  {
    signal: "SIGINT",
    via: "node scripts/run.mjs start",
    command: process.execPath,
    args: ["scripts/run.mjs", "start"],
  },
] as const;

describe("npm start (scripts/run.mjs start)", () => {
  for (const { signal, via, command, args } of RUNS) {
    it(`${signal} to \`${via}\` reaches iamdb up, which stops and frees its ports; exit 0`, async () => {
      const dir = mkdtempSync(join(tmpdir(), "iamdb-run-"));
      dirs.push(dir);
      const config = join(dir, "iamdb.json");
      writeFileSync(
        config,
        JSON.stringify({
          dataDir: join(dir, "data"),
          api: { port: 0 },
          ops: { port: 0 },
          instances: [{ identifier: "iamdb-postgres", listen: { port: 0 } }],
        }),
      );
      const child = spawn(command, [...args, "--config", config], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let output = "";
      child.stdout.on("data", (d) => {
        output += d;
      });
      child.stderr.on("data", (d) => {
        output += d;
      });
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once("exit", (code, sig) => resolve({ code, signal: sig })),
      );
      let upPid: number | undefined;
      try {
        await new Promise<void>((resolve, reject) => {
          const check = () => {
            if (/psql "host=/.test(output)) resolve();
          };
          child.stdout.on("data", check);
          exited.then(() => reject(new Error(`npm start exited early; output:\n${output}`)));
        });
        const r = await iamdb(["status", "--json", "--config", config]);
        assert.equal(r.code, 0, r.stderr);
        const status = JSON.parse(r.stdout) as IamdbStatus;
        upPid = status.pid;
        assert.notEqual(status.pid, child.pid, "iamdb up runs under npm and the script");
        const ports: Array<[string, string, number]> = [
          ["admin API", ...hostPort(status.apiUrl)],
          ["ops", ...hostPort(status.opsUrl)],
          ...status.instances.flatMap(
            (i): Array<[string, string, number]> => [
              [`instance ${i.identifier}`, i.listen.host, i.listen.port],
              [`embedded backend of ${i.identifier}`, i.backend.host, i.backend.port],
            ],
          ),
        ];
        for (const [what, host, port] of ports) {
          assert.equal(await canListen(host, port), false, `${what} listens on ${host}:${port}`);
        }

        child.kill(signal);
        const { code } = await exited;
        assert.equal(code, 0, output);
        // The operational log's shutdown line (JSON on a pipe): iamdb up itself got the signal.
        assert.match(output, new RegExp(`"msg":"${signal}: no new connections`));
        assert.equal(isRunning(status.pid), false, "iamdb up is gone once the script has exited");
        for (const [what, host, port] of ports) {
          assert.equal(await canListen(host, port), true, `${what} port ${port} is free again`);
        }
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        if (upPid !== undefined && isRunning(upPid)) process.kill(upPid, "SIGKILL");
      }
    });
  }
});

function hostPort(url: string): [string, number] {
  const u = new URL(url);
  return [u.hostname, Number(u.port)];
}
