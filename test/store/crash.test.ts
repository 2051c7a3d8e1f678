import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { it } from "node:test";
import Database from "better-sqlite3";
import { DEFAULT_SQLITE_FILE } from "../../src/store/sqlite/open.js";
import { tempDir } from "../iam/fixtures.js";

const WRITER = join(import.meta.dirname, "fixtures", "crash-writer.ts");

/** Runs the writer until it has reported `after` commits, then SIGKILLs it mid-burst. */
function burstAndKill(dataDir: string, round: number, after: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", WRITER, dataDir, String(round)], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const lines: string[] = [];
    let buffered = "";
    let stderr = "";
    let killed = false;
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString();
      const parts = buffered.split("\n");
      buffered = parts.pop() ?? "";
      for (const p of parts) if (p !== "ready") lines.push(p);
      if (!killed && lines.length >= after) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`writer exited (${code}) before being killed: ${stderr}`));
      else resolve(lines);
    });
  });
}

it("a SQLite store killed with SIGKILL mid-burst reopens with every reported commit and passes integrity_check", async () => {
  const t = tempDir();
  try {
    const reported: string[] = [];
    for (let round = 1; round <= 3; round++)
      reported.push(...(await burstAndKill(t.dir, round, 100 * round)));
    assert.ok(reported.length >= 600);

    const db = new Database(join(t.dir, DEFAULT_SQLITE_FILE));
    try {
      assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
      const user = db.prepare("SELECT 1 FROM users WHERE user_name = ?").pluck();
      const key = db.prepare("SELECT 1 FROM access_keys WHERE access_key_id = ?").pluck();
      const policy = db
        .prepare(
          `SELECT 1 FROM inline_policies p JOIN users u ON u.user_id = p.owner_id
           WHERE p.owner_kind = 'user' AND u.user_name = ? AND p.policy_name = 'connect'`,
        )
        .pluck();
      for (const line of reported) {
        const [kind, id] = line.split(" ");
        const stmt = kind === "user" ? user : kind === "key" ? key : policy;
        assert.equal(stmt.get(id), 1, `committed write lost: ${line}`);
      }
    } finally {
      db.close();
    }
  } finally {
    t.remove();
  }
});
