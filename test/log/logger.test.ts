import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, LogLevelError, parseLogLevel, resolveLogLevel } from "../../src/log/logger.js";
import { prettyLine } from "../../src/log/pretty.js";

function capture(): { lines: string[]; write(line: string): void } {
  const lines: string[] = [];
  return { lines, write: (line) => void lines.push(line) };
}

describe("log levels", () => {
  it("--log-level wins over IAMDB_LOG_LEVEL, which wins over info; any letter case", () => {
    assert.equal(resolveLogLevel(undefined, {}), "info");
    assert.equal(resolveLogLevel(undefined, { IAMDB_LOG_LEVEL: "" }), "info");
    assert.equal(resolveLogLevel(undefined, { IAMDB_LOG_LEVEL: "DEBUG" }), "debug");
    assert.equal(resolveLogLevel("warn", { IAMDB_LOG_LEVEL: "trace" }), "warn");
    for (const level of ["trace", "debug", "info", "warn", "error", "silent"]) {
      assert.equal(parseLogLevel(` ${level.toUpperCase()} `, "--log-level"), level);
    }
  });

  it("a level that is not one says where it came from and what to use", () => {
    assert.throws(
      () => resolveLogLevel("verbose", {}),
      (e: unknown) =>
        e instanceof LogLevelError &&
        e.message === '--log-level is "verbose": use one of trace, debug, info, warn, error, silent',
    );
    assert.throws(() => resolveLogLevel(undefined, { IAMDB_LOG_LEVEL: "loud" }), /IAMDB_LOG_LEVEL is "loud"/);
    assert.throws(() => parseLogLevel("fatal", "x"), LogLevelError);
  });

  it("below the level nothing is written; silent writes nothing at all", () => {
    const out = capture();
    const l = createLogger({ level: "warn", destination: out, pretty: false });
    l.info("not this");
    l.debug("nor this");
    l.warn("this");
    assert.equal(out.lines.length, 1);
    const quiet = capture();
    const s = createLogger({ level: "silent", destination: quiet, pretty: false });
    s.error("no");
    assert.equal(quiet.lines.length, 0);
  });
});

describe("log lines", () => {
  it("JSON: one object per line with level (a name), time (ISO 8601), msg, pid and the fields", () => {
    const out = capture();
    const l = createLogger({ level: "trace", destination: out, pretty: false });
    l.warn({ component: "listener", port: 5433 }, "cannot accept");
    assert.equal(out.lines.length, 1);
    assert.ok(out.lines[0]?.endsWith("\n"));
    const entry = JSON.parse(out.lines[0] ?? "") as Record<string, unknown>;
    assert.equal(entry.level, "warn");
    assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(entry.msg, "cannot accept");
    assert.equal(entry.pid, process.pid);
    assert.equal(entry.component, "listener");
    assert.equal(entry.port, 5433);
  });

  it("fields named like secrets are censored, at the top level and one down", () => {
    const out = capture();
    const l = createLogger({ level: "info", destination: out, pretty: false });
    l.info(
      { password: "hunter2", token: "tok", detail: { secretAccessKey: "sk", sessionToken: "st", ok: 1 } },
      "x",
    );
    const text = out.lines.join("");
    for (const secret of ["hunter2", '"tok"', '"sk"', '"st"']) assert.ok(!text.includes(secret), secret);
    assert.match(text, /"password":"\[redacted\]"/);
    assert.match(text, /"ok":1/);
  });

  it("pretty (a terminal): time, level, message and key=value on one line; errors by their message", () => {
    const out = capture();
    const l = createLogger({ level: "info", destination: out, pretty: true });
    l.warn({ component: "store", err: new Error("connection refused"), n: 2 }, "listener lost");
    const line = out.lines[0] ?? "";
    assert.match(
      line,
      /^\d\d:\d\d:\d\d\.\d{3} WARN {2}listener lost component=store err="connection refused" n=2\n$/,
    );
    assert.equal(prettyLine("not json\n"), "not json\n");
  });
});
