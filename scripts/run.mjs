#!/usr/bin/env node
// The entry behind `npm start`, `npm test`, `npm run bench` and `npm run fuzz`: each must work on a fresh
// clone with nothing installed, so this script installs dependencies and builds first.
// Plain JavaScript on purpose: it runs before TypeScript or any dependency is present.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { constants } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { lintTargets } from "./lint-targets.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bin = (name) => join(root, "node_modules", ".bin", name);

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", ...opts });
  if (r.error) {
    console.error(`iamdb: could not run ${cmd}: ${r.error.message}`);
    process.exit(1);
  }
  return r.status ?? 1;
}

/**
 * Runs the long-lived child (`iamdb up`, the test runner, the bench) and exits with its
 * status. SIGTERM and SIGINT sent to this process (`kill` on `npm start &`, a process
 * manager, Ctrl-C) are passed on to the child, which drains and exits; this process exits
 * only once the child has. The child gets a process group of its own so that it hears
 * each signal once, from here: a Ctrl-C reaches the whole foreground group (and npm passes
 * it on again), and a second SIGINT would cut `iamdb up`'s drain short. Further signals
 * while the child stops are not passed on: its drain is bounded (gateway.drainTimeoutMs).
 * A hang-up (the terminal closed) no longer reaches the child's group, so SIGHUP here stops
 * the child as SIGTERM does. The child reads no stdin: in a background group it could not.
 */
function runForwardingSignals(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "inherit", "inherit"], detached: true });
  let forwarded = false;
  const forward = (signal) => {
    if (forwarded) return;
    forwarded = true;
    child.kill(signal === "SIGHUP" ? "SIGTERM" : signal);
  };
  const signals = ["SIGTERM", "SIGINT", "SIGHUP"];
  for (const s of signals) process.on(s, forward);
  child.on("error", (err) => {
    console.error(`iamdb: could not run ${cmd}: ${err.message}`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const s of signals) process.off(s, forward);
    // Killed by a signal: exit as a shell reports it (128 + the signal's number).
    process.exit(code ?? 128 + (constants.signals[signal] ?? 0));
  });
}

function must(cmd, args, what) {
  const status = run(cmd, args);
  if (status !== 0) {
    console.error(`iamdb: ${what} failed (exit ${status}); see the output above.`);
    process.exit(status);
  }
}

function newestMtime(dir) {
  let newest = 0;
  if (!existsSync(dir)) return newest;
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const t = statSync(join(entry.parentPath ?? entry.path, entry.name)).mtimeMs;
    if (t > newest) newest = t;
  }
  return newest;
}

/** Installs dependencies when node_modules is missing or older than the lock file. */
function ensureDeps() {
  const marker = join(root, "node_modules", ".package-lock.json");
  const lock = join(root, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  console.error("iamdb: installing dependencies (npm ci) ...");
  must("npm", ["ci", "--no-audit", "--no-fund"], "npm ci");
}

/** Compiles src/ to dist/ when any source is newer than the last build. */
function ensureBuild() {
  const stamp = join(root, "dist", "src", "index.js");
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestMtime(join(root, "src"))) return;
  must(bin("tsc"), ["-p", "tsconfig.build.json"], "build (tsc)");
}

function testFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".test.ts"))
    .map((f) => relative(root, join(dir, f)))
    .sort();
}

const [command = "start", ...rest] = process.argv.slice(2);
ensureDeps();
ensureBuild();

switch (command) {
  case "start":
    runForwardingSignals(process.execPath, [join(root, "bin", "iamdb.js"), "up", ...rest]);
    break;
  case "test": {
    must(bin("tsc"), ["--noEmit", "-p", "tsconfig.json"], "type-check (tsc --noEmit)");
    must(
      bin("biome"),
      ["check", ...lintTargets(root)],
      "lint and format check (biome check of the files git tracks; `npm run format` fixes)",
    );
    const files = rest.length > 0 ? rest : testFiles(join(root, "test"));
    runForwardingSignals(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files]);
    break;
  }
  case "bench":
    runForwardingSignals(process.execPath, ["--import", "tsx", join(root, "bench", "index.ts"), ...rest]);
    break;
  case "fuzz":
    process.exit(run(process.execPath, ["--import", "tsx", join(root, "fuzz", "index.ts"), ...rest]));
    break;
  default:
    console.error(`usage: node scripts/run.mjs start|test|bench|fuzz [args]`);
    process.exit(2);
}
