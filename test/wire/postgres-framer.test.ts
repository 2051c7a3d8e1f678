// MessageFramer follows message boundaries in a relayed stream: the same messages however the
// stream is split, wanted messages handed over whole, and a bad length stops it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { MessageFramer } from "../../src/wire/postgres/index.js";

function message(type: number, body: Buffer): Buffer {
  const header = Buffer.alloc(5);
  header[0] = type;
  header.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([header, body]);
}

/** Splits `stream` at the given cut points (positions, any order, duplicates allowed). */
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

const messages = fc.array(
  fc.record({
    type: fc.constantFrom(0x44, 0x43, 0x53, 0x5a, 0x54, 0x64),
    body: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
  }),
  { maxLength: 30 },
);

describe("MessageFramer", () => {
  it("visits the same types, and hands over the same whole messages, however the stream is split", () => {
    fc.assert(
      fc.property(messages, fc.array(fc.nat(2000), { maxLength: 40 }), (list, cuts) => {
        const raw = list.map((m) => message(m.type, m.body));
        const stream = Buffer.concat(raw);
        const wanted = (t: number) => t === 0x5a || t === 0x53;
        const framer = new MessageFramer([0x5a, 0x53]);
        const types: number[] = [];
        const wholes: Buffer[] = [];
        for (const chunk of split(stream, cuts)) {
          framer.scan(chunk, (type, offset, whole) => {
            types.push(type);
            if (offset >= 0) assert.equal(chunk[offset], type, "the offset points at the type byte");
            if (whole) wholes.push(Buffer.from(whole));
            return undefined;
          });
        }
        assert.deepEqual(
          types,
          list.map((m) => m.type),
        );
        assert.deepEqual(
          wholes,
          raw.filter((m) => wanted(m[0] as number)),
        );
        assert.equal(framer.atBoundary, true);
      }),
      { numRuns: 2_000 },
    );
  });

  it("hands over a wanted message with no body at once, even when its header came split", () => {
    const m = message(0x53, Buffer.alloc(0));
    for (let cut = 1; cut < m.length; cut++) {
      const framer = new MessageFramer([0x53]);
      const wholes: Buffer[] = [];
      const visit = (_t: number, _o: number, whole: Buffer | undefined) => {
        if (whole) wholes.push(Buffer.from(whole));
        return undefined;
      };
      framer.scan(m.subarray(0, cut), visit);
      framer.scan(m.subarray(cut), visit);
      assert.deepEqual(wholes, [m], `cut at ${cut}`);
      assert.equal(framer.atBoundary, true);
    }
  });

  it("is not at a boundary in the middle of a message or a header", () => {
    const m = message(0x44, Buffer.from("hello"));
    for (let cut = 1; cut < m.length; cut++) {
      const framer = new MessageFramer([]);
      framer.scan(m.subarray(0, cut), () => undefined);
      assert.equal(framer.atBoundary, false, `cut at ${cut}`);
      framer.scan(m.subarray(cut), () => undefined);
      assert.equal(framer.atBoundary, true, `completed after cut at ${cut}`);
    }
  });

  it("stops where the visitor says, with the message's offset", () => {
    const stream = Buffer.concat([message(0x51, Buffer.from("select 1\0")), message(0x58, Buffer.alloc(0))]);
    const framer = new MessageFramer([]);
    let at = -2;
    const stopped = framer.scan(stream, (type, offset) => {
      if (type !== 0x58) return undefined;
      at = offset;
      return true;
    });
    assert.equal(stopped, true);
    assert.equal(at, 14);
  });

  it("a length below 4, or a wanted message beyond the bound, breaks it for good", () => {
    const bad = Buffer.from([0x44, 0, 0, 0, 3]);
    const framer = new MessageFramer([]);
    framer.scan(bad, () => undefined);
    assert.equal(framer.broken, true);
    assert.equal(framer.atBoundary, false);
    let visited = 0;
    framer.scan(message(0x44, Buffer.alloc(1)), () => {
      visited++;
      return undefined;
    });
    assert.equal(visited, 0);

    const bounded = new MessageFramer([0x53], 16);
    bounded.scan(message(0x53, Buffer.alloc(100)), () => undefined);
    assert.equal(bounded.broken, true);
  });
});
