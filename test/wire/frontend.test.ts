import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type FrontendEvent,
  FrontendParser,
  type FrontendParserOptions,
  readPasswordMessage,
  readSaslInitialResponse,
  WireProtocolError,
} from "../../src/wire/postgres/index.js";
import { BufferList, cutAt, cutsInTwo, frontend } from "./buffers.js";

function parseAll(pieces: Buffer[], options?: FrontendParserOptions): FrontendEvent[] {
  const parser = new FrontendParser(options);
  return pieces.flatMap((piece) => parser.push(piece));
}

function onlyEvent(bytes: Buffer, options?: FrontendParserOptions): FrontendEvent {
  const events = parseAll([bytes], options);
  assert.equal(events.length, 1, `expected one event, got ${JSON.stringify(events)}`);
  return events[0] as FrontendEvent;
}

function assertError(event: FrontendEvent | undefined, code: string, message: string | RegExp): void {
  assert.ok(event && event.kind === "error", `expected an error event, got ${JSON.stringify(event)}`);
  assert.equal(event.code, code);
  if (typeof message === "string") assert.equal(event.message, message);
  else assert.match(event.message, message);
}

/** Startup packets and typed messages of every kind the gateway receives, each sent alone. */
const singlePackets: Record<string, Buffer> = {
  StartupMessage: frontend.startup({ user: "alice", database: "app", application_name: "psql" }),
  "StartupMessage 3.2": frontend.startup({ user: "alice", _pq_: "x" }, (3 << 16) | 2),
  SSLRequest: frontend.sslRequest(),
  GSSENCRequest: frontend.gssencRequest(),
  "CancelRequest (4-byte key)": frontend.cancelRequest(4242, Buffer.from([1, 2, 3, 4])),
  "CancelRequest (32-byte key)": frontend.cancelRequest(4242, Buffer.alloc(32, 7)),
  "CancelRequest (256-byte key)": frontend.cancelRequest(1, Buffer.alloc(256, 9)),
};

describe("FrontendParser: startup packets", () => {
  it("parses a StartupMessage with its parameters and switches to typed messages", () => {
    const events = parseAll([
      Buffer.concat([frontend.startup({ user: "alice", database: "app" }), frontend.password("token")]),
    ]);
    assert.deepEqual(events, [
      {
        kind: "startup",
        packet: {
          kind: "StartupMessage",
          protocolVersion: 196608,
          parameters: { user: "alice", database: "app" },
        },
      },
      { kind: "message", type: "p", body: new BufferList().cstring("token").body() },
    ]);
  });

  it("returns protocol 3.2 as is (the caller answers NegotiateProtocolVersion)", () => {
    const event = onlyEvent(frontend.startup({ user: "u" }, (3 << 16) | 2));
    assert.deepEqual(event, {
      kind: "startup",
      packet: { kind: "StartupMessage", protocolVersion: 196610, parameters: { user: "u" } },
    });
  });

  it("accepts a StartupMessage without parameters and leaves semantic checks to the caller", () => {
    const event = onlyEvent(frontend.startup({}));
    assert.deepEqual(event, {
      kind: "startup",
      packet: { kind: "StartupMessage", protocolVersion: 196608, parameters: {} },
    });
  });

  it("keeps the last value of a repeated parameter", () => {
    const bytes = new BufferList()
      .int32(196608)
      .cstring("user")
      .cstring("a")
      .cstring("user")
      .cstring("b")
      .byte(0);
    const event = onlyEvent(bytes.untyped());
    assert.ok(event.kind === "startup" && event.packet.kind === "StartupMessage");
    assert.deepEqual(event.packet.parameters, { user: "b" });
  });

  it("stores a parameter named __proto__ as plain data", () => {
    const event = onlyEvent(frontend.startup({ user: "u", ["__proto__"]: "x" }));
    assert.ok(event.kind === "startup" && event.packet.kind === "StartupMessage");
    const { parameters } = event.packet;
    assert.equal(Object.getPrototypeOf(parameters), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(parameters, "__proto__")?.value, "x");
    assert.deepEqual(Object.keys(parameters), ["user", "__proto__"]);
  });

  it("parses SSLRequest, GSSENCRequest and CancelRequest with 4..256-byte keys", () => {
    assert.deepEqual(onlyEvent(frontend.sslRequest()), { kind: "startup", packet: { kind: "SSLRequest" } });
    assert.deepEqual(onlyEvent(frontend.gssencRequest()), {
      kind: "startup",
      packet: { kind: "GSSENCRequest" },
    });
    for (const size of [4, 32, 256]) {
      const key = Buffer.alloc(size, size);
      assert.deepEqual(onlyEvent(frontend.cancelRequest(77, key)), {
        kind: "startup",
        packet: { kind: "CancelRequest", processId: 77, secretKey: key },
      });
    }
  });

  for (const size of [0, 3, 257]) {
    it(`rejects a CancelRequest with a ${size}-byte key`, () => {
      assertError(onlyEvent(frontend.cancelRequest(77, Buffer.alloc(size))), "08P01", /cancel/);
    });
  }

  it("rejects an SSLRequest with a body", () => {
    assertError(onlyEvent(new BufferList().int32(80877103).int32(0).untyped()), "08P01", /length/);
  });

  for (const [label, code] of [
    ["2.0", 2 << 16],
    ["4.0", 4 << 16],
    ["1234.5681", (1234 << 16) | 5681],
    ["0.0", 0],
  ] as const) {
    it(`rejects protocol ${label} as unsupported`, () => {
      const event = onlyEvent(new BufferList().uint32(code).cstring("user").cstring("u").byte(0).untyped());
      assertError(event, "0A000", `unsupported frontend protocol ${label}`);
    });
  }

  const malformed: Record<string, Buffer> = {
    "no terminator": new BufferList().int32(196608).cstring("user").cstring("u").untyped(),
    "empty body": new BufferList().int32(196608).untyped(),
    "name without value": new BufferList().int32(196608).cstring("user").byte(0).untyped(),
    "name without NUL": new BufferList().int32(196608).string("user").untyped(),
    "value without NUL": new BufferList().int32(196608).cstring("user").string("u").untyped(),
    "bytes after the terminator": new BufferList()
      .int32(196608)
      .cstring("user")
      .cstring("u")
      .byte(0)
      .byte(65)
      .untyped(),
    "non-UTF-8 name": new BufferList()
      .int32(196608)
      .bytes(Buffer.from([0xff, 0xfe, 0]))
      .cstring("u")
      .byte(0)
      .untyped(),
    "non-UTF-8 value": new BufferList()
      .int32(196608)
      .cstring("user")
      .bytes(Buffer.from([0xc3, 0x28, 0]))
      .byte(0)
      .untyped(),
  };
  for (const [label, bytes] of Object.entries(malformed)) {
    it(`rejects a StartupMessage with ${label}`, () => {
      assertError(onlyEvent(bytes), "08P01", /^invalid startup packet/);
    });
  }
});

describe("FrontendParser: bounds (nothing allocated for a claimed length)", () => {
  for (const length of [0, 4, 7, 10001, 0x7fffffff, -1, -0x80000000]) {
    it(`rejects startup length ${length} as soon as the length field is complete`, () => {
      const parser = new FrontendParser();
      const header = new BufferList().int32(length).body();
      assert.deepEqual(parser.push(header.subarray(0, 3)), []);
      const events = parser.push(Buffer.concat([header.subarray(3), Buffer.alloc(64, 1)]));
      assert.equal(events.length, 1);
      assertError(events[0], "08P01", "invalid length of startup packet");
      assert.equal(parser.buffered, 0);
      assert.deepEqual(parser.push(Buffer.alloc(1024)), [], "the parser is dead after an error");
      assert.equal(parser.buffered, 0);
    });
  }

  it("rejects a TLS ClientHello sent as the first bytes (direct TLS) through the length check", () => {
    // Record header: handshake (0x16), TLS 1.0 record version, record length; then ClientHello (0x01).
    const clientHello = Buffer.concat([
      Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]),
      Buffer.alloc(512, 0x42),
    ]);
    const parser = new FrontendParser();
    const events = parser.push(clientHello);
    assert.equal(events.length, 1);
    assertError(events[0], "08P01", "invalid length of startup packet");
    assert.equal(parser.buffered, 0);
  });

  it("accepts a startup packet of exactly maxStartupLength (10000) bytes", () => {
    const filler = "x".repeat(10000 - 4 - 4 - "user\0u\0".length - "f\0".length - 1 - 1);
    const bytes = frontend.startup({ user: "u", f: filler });
    assert.equal(bytes.length, 10000);
    const event = onlyEvent(bytes);
    assert.ok(event.kind === "startup" && event.packet.kind === "StartupMessage");
    assert.equal(event.packet.parameters.f, filler);
  });

  it("honours a smaller maxStartupLength", () => {
    assertError(onlyEvent(frontend.startup({ user: "alice" }), { maxStartupLength: 12 }), "08P01", /length/);
  });

  it("rejects a typed length field below 4", () => {
    const parser = new FrontendParser();
    parser.push(frontend.startup({ user: "u" }));
    const events = parser.push(new BufferList().char("p").int32(3).body());
    assertError(events[0], "08P01", "invalid message length");
    assert.equal(parser.buffered, 0);
  });

  it("accepts a typed length field of 65540 and rejects 65541 (the password phase bound)", () => {
    const parser = new FrontendParser();
    parser.push(frontend.startup({ user: "u" }));
    const atLimit = new BufferList().bytes(Buffer.alloc(65535, 0x61)).byte(0).typed("p");
    const events = parser.push(atLimit);
    assert.equal(events.length, 1);
    assert.equal(events[0]?.kind, "message");
    const over = new BufferList().char("p").int32(65541).body();
    const rejected = parser.push(over);
    assertError(rejected[0], "08P01", "invalid message length");
    assert.equal(parser.buffered, 0);
  });

  it("rejects a typed length of 0x7fffffff after the 5-byte header without waiting for the body", () => {
    const parser = new FrontendParser({ maxMessageLength: 1000 });
    parser.expectTyped();
    const events = parser.push(new BufferList().char("p").int32(0x7fffffff).bytes(Buffer.alloc(10)).body());
    assertError(events[0], "08P01", "invalid message length");
    assert.equal(parser.buffered, 0);
  });

  it("refuses option values that would disable the bounds", () => {
    assert.throws(() => new FrontendParser({ maxStartupLength: 7 }), RangeError);
    assert.throws(() => new FrontendParser({ maxMessageLength: Number.NaN }), RangeError);
  });
});

describe("FrontendParser: SSLRequest and what follows it (CVE-2021-23214)", () => {
  it("returns the SSLRequest with nothing buffered when the client waits for the answer", () => {
    const parser = new FrontendParser();
    assert.deepEqual(parser.push(frontend.sslRequest()), [
      { kind: "startup", packet: { kind: "SSLRequest" } },
    ]);
    assert.equal(parser.buffered, 0);
  });

  it("returns the SSLRequest and keeps plaintext sent after it unparsed, so the caller can refuse", () => {
    const parser = new FrontendParser();
    const injected = frontend.startup({ user: "mallory" });
    const events = parser.push(Buffer.concat([frontend.sslRequest(), injected]));
    assert.deepEqual(events, [{ kind: "startup", packet: { kind: "SSLRequest" } }]);
    assert.equal(parser.buffered, injected.length);
    assert.deepEqual(parser.push(frontend.password("x")), [], "nothing is parsed until the caller decides");
  });

  it("parses the next startup packet after expectStartup()", () => {
    const parser = new FrontendParser();
    parser.push(frontend.sslRequest());
    parser.expectStartup();
    const events = parser.push(frontend.startup({ user: "alice" }));
    assert.deepEqual(events, [
      {
        kind: "startup",
        packet: { kind: "StartupMessage", protocolVersion: 196608, parameters: { user: "alice" } },
      },
    ]);
  });

  it("parses bytes kept while paused once the caller resumes with an empty push", () => {
    const parser = new FrontendParser();
    parser.push(Buffer.concat([frontend.gssencRequest(), frontend.startup({ user: "bob" })]));
    parser.expectStartup();
    const events = parser.push(Buffer.alloc(0));
    assert.equal(events.length, 1);
    assert.equal(parser.buffered, 0);
  });

  it("stops after a CancelRequest", () => {
    const parser = new FrontendParser();
    const events = parser.push(
      Buffer.concat([frontend.cancelRequest(1, Buffer.alloc(4)), frontend.sslRequest()]),
    );
    assert.equal(events.length, 1);
    assert.equal(parser.buffered, 8);
  });
});

describe("FrontendParser: split and coalesced input", () => {
  for (const [label, bytes] of Object.entries(singlePackets)) {
    it(`${label} cut at every byte gives the same event`, () => {
      const whole = parseAll([bytes]);
      assert.equal(whole.length, 1);
      assert.equal(whole[0]?.kind, "startup");
      for (const [first, second] of cutsInTwo(bytes)) assert.deepEqual(parseAll([first, second]), whole);
    });
  }

  const typedMessages: Record<string, Buffer> = {
    PasswordMessage: frontend.password("a-very-long-token?X-Amz-Signature=abc"),
    SASLInitialResponse: frontend.saslInitial("SCRAM-SHA-256", Buffer.from("n,,n=,r=abc")),
    Terminate: frontend.terminate(),
    Query: frontend.query("select 1"),
  };
  const startup = frontend.startup({ user: "alice" });
  for (const [label, bytes] of Object.entries(typedMessages)) {
    it(`${label} cut at every byte gives the same event`, () => {
      const whole = parseAll([startup, bytes]);
      assert.equal(whole.length, 2);
      for (const [first, second] of cutsInTwo(bytes))
        assert.deepEqual(parseAll([startup, first, second]), whole);
    });
  }

  it("byte by byte gives the same events as one chunk", () => {
    const stream = Buffer.concat([startup, ...Object.values(typedMessages)]);
    const whole = parseAll([stream]);
    assert.equal(whole.length, 5);
    assert.deepEqual(parseAll([...stream].map((b) => Buffer.of(b))), whole);
  });

  it("returns several messages from one chunk", () => {
    const events = parseAll([Buffer.concat([startup, frontend.password("p1"), frontend.terminate()])]);
    assert.deepEqual(
      events.map((e) => (e.kind === "message" ? e.type : e.kind)),
      ["startup", "p", "X"],
    );
  });

  it("property: a stream cut at random points parses like the whole stream", () => {
    const parameterName = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes("\0"));
    const parameterValue = fc.string({ maxLength: 40 }).filter((s) => !s.includes("\0"));
    const message = fc.record({
      type: fc.constantFrom("p", "Q", "X", "P", "B", "E", "S"),
      body: fc.uint8Array({ maxLength: 300 }),
    });
    fc.assert(
      fc.property(
        fc.dictionary(parameterName, parameterValue, { maxKeys: 6 }),
        fc.array(message, { maxLength: 6 }),
        fc.array(fc.nat(3000), { maxLength: 20 }),
        (parameters, messages, offsets) => {
          const stream = Buffer.concat([
            frontend.startup(parameters),
            ...messages.map((m) => new BufferList().bytes(Buffer.from(m.body)).typed(m.type)),
          ]);
          const whole = parseAll([stream]);
          assert.equal(whole.length, 1 + messages.length);
          assert.deepEqual(parseAll(cutAt(stream, offsets)), whole);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("FrontendParser: arbitrary bytes", () => {
  it("property: never throws, returns at most one error (last), and then stays dead", () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }),
        (typed, chunks) => {
          const parser = new FrontendParser({ maxStartupLength: 200, maxMessageLength: 200 });
          if (typed) parser.expectTyped();
          const events = chunks.flatMap((chunk) => parser.push(Buffer.from(chunk)));
          const errorAt = events.findIndex((e) => e.kind === "error");
          if (errorAt !== -1) {
            assert.equal(errorAt, events.length - 1);
            assert.equal(parser.buffered, 0);
            assert.deepEqual(parser.push(Buffer.alloc(16)), []);
          }
          assert.ok(parser.buffered <= chunks.reduce((n, c) => n + c.length, 0));
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("property: arbitrary bytes after a valid startup packet never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(200)), (tail, offsets) => {
        const stream = Buffer.concat([frontend.startup({ user: "u" }), Buffer.from(tail)]);
        assert.deepEqual(parseAll(cutAt(stream, offsets)), parseAll([stream]));
      }),
    );
  });
});

describe("readPasswordMessage", () => {
  it("reads the password of a PasswordMessage body", () => {
    assert.equal(readPasswordMessage(new BufferList().cstring("s3cret é").body()), "s3cret é");
  });

  for (const [label, body] of [
    ["no terminator", Buffer.from("abc")],
    ["bytes after the terminator", Buffer.from("abc\0d")],
    ["an early NUL", Buffer.from("a\0b\0")],
    ["an empty body", Buffer.alloc(0)],
  ] as const) {
    it(`rejects ${label}`, () => {
      assert.throws(
        () => readPasswordMessage(body),
        (error: unknown) => error instanceof WireProtocolError && error.code === "08P01",
      );
    });
  }
});

describe("frontend-codec: FrontendParser one event at a time (append / next / takeRest)", () => {
  it("frontend-codec: gives the events push gives, one per next(), at every cut", () => {
    const bytes = Buffer.concat([
      frontend.startup({ user: "alice" }),
      frontend.saslInitial("SCRAM-SHA-256", Buffer.from("n,,n=,r=abc")),
      frontend.password("c=biws,r=abcdef,p=xyz"),
    ]);
    const expected = parseAll([bytes]);
    assert.equal(expected.length, 3);
    for (const [first, second] of cutsInTwo(bytes)) {
      const parser = new FrontendParser();
      const events: FrontendEvent[] = [];
      for (const piece of [first, second]) {
        parser.append(piece);
        for (let e = parser.next(); e !== undefined; e = parser.next()) events.push(e);
      }
      assert.deepEqual(events, expected);
    }
  });

  it("frontend-codec: parses nothing ahead of the caller, and hands over the rest unbounded", () => {
    const big = frontend.query("x".repeat(100_000)); // beyond the login's message bound
    const parser = new FrontendParser();
    parser.append(Buffer.concat([frontend.startup({ user: "alice" }), big]));
    assert.equal(parser.next()?.kind, "startup");
    // A server switching to its session reader takes the query as it came.
    assert.deepEqual(parser.takeRest(), big);
    assert.equal(parser.buffered, 0);
    parser.append(frontend.terminate());
    assert.equal(parser.next(), undefined, "nothing is parsed after takeRest");
  });

  it("frontend-codec: would have refused that message while logging in", () => {
    const parser = new FrontendParser();
    parser.append(Buffer.concat([frontend.startup({ user: "alice" }), frontend.query("x".repeat(100_000))]));
    assert.equal(parser.next()?.kind, "startup");
    assertError(parser.next(), "08P01", "invalid message length");
    assert.equal(parser.next(), undefined);
  });
});

describe("frontend-codec: readSaslInitialResponse", () => {
  it("frontend-codec: reads the mechanism and the initial response", () => {
    const message = frontend.saslInitial("SCRAM-SHA-256", Buffer.from("n,,n=,r=abc"));
    assert.deepEqual(readSaslInitialResponse(message.subarray(5)), {
      mechanism: "SCRAM-SHA-256",
      data: Buffer.from("n,,n=,r=abc"),
    });
    const none = new BufferList().cstring("SCRAM-SHA-256").int32(-1).body();
    assert.deepEqual(readSaslInitialResponse(none), { mechanism: "SCRAM-SHA-256", data: Buffer.alloc(0) });
  });

  for (const [label, body] of [
    ["no length", new BufferList().cstring("SCRAM-SHA-256").body()],
    [
      "a length beyond the body",
      new BufferList().cstring("SCRAM-SHA-256").int32(5).bytes(Buffer.from("abc")).body(),
    ],
    [
      "bytes after the response",
      new BufferList().cstring("SCRAM-SHA-256").int32(1).bytes(Buffer.from("ab")).body(),
    ],
    ["a length below -1", new BufferList().cstring("SCRAM-SHA-256").int32(-2).body()],
    ["no mechanism terminator", Buffer.from("SCRAM")],
  ] as const) {
    it(`frontend-codec: rejects ${label}`, () => {
      assert.throws(
        () => readSaslInitialResponse(body),
        (error: unknown) => error instanceof WireProtocolError && error.code === "08P01",
      );
    });
  }
});
