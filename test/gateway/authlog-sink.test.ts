// The auth log file: every line arrives, in order, whether written in one turn of the event
// loop (batched into one write) or across many, and the file is private to its owner. It
// follows a rename-based rotation on SIGHUP, survives and reports failed writes, and bounds
// pre-authentication noise (issue 19, finding 13).
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  type AuthAttempt,
  AuthLog,
  authLogSink,
  reopenOnSighup,
  sighupHandler,
} from "../../src/gateway/auth-log.js";
import { GatewayMetrics } from "../../src/gateway/metrics.js";
import { raw, readUntilClose } from "./clients.js";
import { startTestGateway } from "./fixture.js";

/** Polls `check` every 10 ms for up to 5 s. */
async function eventually(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`never happened: ${what}`);
}

const read = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");

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

describe("auth log rotation and write failures", () => {
  it("SIGHUP after a rename (logrotate without copytruncate): later lines go to a new file at the path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-authlog-"));
    const remove = () => undefined;
    let uninstall: () => void = remove;
    try {
      const file = join(dir, "auth.log");
      const sink = authLogSink(file);
      uninstall = reopenOnSighup(sink);
      sink.write("before\n");
      await eventually(() => read(file) === "before\n", "the first line is written");
      renameSync(file, `${file}.1`);
      sink.write("after rename, before HUP\n");
      await nextTurn();
      // A real SIGHUP to this process, through the installed handler.
      process.kill(process.pid, "SIGHUP");
      await eventually(() => existsSync(file), "the path is reopened");
      sink.write("after HUP\n");
      // The handler function itself, as the process calls it: a second rotation.
      await eventually(() => read(file) === "after HUP\n", "the line reaches the new file");
      renameSync(file, `${file}.2`);
      sighupHandler(sink)();
      sink.write("after second HUP\n");
      await sink.close();
      assert.equal(read(`${file}.1`), "before\nafter rename, before HUP\n");
      assert.equal(read(`${file}.2`), "after HUP\n");
      assert.equal(read(file), "after second HUP\n");
      assert.equal(statSync(file).mode & 0o777, 0o600);
    } finally {
      uninstall();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a failed write (disk full) is counted and said on stderr, logins go on, and writing resumes once it is fixed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-authlog-"));
    try {
      const file = join(dir, "auth.log");
      // Every write to /dev/full fails with ENOSPC.
      symlinkSync("/dev/full", file);
      const metrics = new GatewayMetrics(["pg1"]);
      const complaints: string[] = [];
      const sink = authLogSink(file, {
        onWriteError: () => metrics.authLogWriteFailed(),
        stderr: (line) => complaints.push(line),
        retryMs: 20,
      });
      sink.write("lost 1\n");
      await eventually(
        async () => (await metrics.processCounter("iamdb_auth_log_write_failures_total")) >= 1,
        "counted",
      );
      assert.equal(complaints.length, 1);
      assert.match(complaints[0] ?? "", /cannot write the auth log .*auth\.log: .*ENOSPC.*free disk space/);
      // Further failures are counted, not repeated on stderr every time.
      await new Promise((r) => setTimeout(r, 30));
      sink.write("lost 2\n");
      await eventually(
        async () => (await metrics.processCounter("iamdb_auth_log_write_failures_total")) >= 2,
        "counted again",
      );
      assert.equal(complaints.length, 1);
      assert.match(await metrics.render(), /^iamdb_auth_log_write_failures_total [1-9]/m);
      // Fixed: the path is a regular file again; the next write after the retry interval lands.
      rmSync(file);
      await new Promise((r) => setTimeout(r, 30));
      sink.write("kept\n");
      await eventually(() => read(file) === "kept\n", "writing resumed");
      await sink.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("pre-authentication noise", () => {
  const attempt = (source: string, n: number): AuthAttempt => ({
    correlationId: `c${n}`,
    client: `${source}:${40000 + (n % 20000)}`,
    instance: "pg1",
    engine: "postgres",
  });

  it("a junk flood from one source and from thousands: bounded lines per window, then one summary per source and cause", () => {
    let now = Date.parse("2026-01-01T00:00:00Z");
    const lines: string[] = [];
    let suppressed = 0;
    const log = new AuthLog(
      { write: (l) => lines.push(l) },
      { now: () => new Date(now), onSuppressed: (n) => (suppressed += n) },
    );
    for (let i = 0; i < 50_000; i++) log.failure(attempt("203.0.113.7", i), "protocol-violation", "junk");
    for (let i = 0; i < 20_000; i++)
      log.failure(attempt(`10.0.${i >> 8}.${i & 255}`, i), "tls-required", "junk");
    // Authentication attempts that name a key are always logged in full.
    for (let i = 0; i < 30; i++)
      log.failure({ ...attempt("203.0.113.7", i), accessKeyId: "AKIAEXAMPLE" }, "signature-mismatch", "bad");
    assert.ok(lines.length <= 200 + 30, `${lines.length} lines for 70,030 failures`);
    assert.equal(lines.filter((l) => l.includes("signature-mismatch")).length, 30);
    assert.equal(
      lines.filter((l) => l.includes("203.0.113.7") && l.includes("protocol-violation")).length,
      10,
    );
    now += 60_000;
    log.tick();
    const summaries = lines.map((l) => JSON.parse(l)).filter((l) => l.decision === "suppressed");
    assert.ok(summaries.length <= 101, `${summaries.length} summary lines`);
    const one = summaries.find((l) => l.client === "203.0.113.7");
    assert.equal(one?.suppressed, 50_000 - 10);
    assert.equal(one?.cause, "protocol-violation");
    const total = summaries.reduce((n, l) => n + (l.suppressed as number), 0);
    assert.equal(
      total,
      70_000 - lines.filter((l) => JSON.parse(l).decision === "failure" && !l.includes("signature")).length,
    );
    assert.equal(suppressed, total);
    // A new window: the source gets its first lines in full again.
    const before = lines.length;
    log.failure(attempt("203.0.113.7", 1), "protocol-violation", "junk");
    assert.equal(lines.length, before + 1);
    log.close();
  });

  it("through the gateway: 300 junk connections leave a bounded log, and the summary once the window ends", async () => {
    const gw = await startTestGateway({
      authLogNoise: { windowMs: 600_000, perSource: 5, maxLines: 50, maxSummaries: 10 },
    });
    try {
      for (let batch = 0; batch < 6; batch++) {
        await Promise.all(
          Array.from({ length: 50 }, async () => {
            const s = await raw(gw.port);
            const closed = readUntilClose(s);
            // A startup length of 4: below PostgreSQL's minimum of 8.
            s.write(Buffer.from([0, 0, 0, 4, 1, 2, 3, 4]));
            await closed;
          }),
        );
      }
      await new Promise((r) => setTimeout(r, 50));
      const failures = gw.log().filter((l) => l.decision === "failure");
      assert.equal(failures.length, 5, gw.logText().slice(0, 2000));
      gw.authLog.flush();
      const summary = gw.log().find((l) => l.decision === "suppressed");
      assert.equal(summary?.suppressed, 295);
      assert.equal(summary?.cause, "protocol-violation");
    } finally {
      await gw.close();
    }
  });
});
