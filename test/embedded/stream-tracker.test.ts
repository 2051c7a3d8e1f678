// BackendStreamTracker (src/embedded/backend.ts) follows PGlite's output over the codec's
// MessageFramer to tell when the one backend may pass to another session.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BackendStreamTracker } from "../../src/embedded/backend.js";
import { errorResponse, parameterStatus, readyForQuery } from "../../src/wire/postgres/index.js";

/** Feeds `bytes` to a fresh tracker cut at `cut` and returns it. */
function track(bytes: Buffer, cut: number, errors = false): BackendStreamTracker {
  const t = new BackendStreamTracker(errors);
  t.reset();
  t.push(bytes.subarray(0, cut));
  t.push(new Uint8Array(bytes.subarray(cut))); // PGlite hands over Uint8Arrays
  return t;
}

const message = (type: string, body: Buffer) => {
  const head = Buffer.alloc(5);
  head.write(type, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
};
const parseComplete = message("1", Buffer.alloc(0));
const copyIn = message("G", Buffer.from([0, 0, 0]));

describe("embedded-codec: backend stream tracker", () => {
  it("embedded-codec: is idle only after ReadyForQuery('I'), wherever the stream is cut", () => {
    const cases: [string, Buffer, boolean][] = [
      ["ParseComplete, Z(I)", Buffer.concat([parseComplete, readyForQuery("I")]), true],
      ["ParseComplete, Z(T)", Buffer.concat([parseComplete, readyForQuery("T")]), false],
      [
        "Z(I), ParameterStatus",
        Buffer.concat([readyForQuery("I"), parameterStatus("TimeZone", "UTC")]),
        false,
      ],
      [
        "ErrorResponse, Z(E)",
        Buffer.concat([
          errorResponse({ severity: "ERROR", code: "42P01", message: "x" }),
          readyForQuery("E"),
        ]),
        false,
      ],
      ["Z(I), CopyInResponse", Buffer.concat([readyForQuery("I"), copyIn]), false],
      ["ParseComplete", parseComplete, false],
      ["Z(I) twice", Buffer.concat([readyForQuery("T"), readyForQuery("I")]), true],
    ];
    for (const [label, bytes, idle] of cases) {
      for (const errors of [false, true]) {
        for (let cut = 0; cut <= bytes.length; cut++) {
          assert.equal(track(bytes, cut, errors).idle, idle, `${label}, cut ${cut}`);
        }
      }
    }
  });

  it("embedded-codec: is not idle with a message cut short after ReadyForQuery('I')", () => {
    const t = new BackendStreamTracker();
    t.reset();
    t.push(Buffer.concat([readyForQuery("I"), parseComplete.subarray(0, 3)]));
    assert.equal(t.idle, false);
    t.push(parseComplete.subarray(3));
    assert.equal(t.idle, false);
  });

  it("embedded-codec: remembers the first error's fields and the last message type", () => {
    const bytes = Buffer.concat([
      errorResponse({ severity: "ERROR", code: "42501", message: "permission denied for table t" }),
      errorResponse({ severity: "ERROR", code: "XX000", message: "second" }),
      copyIn,
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const t = track(bytes, cut, true);
      assert.equal(t.firstError?.C, "42501");
      assert.equal(t.firstError?.M, "permission denied for table t");
      assert.equal(String.fromCharCode(t.lastType), "G");
      assert.equal(track(bytes, cut, false).firstError, undefined, "errors are read only when asked for");
    }
  });

  it("embedded-codec: forgets the error at reset, and is idle again when marked so", () => {
    const t = track(
      Buffer.concat([errorResponse({ severity: "ERROR", code: "42501", message: "no" })]),
      0,
      true,
    );
    assert.equal(t.idle, false);
    t.reset();
    assert.equal(t.firstError, undefined);
    t.markIdle();
    assert.equal(t.idle, true);
  });

  it("embedded-codec: says when the output is not a message sequence", () => {
    const t = new BackendStreamTracker(true);
    t.reset();
    t.push(Buffer.from([0x5a, 0, 0, 0, 2]));
    assert.equal(t.broken, true);
    assert.equal(t.idle, false);
  });
});
