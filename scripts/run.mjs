#!/usr/bin/env node
// The entry behind `npm start`, `npm test`, `npm run bench` and `npm run fuzz`: each must work on a fresh
// clone with nothing installed, so this script installs dependencies and builds first.
// Plain JavaScript on purpose: it runs before TypeScript or any dependency is present.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

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
    process.exit(run(process.execPath, [join(root, "bin", "iamdb.js"), "up", ...rest]));
    break;
  case "test": {
    must(bin("tsc"), ["--noEmit", "-p", "tsconfig.json"], "type-check (tsc --noEmit)");
    must(bin("biome"), ["check", "."], "lint and format check (biome check; `npm run format` fixes)");
    const files = rest.length > 0 ? rest : testFiles(join(root, "test"));
    process.exit(run(process.execPath, ["--import", "tsx", "--test", "--test-reporter=spec", ...files]));
    break;
  }
  case "bench":
    process.exit(run(process.execPath, ["--import", "tsx", join(root, "bench", "index.ts"), ...rest]));
    break;
  case "fuzz":
    process.exit(run(process.execPath, ["--import", "tsx", join(root, "fuzz", "index.ts"), ...rest]));
    break;
  default:
    console.error(`usage: node scripts/run.mjs start|test|bench|fuzz [args]`);
    process.exit(2);
}
