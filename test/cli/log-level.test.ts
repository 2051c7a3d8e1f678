// `iamdb up --log-level` as a service manager runs it: stderr is a pipe, so every operational
// line is JSON (level, time, msg); the admin API's request lines at debug carry no secret.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { iamdb } from "../helpers/cli.js";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "iamdb.js");

let dir: string;
let config: string;
let child: ChildProcess | undefined;
let stdout = "";
let stderr = "";

async function eventually(check: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (child?.exitCode !== null && child?.exitCode !== undefined) assert.fail(`iamdb up exited: ${stderr}`);
    if (Date.now() > until) assert.fail(`never happened: ${what}; stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const entries = () =>
  stderr
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return assert.fail(`a stderr line that is not JSON: ${l}`);
      }
    });

before(() => {
  dir = mkdtempSync(join(tmpdir(), "iamdb-loglevel-"));
  config = join(dir, "iamdb.json");
  writeFileSync(
    config,
    JSON.stringify({
      dataDir: join(dir, "data"),
      api: { port: 0 },
      ops: { port: 0 },
      instances: [{ identifier: "iamdb-postgres", listen: { port: 0 }, port: 0, endpoints: ["localhost"] }],
    }),
  );
});

after(() => {
  if (child && child.exitCode === null) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

describe("iamdb up --log-level", () => {
  it("a level that is not one is a usage error (exit 2) naming the choices, from the flag or IAMDB_LOG_LEVEL", async () => {
    const flag = await iamdb(["up", "--config", config, "--log-level", "verbose"]);
    assert.equal(flag.code, 2, flag.stderr);
    assert.match(flag.stderr, /--log-level is "verbose": use one of trace, debug, info, warn, error, silent/);
    const env = await iamdb(["up", "--config", config], { IAMDB_LOG_LEVEL: "loud" });
    assert.equal(env.code, 2, env.stderr);
    assert.match(env.stderr, /IAMDB_LOG_LEVEL is "loud": use one of/);
  });

  it("stderr not a terminal: JSON lines with level, time and msg, from start to stop; no secret at debug", async () => {
    child = spawn(process.execPath, [BIN, "up", "--config", config, "--log-level", "debug"], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout?.on("data", (d) => {
      stdout += d;
    });
    child.stderr?.on("data", (d) => {
      stderr += d;
    });
    await eventually(() => /psql "host=/.test(stdout), "the quickstart on stdout");
    await eventually(() => entries().some((e) => e.msg === "iamdb is running"), "the running line");
    const running = entries().find((e) => e.msg === "iamdb is running") ?? {};
    assert.equal(running.level, "info");
    assert.match(String(running.opsUrl), /^http:\/\/127\.0\.0\.1:\d+$/);

    const dataDir = join(dir, "data");
    const user = await iamdb(["iam", "create-user", "--user-name", "ob-log", "--data-dir", dataDir]);
    assert.equal(user.code, 0, user.stderr);
    const key = await iamdb(["iam", "create-access-key", "--user-name", "ob-log", "--data-dir", dataDir]);
    assert.equal(key.code, 0, key.stderr);
    const secret = (JSON.parse(key.stdout) as { AccessKey: { SecretAccessKey: string } }).AccessKey
      .SecretAccessKey;
    await eventually(
      () => entries().some((e) => e.msg === "admin API request" && e.action === "CreateAccessKey"),
      "the admin API's request line at debug",
    );
    const request = entries().find((e) => e.action === "CreateAccessKey") ?? {};
    assert.equal(request.level, "debug");
    assert.equal(request.status, 200);

    child.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => child?.once("exit", resolve));
    assert.equal(code, 0, stderr);
    const all = entries();
    for (const e of all) {
      assert.equal(typeof e.level, "string", JSON.stringify(e));
      assert.match(String(e.time), /^\d{4}-\d\d-\d\dT/, JSON.stringify(e));
      assert.equal(typeof e.msg, "string", JSON.stringify(e));
    }
    assert.ok(all.some((e) => /^SIGTERM: no new connections/.test(String(e.msg))));
    assert.equal(all.at(-1)?.msg, "iamdb stopped");
    assert.ok(!stderr.includes(secret), "the new key's secret is not in the log");
  });
});
