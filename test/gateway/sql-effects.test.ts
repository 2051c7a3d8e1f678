// What a transaction-mode pool reads from SQL text: pins, tracked SETs, DEALLOCATE/DISCARD ALL.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { blankLiterals, sqlEffects } from "../../src/engines/postgres/sql-effects.js";
import { MessageSplitter } from "../../src/wire/postgres/messages.js";

describe("sqlEffects", () => {
  const pins: Array<[string, string]> = [
    ["LISTEN jobs", "listen"],
    ["select pg_advisory_lock(1)", "advisory-lock"],
    ["SELECT pg_try_advisory_lock_shared(1, 2)", "advisory-lock"],
    ["create temporary table t (v int)", "temporary-object"],
    ["CREATE TEMP VIEW v AS SELECT 1", "temporary-object"],
    ["select * into temp t from x", "temporary-object"],
    ["PREPARE p AS select 1", "sql-prepare"],
    ["declare c cursor with hold for select 1", "cursor-with-hold"],
    ["LOAD 'auto_explain'", "load"],
    ["set enable_seqscan = off", "set-untracked"],
    ["select set_config('x.y', '1', false)", "set-config"],
    ["set role admin", "set-role"],
    ["SET SESSION AUTHORIZATION bob", "set-role"],
    ["set session characteristics as transaction read only", "session-characteristics"],
    ["set search_path = a; select 1", "set-in-transaction"],
  ];
  for (const [sql, reason] of pins) it(`pins ${sql}`, () => assert.equal(sqlEffects(sql, false).pin, reason));

  it("pins a SET of a tracked parameter inside a transaction (it may be rolled back)", () => {
    assert.equal(sqlEffects("set search_path = a", true).pin, "set-in-transaction");
  });

  const free = [
    "select 'listen to this', $$ pg_advisory_lock( $$ -- set role x\n",
    "/* create temp table */ select 1",
    "set local work_mem = '1MB'",
    "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE",
    "set time zone 'UTC'",
    "set timezone = 'UTC'",
    "SET DateStyle TO ISO",
    "set application_name = 'x'",
    "select pg_advisory_xact_lock(1)",
    "unlisten *",
    "begin; select 1; commit",
  ];
  for (const sql of free)
    it(`does not pin ${JSON.stringify(sql)}`, () => assert.equal(sqlEffects(sql, false).pin, undefined));

  it("remembers a tracked SET outside a transaction, and RESET, DEALLOCATE ALL, DISCARD ALL", () => {
    assert.equal(sqlEffects("SET search_path TO a, public;", false).set, "search_path");
    assert.equal(sqlEffects("set statement_timeout = 5000", false).set, "statement_timeout");
    assert.equal(sqlEffects("reset search_path", false).reset, "search_path");
    assert.equal(sqlEffects("RESET ALL", false).reset, "all");
    assert.equal(sqlEffects("deallocate all", false).deallocateAll, true);
    assert.equal(sqlEffects("DEALLOCATE PREPARE ALL", false).deallocateAll, true);
    assert.equal(sqlEffects("discard all", false).discardAll, true);
  });

  it("never throws on arbitrary text", () => {
    fc.assert(
      fc.property(fc.string(), fc.boolean(), (sql, tx) => {
        sqlEffects(sql, tx);
        blankLiterals(sql);
      }),
    );
  });
});

describe("MessageSplitter", () => {
  const message = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, 0, "latin1");
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const stream = Buffer.concat([
    message("Z", Buffer.from("I")),
    message("D", Buffer.alloc(300, 7)),
    message("S", Buffer.alloc(0)),
    message("C", Buffer.from("SELECT 1\0")),
  ]);

  it("hands over the same messages however the stream is cut", () => {
    for (let a = 0; a <= stream.length; a++) {
      for (const b of [a, Math.min(stream.length, a + 3), stream.length]) {
        const s = new MessageSplitter();
        const seen: Buffer[] = [];
        for (const part of [stream.subarray(0, a), stream.subarray(a, b), stream.subarray(b)])
          s.push(part, (_t, m) => seen.push(Buffer.from(m)));
        assert.deepEqual(Buffer.concat(seen), stream);
        assert.equal(seen.length, 4);
        assert.ok(s.atBoundary);
      }
    }
  });

  it("breaks on a length below 4, and never throws on arbitrary bytes", () => {
    const s = new MessageSplitter();
    assert.equal(
      s.push(Buffer.from([0x51, 0, 0, 0, 3]), () => undefined),
      false,
    );
    assert.ok(s.broken);
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 })), (chunks) => {
        const splitter = new MessageSplitter();
        for (const c of chunks) splitter.push(Buffer.from(c), () => undefined);
      }),
    );
  });
});
