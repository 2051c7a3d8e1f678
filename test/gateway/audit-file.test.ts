// The statement audit's file and auditor, without a gateway: 0600, a wider mode refused,
// rotation at the size bound, the queue bound, write errors, and the rate-limited warning
// (fake clocks: no timing assertions).
import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError, DEFAULTS, parseConfig } from "../../src/config/load.js";
import { FileModeError } from "../../src/files/permissions.js";
import { type AuditDropReason, AuditFile } from "../../src/gateway/audit/audit-file.js";
import { StatementAuditor } from "../../src/gateway/audit/statement-audit.js";
import { configureLogger } from "../../src/log/logger.js";

const root = mkdtempSync(join(tmpdir(), "iamdb-aud-file-"));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = () => join(root, `d${n++}`, "audit.jsonl");
const line = (k: number, width = 90) => `${JSON.stringify({ k, pad: "x".repeat(width) })}\n`;

describe("AuditFile", () => {
  it("creates the file 0600 in a 0700 directory and appends lines in order", async () => {
    const file = fresh();
    const f = new AuditFile({ file, maxBytes: 1 << 20, maxFiles: 2, queueLines: 100 });
    for (let k = 0; k < 50; k++) assert.equal(f.append(line(k)), true);
    await f.close();
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(statSync(join(file, "..")).mode & 0o777, 0o700);
    assert.deepEqual(
      readFileSync(file, "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).k),
      Array.from({ length: 50 }, (_, k) => k),
    );
  });

  it("refuses a file group or others can read, naming the chmod that fixes it", () => {
    const file = fresh();
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, "");
    chmodSync(file, 0o644);
    assert.throws(
      () => new AuditFile({ file, maxBytes: 1 << 20, maxFiles: 2, queueLines: 10 }),
      (e: unknown) => e instanceof FileModeError && e.message.includes(`chmod 600 ${file}`),
    );
  });

  it("rotates before a write would pass maxBytes: file → file.1 → file.2, no more than maxFiles, no line split", async () => {
    const file = fresh();
    const maxBytes = 1000;
    const f = new AuditFile({ file, maxBytes, maxFiles: 2, queueLines: 1000 });
    const size = Buffer.byteLength(line(0));
    const total = 40;
    // Some lines in one turn (one batch), some one by one: rotation works inside a batch too.
    for (let k = 0; k < 20; k++) f.append(line(k));
    await f.flush();
    for (let k = 20; k < total; k++) {
      f.append(line(k));
      await f.flush();
    }
    await f.close();
    const perFile = Math.floor(maxBytes / size);
    const read = (p: string) =>
      readFileSync(p, "utf8")
        .trimEnd()
        .split("\n")
        .map((l) => JSON.parse(l).k as number);
    const current = read(file);
    const one = read(`${file}.1`);
    const two = read(`${file}.2`);
    assert.equal(existsSync(`${file}.3`), false, "only maxFiles rotated files are kept");
    for (const p of [file, `${file}.1`, `${file}.2`]) {
      assert.ok(statSync(p).size <= maxBytes, `${p} within maxBytes`);
      assert.equal(statSync(p).mode & 0o777, 0o600);
    }
    // The newest lines are in the current file, the ones before in .1, then .2, each full.
    assert.deepEqual(
      [...two, ...one, ...current],
      Array.from(
        { length: two.length + one.length + current.length },
        (_, i) => total - current.length - one.length - two.length + i,
      ),
    );
    assert.equal(one.length, perFile);
    assert.equal(two.length, perFile);
    assert.equal(current.length, total % perFile || perFile);
  });

  it("a line longer than maxBytes gets a file of its own", async () => {
    const file = fresh();
    const f = new AuditFile({ file, maxBytes: 100, maxFiles: 3, queueLines: 10 });
    f.append(line(1, 10));
    f.append(line(2, 300));
    f.append(line(3, 10));
    await f.close();
    assert.match(readFileSync(`${file}.2`, "utf8"), /"k":1/);
    assert.match(readFileSync(`${file}.1`, "utf8"), /"k":2/);
    assert.match(readFileSync(file, "utf8"), /"k":3/);
  });

  it("holds at most queueLines lines: the rest are dropped and counted, never waited for", async () => {
    const file = fresh();
    const drops: Array<[number, AuditDropReason]> = [];
    let written = 0;
    const f = new AuditFile({
      file,
      maxBytes: 1 << 20,
      maxFiles: 1,
      queueLines: 5,
      onDropped: (k, reason) => drops.push([k, reason]),
      onWritten: (k) => {
        written += k;
      },
    });
    // All in one turn: the writer has not run yet.
    const accepted = Array.from({ length: 12 }, (_, k) => f.append(line(k))).filter(Boolean).length;
    assert.equal(accepted, 5);
    assert.equal(f.held, 5);
    await f.close();
    assert.equal(written, 5);
    assert.deepEqual(
      drops,
      Array.from({ length: 7 }, () => [1, "queue-full"]),
    );
    assert.equal(f.append(line(99)), false, "closed: dropped");
  });

  it("a file that cannot be written: lines counted as write-error drops, retried after retryMs", async () => {
    const file = fresh();
    let now = 0;
    let dropped = 0;
    let written = 0;
    const f = new AuditFile({
      file,
      maxBytes: 1 << 20,
      maxFiles: 1,
      queueLines: 100,
      retryMs: 1000,
      now: () => now,
      onDropped: (k, reason) => {
        assert.equal(reason, "write-error");
        dropped += k;
      },
      onWritten: (k) => {
        written += k;
      },
    });
    mkdirSync(file); // EISDIR when opened for appending
    f.append(line(1));
    f.append(line(2));
    await f.flush();
    assert.equal(dropped, 2);
    now = 500; // within retryMs: dropped without trying
    f.append(line(3));
    await f.flush();
    assert.equal(dropped, 3);
    rmSync(file, { recursive: true });
    now = 1500;
    f.append(line(4));
    await f.close();
    assert.equal(written, 1);
    assert.match(readFileSync(file, "utf8"), /"k":4/);
  });
});

describe("StatementAuditor", () => {
  it("warns at most once per interval with the count since the last warning, and at close", async () => {
    const logged: Array<Record<string, unknown>> = [];
    configureLogger({
      level: "info",
      destination: { write: (l: string) => void logged.push(JSON.parse(l)) },
    });
    try {
      let now = 0;
      const counted: Record<string, number> = {};
      const a = new StatementAuditor({
        instance: "pg1",
        engine: "postgres",
        config: { ...DEFAULTS.audit, file: fresh(), queueLines: 1 },
        warnEveryMs: 60_000,
        now: () => now,
        counters: {
          auditWritten: (_i, k) => {
            counted.written = (counted.written ?? 0) + k;
          },
          auditDropped: (_i, reason, k) => {
            counted[reason] = (counted[reason] ?? 0) + k;
          },
        },
      });
      a.append("{}\n");
      for (let k = 0; k < 4; k++) a.append("{}\n"); // 4 dropped: one warning now
      now = 30_000;
      for (let k = 0; k < 3; k++) a.append("{}\n"); // within the interval: no warning yet
      await a.close(); // the 3 unreported ones are reported at close
      const warnings = logged.filter((l) => l.component === "statement-audit");
      assert.deepEqual(
        warnings.map((w) => [w.level, w.dropped, w.droppedTotal]),
        [
          ["warn", 1, 1],
          ["warn", 6, 7],
        ],
      );
      assert.match(String(warnings[0]?.msg), /audit\.queueLines/);
      assert.deepEqual(counted, { written: 1, "queue-full": 7 });
    } finally {
      configureLogger({ level: "info" });
    }
  });
});

describe("audit configuration", () => {
  const base = { dataDir: "/srv/iamdb", instances: [{ identifier: "pg1" }] };
  const withAudit = (audit: unknown, extra: object = {}) =>
    parseConfig({ ...base, instances: [{ identifier: "pg1", audit, ...extra }] }, "/etc/iamdb");

  it("is off by default; on, every default filled and the file under the data directory", () => {
    assert.equal(parseConfig(base).instances[0]?.audit, undefined);
    assert.equal(withAudit({ statements: false })?.instances[0]?.audit, undefined);
    assert.deepEqual(withAudit({ statements: true }).instances[0]?.audit, {
      ...DEFAULTS.audit,
      file: "/srv/iamdb/audit/pg1.jsonl",
    });
  });

  it("resolves a relative file against the config file's directory", () => {
    assert.equal(
      withAudit({ statements: true, file: "logs/a.jsonl" }).instances[0]?.audit?.file,
      "/etc/iamdb/logs/a.jsonl",
    );
  });

  it("refuses unknown fields, bad bounds, and two instances sharing a file, saying what to do", () => {
    assert.throws(
      () => withAudit({ statements: true, rotate: 1 }),
      /instances\[0\]\.audit has an unknown field "rotate"/,
    );
    assert.throws(
      () => withAudit({ statements: "yes" }),
      /instances\[0\]\.audit\.statements must be true or false/,
    );
    assert.throws(
      () => withAudit({ statements: true, queueLines: 0 }),
      /audit\.queueLines must be a whole number from 1/,
    );
    assert.throws(
      () => withAudit({ statements: true, maxBytes: 4096, maxTextBytes: 65536 }),
      /maxBytes \(4096\) must be at least 6 × maxTextBytes \+ 2048/,
    );
    assert.throws(
      () =>
        parseConfig({
          instances: [
            { identifier: "a", audit: { statements: true, file: "/x/audit.jsonl" } },
            { identifier: "b", audit: { statements: true, file: "/x/audit.jsonl" } },
          ],
        }),
      (e: unknown) =>
        e instanceof ConfigError && /instances a and b have the same audit\.file/.test(e.message),
    );
  });
});
