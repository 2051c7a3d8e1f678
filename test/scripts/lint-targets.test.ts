// `npm test` lints what git tracks: a user's untracked `iamdb.json` in the checkout must not
// fail the format check. Outside a git checkout it lints the whole tree, as before.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { lintTargets } from "../../scripts/lint-targets.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const BIOME = join(ROOT, "node_modules", ".bin", "biome");
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A checkout-like folder with the repository's biome.json, a clean source file and a badly formatted iamdb.json. */
function checkout(git: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-lint-"));
  dirs.push(dir);
  copyFileSync(join(ROOT, "biome.json"), join(dir, "biome.json"));
  mkdirSync(join(dir, "src"));
  writeFileSync(join(dir, "src", "ok.ts"), 'export const ok = "ok";\n');
  if (git) {
    const g = (...args: string[]) => {
      const r = spawnSync("git", args, { cwd: dir, encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
    };
    g("init", "-q");
    g("add", "biome.json", "src/ok.ts");
  }
  writeFileSync(join(dir, "iamdb.json"), '{"instances":   [ {"identifier":"mine"} ]}');
  return dir;
}

const biome = (dir: string, targets: string[]) =>
  spawnSync(BIOME, ["check", ...targets], { cwd: dir, encoding: "utf8" });

describe("npm test's lint targets (scripts/lint-targets.mjs)", () => {
  it("in a git checkout: only tracked files, so an untracked iamdb.json does not fail biome check", () => {
    const dir = checkout(true);
    const targets = lintTargets(dir);
    assert.deepEqual(targets.sort(), ["biome.json", "src/ok.ts"]);
    const r = biome(dir, targets);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    // What `biome check .` did before: the user's file fails the format check.
    const all = biome(dir, ["."]);
    assert.notEqual(all.status, 0);
    assert.match(all.stdout + all.stderr, /iamdb\.json/);
  });

  it("a tracked file deleted from the work tree is left out (biome would fail on a missing path)", () => {
    const dir = checkout(true);
    rmSync(join(dir, "src", "ok.ts"));
    assert.deepEqual(lintTargets(dir), ["biome.json"]);
  });

  it("outside a git checkout: the whole tree, as biome check . does", () => {
    assert.deepEqual(lintTargets(checkout(false)), ["."]);
  });
});
