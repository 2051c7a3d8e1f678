// The auth log file: every line arrives, in order, whether written in one turn of the event
// loop (batched into one write) or across many, and the file is private to its owner.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { authLogSink } from "../../src/gateway/authLog.js";

describe("authLogSink", () => {
  it("writes every line in order, batched within a turn or not, to a 0600 file", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-authlog-"));
    try {
      const file = join(dir, "logs", "auth.log");
      const sink = authLogSink(file);
      const expected: string[] = [];
      for (let turn = 0; turn < 20; turn++) {
        // A burst in one turn, then a quiet turn or two.
        for (let i = 0; i < turn * 7; i++) {
          const line = `{"turn":${turn},"i":${i}}\n`;
          expected.push(line);
          sink.write(line);
        }
        await nextTurn();
        if (turn % 3 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      // Lines written just before close are not lost either.
      sink.write("last\n");
      expected.push("last\n");
      await sink.close();
      assert.equal(readFileSync(file, "utf8"), expected.join(""));
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("lines reach the file without waiting for close", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-authlog-"));
    try {
      const file = join(dir, "auth.log");
      const sink = authLogSink(file);
      sink.write("one\n");
      sink.write("two\n");
      let text = "";
      for (let i = 0; i < 100 && text !== "one\ntwo\n"; i++) {
        await new Promise((r) => setTimeout(r, 10));
        text = readFileSync(file, "utf8");
      }
      assert.equal(text, "one\ntwo\n");
      await sink.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
