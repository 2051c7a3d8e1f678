// The statement audit's readers: PostgreSQL Query / Parse texts and MySQL COM_QUERY /
// COM_STMT_PREPARE texts, the same however the stream is cut, capped, never a crash.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { CommandTracker, type MysqlStatementText } from "../../src/wire/mysql/index.js";
import { StatementReader, type StatementText } from "../../src/wire/postgres/statements.js";
import { BufferList } from "./buffers.js";

const query = (sql: string) => new BufferList().cstring(sql).typed("Q");
const parse = (name: string, sql: string, types: number[] = []) => {
  const b = new BufferList().cstring(name).cstring(sql).int16(types.length);
  for (const t of types) b.int32(t);
  return b.typed("P");
};
const bind = (name: string, value: string) =>
  new BufferList()
    .cstring("")
    .cstring(name)
    .int16(0)
    .int16(1)
    .int32(Buffer.byteLength(value))
    .string(value)
    .int16(0)
    .typed("B");
const sync = () => new BufferList().typed("S");
const terminate = () => new BufferList().typed("X");

interface Seen {
  kind: string;
  name: string | undefined;
  text: string;
  textBytes: number | undefined;
  truncated: boolean;
}
const seen = (s: StatementText): Seen => ({
  kind: s.kind,
  name: s.name?.toString(),
  text: s.text.toString(),
  textBytes: s.textBytes,
  truncated: s.truncated,
});

/** Splits `stream` at the given cut points. */
function split(stream: Buffer, cuts: number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const c of at) {
    if (c > from) chunks.push(stream.subarray(from, c));
    from = Math.max(from, c);
  }
  if (from < stream.length) chunks.push(stream.subarray(from));
  return chunks;
}

function readAll(reader: StatementReader, chunks: Buffer[]): Seen[] {
  const out: Seen[] = [];
  for (const c of chunks) reader.scan(c, (s) => out.push(seen(s)));
  return out;
}

describe("StatementReader (PostgreSQL)", () => {
  const stream = Buffer.concat([
    query("SELECT 1"),
    parse("s1", "SELECT $1::int", [23]),
    bind("s1", "secret-bind-value"),
    sync(),
    parse("", "SELECT 'é'"),
    query(""),
  ]);
  const expected: Seen[] = [
    { kind: "query", name: undefined, text: "SELECT 1", textBytes: 8, truncated: false },
    { kind: "parse", name: "s1", text: "SELECT $1::int", textBytes: 14, truncated: false },
    { kind: "parse", name: "", text: "SELECT 'é'", textBytes: 11, truncated: false },
    { kind: "query", name: undefined, text: "", textBytes: 0, truncated: false },
  ];

  it("reads Query and Parse texts, never a Bind's values, wherever the stream is cut", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const out = readAll(new StatementReader(1024), [stream.subarray(0, cut), stream.subarray(cut)]);
      assert.deepEqual(out, expected, `cut at ${cut}`);
    }
    for (let size = 1; size <= 7; size++) {
      const chunks = [];
      for (let i = 0; i < stream.length; i += size) chunks.push(stream.subarray(i, i + size));
      assert.deepEqual(readAll(new StatementReader(1024), chunks), expected, `chunks of ${size}`);
    }
  });

  it("cuts long texts at the cap and says so, with the whole length when known", () => {
    const long = "x".repeat(100);
    const s = Buffer.concat([query(long), parse("n", long)]);
    for (let cut = 0; cut <= s.length; cut++) {
      const out = readAll(new StatementReader(10), [s.subarray(0, cut), s.subarray(cut)]);
      assert.deepEqual(out, [
        { kind: "query", name: undefined, text: "x".repeat(10), textBytes: 100, truncated: true },
        { kind: "parse", name: "n", text: "x".repeat(10), textBytes: undefined, truncated: true },
      ]);
    }
    // Exactly at the cap: whole.
    assert.deepEqual(readAll(new StatementReader(100), [query(long)])[0]?.truncated, false);
  });

  it("stops at Terminate and at a length that is not a message stream", () => {
    const r = new StatementReader(64);
    assert.deepEqual(
      readAll(r, [Buffer.concat([query("a"), terminate(), query("b")])]).map((s) => s.text),
      ["a"],
    );
    assert.equal(r.stopped, true);
    const bad = Buffer.from([0x51, 0, 0, 0, 2]);
    const r2 = new StatementReader(64);
    assert.deepEqual(readAll(r2, [bad, query("c")]), []);
    assert.equal(r2.stopped, true);
  });

  it("arbitrary bytes, cut anywhere: never a crash, texts never longer than the cap", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat(500), { maxLength: 10 }),
        fc.integer({ min: 1, max: 64 }),
        (bytes, cuts, cap) => {
          const r = new StatementReader(cap);
          for (const c of split(Buffer.from(bytes), cuts)) {
            r.scan(c, (s) => assert.ok(s.text.length <= cap));
          }
        },
      ),
    );
  });

  it("valid message sequences give the same statements however they are cut", () => {
    const messages = fc.array(
      fc.oneof(
        fc.string({ maxLength: 30 }).map((t) => ({ m: query(t.replace(/\0/g, "")), k: "q" })),
        fc
          .tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 30 }))
          .map(([n, t]) => ({ m: parse(n.replace(/\0/g, ""), t.replace(/\0/g, "")), k: "p" })),
        fc.string({ maxLength: 30 }).map((v) => ({ m: bind("x", v), k: "b" })),
        fc.constant({ m: sync(), k: "s" }),
      ),
      { maxLength: 20 },
    );
    fc.assert(
      fc.property(messages, fc.array(fc.nat(2000), { maxLength: 30 }), (list, cuts) => {
        const stream = Buffer.concat(list.map((x) => x.m));
        const whole = readAll(new StatementReader(20), [stream]);
        assert.equal(whole.length, list.filter((x) => x.k === "q" || x.k === "p").length);
        assert.deepEqual(readAll(new StatementReader(20), split(stream, cuts)), whole);
      }),
    );
  });
});

/** header(len, seq) + payload, by hand. */
function frame(seq: number, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq]),
    payload,
  ]);
}

describe("CommandTracker statement capture (MySQL)", () => {
  const none = new Set<number>();
  const comQuery = (sql: string) => frame(0, Buffer.concat([Buffer.of(0x03), Buffer.from(sql)]));
  const comPrepare = (sql: string) => frame(0, Buffer.concat([Buffer.of(0x16), Buffer.from(sql)]));
  const comExecute = frame(0, Buffer.from([0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x03, 0x61]));
  const comPing = frame(0, Buffer.of(0x0e));

  function capture(chunks: Buffer[], cap = 1024, forbidden = none) {
    const out: Array<{ command: number; text: string; textBytes: number | undefined; truncated: boolean }> =
      [];
    const t = new CommandTracker({
      maxTextBytes: cap,
      onStatement: (s: MysqlStatementText) =>
        out.push({
          command: s.command,
          text: s.text.toString(),
          textBytes: s.textBytes,
          truncated: s.truncated,
        }),
    });
    const found = chunks.map((c) => t.scan(c, forbidden));
    return { out, found };
  }

  it("reads COM_QUERY and COM_STMT_PREPARE texts (not COM_STMT_EXECUTE) wherever the stream is cut", () => {
    const stream = Buffer.concat([
      comQuery("SELECT 1"),
      comPing,
      comPrepare("SELECT ?"),
      comExecute,
      comQuery(""),
    ]);
    const expected = [
      { command: 0x03, text: "SELECT 1", textBytes: 8, truncated: false },
      { command: 0x16, text: "SELECT ?", textBytes: 8, truncated: false },
      { command: 0x03, text: "", textBytes: 0, truncated: false },
    ];
    for (let cut = 0; cut <= stream.length; cut++) {
      assert.deepEqual(
        capture([stream.subarray(0, cut), stream.subarray(cut)]).out,
        expected,
        `cut at ${cut}`,
      );
    }
  });

  it("cuts at the cap; a text continued in a 0xFFFFFF-byte packet is truncated, its length unknown", () => {
    assert.deepEqual(capture([comQuery("y".repeat(50))], 10).out, [
      { command: 0x03, text: "y".repeat(10), textBytes: 50, truncated: true },
    ]);
    const head = Buffer.from([0xff, 0xff, 0xff, 0, 0x03]);
    const body = Buffer.alloc(0xffffff - 1, 0x7a);
    const { out } = capture([head, body, frame(1, Buffer.from("tail"))], 16);
    assert.deepEqual(out, [{ command: 0x03, text: "z".repeat(16), textBytes: undefined, truncated: true }]);
  });

  it("statements in a chunk that holds a forbidden command are not reported (the chunk is not relayed)", () => {
    const changeUser = frame(0, Buffer.from([0x11, ...Buffer.from("root\0")]));
    const { out, found } = capture([Buffer.concat([comQuery("SELECT 1"), changeUser])], 64, new Set([0x11]));
    assert.deepEqual(out, []);
    assert.deepEqual(found, [0x11]);
  });

  it("LOAD DATA LOCAL file packets are not taken for statements", () => {
    const load = comQuery("load data local infile 'f' into table t");
    const t = new CommandTracker({ maxTextBytes: 64, onStatement: (s) => texts.push(s.text.toString()) });
    const texts: string[] = [];
    t.scan(load, none);
    t.scanServer(frame(1, Buffer.from([0xfb, ...Buffer.from("f")])));
    // 254 file packets: the 255th would carry seq 0; it starts with 0x03 like a COM_QUERY.
    for (let k = 0; k < 256; k++) t.scan(frame((k + 2) & 0xff, Buffer.from([0x03, 0x61])), none);
    t.scan(frame(2, Buffer.alloc(0)), none);
    assert.deepEqual(texts, ["load data local infile 'f' into table t"]);
  });

  it("arbitrary bytes, cut anywhere: never a crash, texts never longer than the cap", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 400 }),
        fc.array(fc.nat(500), { maxLength: 10 }),
        fc.integer({ min: 0, max: 64 }),
        (bytes, cuts, cap) => {
          const t = new CommandTracker({
            maxTextBytes: cap,
            onStatement: (s) => assert.ok(s.text.length <= cap),
          });
          for (const c of split(Buffer.from(bytes), cuts)) t.scan(c, none);
        },
      ),
    );
  });
});
