// What `npm test` lints: the files git tracks, so a user's own files in the checkout (an
// `iamdb.json`, notes, a scratch script) never fail the format check. Outside a git
// checkout (an unpacked tarball, git missing) it is the whole tree, as `biome check .`.
// Plain JavaScript, like run.mjs: it runs before anything is installed.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

/** The paths to hand `biome check`, relative to `root`; biome's own includes still apply. */
export function lintTargets(root) {
  const r = spawnSync("git", ["ls-files", "-z"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error || r.status !== 0) return ["."];
  // A tracked file deleted in the work tree is not there to lint.
  const files = r.stdout.split("\0").filter((f) => f !== "" && existsSync(join(root, f)));
  return files.length > 0 ? files : ["."];
}
