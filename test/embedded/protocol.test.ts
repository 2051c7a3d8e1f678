import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  BackendStreamTracker,
  errorResponse,
  ProtocolViolation,
  parameterStatus,
  parseStartup,
  readyForQuery,
  takeFrames,
  takeStartupFrame,
} from "../../src/embedded/protocol.js";
import { frontend } from "./wire.js";

/** Feeds `bytes` to a fresh tracker cut at `cut` and returns it. */
function track(bytes: Buffer, cut: number): BackendStreamTracker {
  const t = new BackendStreamTracker();
  t.reset();
  t.push(bytes.subarray(0, cut));
  t.push(bytes.subarray(cut));
  return t;
}

describe("backend stream tracker", () => {
  const message = (type: string, body: Buffer) => {
    const head = Buffer.alloc(5);
    head.write(type, "latin1");
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  };
  const parseComplete = message("1", Buffer.alloc(0));
  const copyIn = message("G", Buffer.from([0, 0, 0]));

  it("is idle only after ReadyForQuery('I'), wherever the stream is cut", () => {
    const cases: [Buffer, boolean][] = [
      [Buffer.concat([parseComplete, readyForQuery("I")]), true],
      [Buffer.concat([parseComplete, readyForQuery("T")]), false],
      [Buffer.concat([readyForQuery("I"), parseStatusLike()]), false],
      [
        Buffer.concat([
          errorResponse({ severity: "ERROR", code: "42P01", message: "x" }),
          readyForQuery("E"),
        ]),
        false,
      ],
      [Buffer.concat([readyForQuery("I"), copyIn]), false],
      [parseComplete, false],
    ];
    for (const [bytes, idle] of cases) {
      for (let cut = 0; cut <= bytes.length; cut++) assert.equal(track(bytes, cut).idle, idle, `cut ${cut}`);
    }
  });

  it("remembers the first error's fields and the last message type", () => {
    const bytes = Buffer.concat([
      errorResponse({ severity: "ERROR", code: "42501", message: "permission denied for table t" }),
      errorResponse({ severity: "ERROR", code: "XX000", message: "second" }),
      copyIn,
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const t = track(bytes, cut);
      assert.equal(t.firstError?.get("C"), "42501");
      assert.equal(t.firstError?.get("M"), "permission denied for table t");
      assert.equal(String.fromCharCode(t.lastType), "G");
    }
  });

  function parseStatusLike(): Buffer {
    return parameterStatus("TimeZone", "UTC");
  }
});

describe("frontend framing", () => {
  it("splits typed frames at every cut and keeps the incomplete rest", () => {
    const bytes = Buffer.concat([
      frontend.parse("select 1"),
      frontend.bind(),
      frontend.execute(),
      frontend.sync(),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const first = takeFrames(bytes.subarray(0, cut));
      const second = takeFrames(Buffer.concat([first.rest, bytes.subarray(cut)]));
      assert.deepEqual(
        [...first.frames, ...second.frames].map((f) => String.fromCharCode(f[0] ?? 0)),
        ["P", "B", "E", "S"],
      );
      assert.equal(second.rest.length, 0);
    }
  });

  it("rejects impossible lengths", () => {
    assert.throws(() => takeFrames(Buffer.from([0x51, 0, 0, 0, 2])), ProtocolViolation);
    assert.throws(() => takeStartupFrame(Buffer.from([0, 0, 0, 4])), ProtocolViolation);
    assert.throws(() => takeStartupFrame(Buffer.from([0, 1, 0, 0])), ProtocolViolation);
  });

  it("reads start-up parameters and tells SSL and cancel requests apart", () => {
    const startup = frontend.startup({ user: "alice", database: "postgres", application_name: "psql" });
    const taken = takeStartupFrame(startup);
    assert.ok(taken);
    const packet = parseStartup(taken.frame);
    assert.equal(packet.kind, "startup");
    if (packet.kind === "startup") {
      assert.deepEqual([packet.major, packet.minor], [3, 0]);
      assert.deepEqual(Object.fromEntries(packet.params), {
        user: "alice",
        database: "postgres",
        application_name: "psql",
      });
    }
    assert.deepEqual(parseStartup(frontend.sslRequest()), { kind: "ssl" });
  });
});
