// CommandTracker's following of the server's answers (ResponseTracker): when the answer to
// every command sent is complete, and what the last OK / EOF said. Bytes built by hand.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Capability, CommandTracker } from "../../src/wire/mysql/index.js";

const NONE: ReadonlySet<number> = new Set();

function frame(seq: number, payload: Buffer | number[]): Buffer {
  const p = Buffer.from(payload);
  return Buffer.concat([Buffer.from([p.length & 0xff, (p.length >> 8) & 0xff, p.length >> 16, seq]), p]);
}

const cmd = (byte: number, text = "") => frame(0, [byte, ...Buffer.from(text)]);
const query = (sql: string) => cmd(0x03, sql);
/** OK packet: header, affected rows, last insert id, status flags, warnings. */
const ok = (seq: number, status: number, header = 0x00, affected = 0) =>
  frame(seq, [
    header,
    ...(affected > 250 ? [0xfc, affected & 0xff, affected >> 8] : [affected]),
    0,
    status & 0xff,
    status >> 8,
    0,
    0,
  ]);
const eof = (seq: number, status: number) => frame(seq, [0xfe, 0, 0, status & 0xff, status >> 8]);
const err = (seq: number) => frame(seq, [0xff, 0x28, 0x04, ...Buffer.from("#42000oops")]);
const colDef = (seq: number) =>
  frame(seq, [
    3,
    ...Buffer.from("def"),
    0,
    0,
    0,
    1,
    0x61,
    0,
    0x0c,
    0x21,
    0,
    10,
    0,
    0,
    0,
    0xfd,
    0,
    0,
    0,
    0,
    0,
  ]);
const row = (seq: number, value: string) => frame(seq, [value.length, ...Buffer.from(value)]);

const AUTOCOMMIT = 0x0002;
const IN_TRANS = 0x0001;
const MORE = 0x0008;
const CURSOR = 0x0040;

/** A text result set of `columns` columns and `rows` rows, numbered from seq 1. */
function resultSet(deprecateEof: boolean, columns: number, rows: number, status = AUTOCOMMIT): Buffer {
  let seq = 1;
  const parts = [frame(seq++, [columns])];
  for (let i = 0; i < columns; i++) parts.push(colDef(seq++));
  if (!deprecateEof) parts.push(eof(seq++, AUTOCOMMIT));
  for (let i = 0; i < rows; i++) parts.push(row(seq++, `row${i}`));
  parts.push(deprecateEof ? ok(seq++, status, 0xfe) : eof(seq++, status));
  return Buffer.concat(parts);
}

/** Feeds `client`, then `server` cut at `cut`, and says whether the tracker was idle after each half. */
function feed(deprecateEof: boolean, client: Buffer, server: Buffer, cut: number) {
  const t = new CommandTracker(undefined, deprecateEof ? Capability.DEPRECATE_EOF : 0, AUTOCOMMIT);
  t.scan(client, NONE);
  t.scanServer(server.subarray(0, cut));
  const before = t.idle;
  t.scanServer(server.subarray(cut));
  return { before, after: t.idle, t };
}

/** Asserts the tracker is idle only once the whole answer is in, wherever the answer is cut. */
function idleOnlyAtEnd(deprecateEof: boolean, client: Buffer, server: Buffer) {
  for (let cut = 0; cut < server.length; cut++) {
    const r = feed(deprecateEof, client, server, cut);
    assert.equal(r.before, false, `idle before the end, cut at ${cut}`);
    assert.equal(r.after, true, `not idle at the end, cut at ${cut}`);
  }
}

describe("mysqlresp: answers followed to their end", () => {
  it("mysqlresp: a text result set, with and without CLIENT_DEPRECATE_EOF, at every cut", () => {
    for (const d of [false, true]) idleOnlyAtEnd(d, query("select a, b"), resultSet(d, 2, 3));
  });

  it("mysqlresp: a column count above 250 (length-encoded) is read from the packet's prefix", () => {
    const parts = [frame(1, [0xfc, 0x2c, 0x01])];
    for (let i = 0; i < 300; i++) parts.push(colDef(2));
    parts.push(ok(3, AUTOCOMMIT, 0xfe));
    const server = Buffer.concat(parts);
    idleOnlyAtEnd(true, query("select *"), server);
  });

  it("mysqlresp: multi-results (SERVER_MORE_RESULTS_EXISTS) continue until the last", () => {
    const server = Buffer.concat([
      ok(1, AUTOCOMMIT | MORE, 0x00, 1),
      resultSet(false, 1, 1, AUTOCOMMIT | MORE).subarray(0), // sequence ids are not checked
      ok(9, AUTOCOMMIT),
    ]);
    idleOnlyAtEnd(false, query("insert ...; select 1; do 1"), server);
  });

  it("mysqlresp: an OK with a 3-byte affected-rows count still gives its status", () => {
    const r = feed(false, query("begin; update"), ok(1, AUTOCOMMIT | IN_TRANS, 0x00, 1000), 0);
    assert.equal(r.after, false);
    assert.equal(r.t.responses.answered, true);
    assert.equal(r.t.responses.status & IN_TRANS, IN_TRANS);
  });

  it("mysqlresp: inside a transaction the answer is complete but the backend is not idle", () => {
    const t = new CommandTracker(undefined, 0, AUTOCOMMIT);
    t.scan(query("begin"), NONE);
    t.scanServer(ok(1, AUTOCOMMIT | IN_TRANS));
    assert.equal(t.responses.answered, true);
    assert.equal(t.idle, false);
    t.scan(query("commit"), NONE);
    t.scanServer(ok(1, AUTOCOMMIT));
    assert.equal(t.idle, true);
  });

  it("mysqlresp: an ERR in place of a result, or in the middle of rows, ends the answer", () => {
    idleOnlyAtEnd(false, query("select nope"), err(1));
    const mid = resultSet(false, 1, 2);
    const server = Buffer.concat([mid.subarray(0, mid.length - 9), err(5)]);
    idleOnlyAtEnd(false, query("select"), server);
  });

  it("mysqlresp: COM_STMT_PREPARE's OK with parameter and column definitions (and their EOFs)", () => {
    for (const d of [false, true]) {
      const prepareOk = frame(1, [0x00, 1, 0, 0, 0, /* columns */ 1, 0, /* params */ 2, 0, 0, 0, 0]);
      const parts = [prepareOk, colDef(2), colDef(3)];
      if (!d) parts.push(eof(4, AUTOCOMMIT));
      parts.push(colDef(5));
      if (!d) parts.push(eof(6, AUTOCOMMIT));
      idleOnlyAtEnd(d, cmd(0x16, "select ? + ?"), Buffer.concat(parts));
    }
  });

  it("mysqlresp: COM_STMT_EXECUTE opening a cursor ends after the definitions; COM_STMT_FETCH's rows follow", () => {
    for (const d of [false, true]) {
      const head = [frame(1, [1]), colDef(2)];
      const opened = Buffer.concat([
        ...head,
        d ? ok(3, AUTOCOMMIT | CURSOR, 0xfe) : eof(3, AUTOCOMMIT | CURSOR),
      ]);
      const execute = cmd(0x17, "\x01\x00\x00\x00\x01\x01\x00\x00\x00");
      idleOnlyAtEnd(d, execute, opened);
      const fetched = Buffer.concat([
        frame(1, [0x00, 0x00, 1, 0x61]),
        d ? ok(2, AUTOCOMMIT | 0x80, 0xfe) : eof(2, AUTOCOMMIT | 0x80),
      ]);
      const t = new CommandTracker(undefined, d ? Capability.DEPRECATE_EOF : 0, AUTOCOMMIT);
      t.scan(execute, NONE);
      t.scanServer(opened);
      t.scan(cmd(0x1c, "\x01\x00\x00\x00\x0a\x00\x00\x00"), NONE);
      assert.equal(t.idle, false);
      t.scanServer(fetched);
      assert.equal(t.idle, true);
    }
  });

  it("mysqlresp: pipelined commands: idle once the last one is answered", () => {
    const client = Buffer.concat([query("select 1"), cmd(0x0e), query("select 2")]);
    const server = Buffer.concat([resultSet(true, 1, 1), ok(1, AUTOCOMMIT), resultSet(true, 1, 1)]);
    idleOnlyAtEnd(true, client, server);
  });

  it("mysqlresp: COM_STATISTICS's string, COM_PING's OK; COM_STMT_CLOSE has no answer", () => {
    idleOnlyAtEnd(false, cmd(0x09), frame(1, Buffer.from("Uptime: 5  Threads: 1")));
    idleOnlyAtEnd(false, cmd(0x0e), ok(1, AUTOCOMMIT));
    const t = new CommandTracker(undefined, 0, AUTOCOMMIT);
    t.scan(cmd(0x19, "\x01\x00\x00\x00"), NONE);
    assert.equal(t.idle, true);
  });

  it("mysqlresp: after COM_SET_OPTION (multi-statements, which a reset keeps) the backend is never idle again", () => {
    const r = feed(false, cmd(0x1b, "\x00\x00"), ok(1, AUTOCOMMIT), 0);
    assert.equal(r.before, false);
    assert.equal(r.after, false, "answered, but not to be handed on");
    r.t.scan(cmd(0x0e), NONE);
    r.t.scanServer(ok(1, AUTOCOMMIT));
    assert.equal(r.t.idle, false);
  });

  it("mysqlresp: COM_FIELD_LIST's definitions up to the EOF", () => {
    idleOnlyAtEnd(false, cmd(0x04, "t\0"), Buffer.concat([colDef(1), colDef(2), eof(3, AUTOCOMMIT)]));
  });

  it("mysqlresp: LOAD DATA LOCAL: the request, the upload, then the OK", () => {
    const t = new CommandTracker(undefined, 0, AUTOCOMMIT);
    t.scan(query("load data local infile 'f' into table t"), NONE);
    t.scanServer(frame(1, [0xfb, ...Buffer.from("f")]));
    assert.equal(t.idle, false);
    t.scan(Buffer.concat([frame(2, Buffer.from("1\n")), frame(3, [])]), NONE);
    assert.equal(t.idle, false);
    t.scanServer(ok(4, AUTOCOMMIT, 0x00, 1));
    assert.equal(t.idle, true);
  });

  it("mysqlresp: lost for good: an unknown command, a packet nobody asked for, a pipelined upload", () => {
    const a = new CommandTracker(undefined, 0, AUTOCOMMIT);
    a.scan(cmd(0x12, "binlog"), NONE);
    a.scanServer(ok(1, AUTOCOMMIT));
    assert.equal(a.idle, false);
    assert.equal(a.responses.broken, true);
    const b = new CommandTracker(undefined, 0, AUTOCOMMIT);
    b.scanServer(err(0));
    b.scan(query("select 1"), NONE);
    b.scanServer(resultSet(false, 1, 1));
    assert.equal(b.idle, false);
    const c = new CommandTracker(undefined, 0, AUTOCOMMIT);
    c.scan(Buffer.concat([query("load data local infile 'f' into table t"), query("select 1")]), NONE);
    c.scanServer(frame(1, [0xfb, ...Buffer.from("f")]));
    assert.equal(c.responses.broken, true);
  });

  it("mysqlresp: never throws on arbitrary bytes both ways", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 64 })), { maxLength: 20 }),
        (steps) => {
          const t = new CommandTracker(undefined, Capability.DEPRECATE_EOF, AUTOCOMMIT);
          for (const [fromClient, bytes] of steps) {
            if (fromClient) t.scan(Buffer.from(bytes), NONE);
            else t.scanServer(Buffer.from(bytes));
            void t.idle;
          }
        },
      ),
    );
  });
});
