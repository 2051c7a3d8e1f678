import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  type BackendMessage,
  BackendParser,
  type BackendParserOptions,
  WireProtocolError,
} from "../../src/wire/postgres/index.js";
import { BufferList, backend, cutAt, cutsInTwo } from "./buffers.js";

function parseAll(pieces: Buffer[], options?: BackendParserOptions): BackendMessage[] {
  const parser = new BackendParser(options);
  return pieces.flatMap((piece) => parser.push(piece));
}

function isProtocolError(error: unknown): boolean {
  return error instanceof WireProtocolError && error.code === "08P01";
}

const salt = Buffer.from([0xde, 0xad, 0xbe, 0xef]);

/** Each backend message of the login phase with the value the parser must return. */
const cases: Array<[string, Buffer, BackendMessage]> = [
  ["AuthenticationOk", backend.authOk(), { kind: "AuthenticationOk" }],
  ["AuthenticationCleartextPassword", backend.authCleartext(), { kind: "AuthenticationCleartextPassword" }],
  ["AuthenticationMD5Password", backend.authMd5(salt), { kind: "AuthenticationMD5Password", salt }],
  [
    "AuthenticationSASL",
    backend.authSasl(["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"]),
    { kind: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"] },
  ],
  [
    "AuthenticationSASLContinue",
    backend.authSaslContinue("r=abc,s=c2FsdA==,i=4096"),
    { kind: "AuthenticationSASLContinue", data: Buffer.from("r=abc,s=c2FsdA==,i=4096") },
  ],
  [
    "AuthenticationSASLFinal",
    backend.authSaslFinal("v=c2ln"),
    { kind: "AuthenticationSASLFinal", data: Buffer.from("v=c2ln") },
  ],
  ["AuthenticationGSS", backend.authOther(7), { kind: "AuthenticationOther", code: 7 }],
  [
    "AuthenticationGSSContinue",
    backend.authOther(8, Buffer.from("tok")),
    { kind: "AuthenticationOther", code: 8 },
  ],
  ["AuthenticationSSPI", backend.authOther(9), { kind: "AuthenticationOther", code: 9 }],
  [
    "ParameterStatus",
    backend.parameterStatus("server_version", "16.4"),
    {
      kind: "ParameterStatus",
      name: "server_version",
      value: "16.4",
      raw: backend.parameterStatus("server_version", "16.4"),
    },
  ],
  [
    "BackendKeyData (4-byte key)",
    backend.backendKeyData(31337, salt),
    { kind: "BackendKeyData", processId: 31337, secretKey: salt },
  ],
  [
    "BackendKeyData (32-byte key, protocol 3.2)",
    backend.backendKeyData(31337, Buffer.alloc(32, 5)),
    { kind: "BackendKeyData", processId: 31337, secretKey: Buffer.alloc(32, 5) },
  ],
  ["ReadyForQuery", backend.readyForQuery("T"), { kind: "ReadyForQuery", status: "T" }],
  [
    "ErrorResponse",
    backend.error({ S: "FATAL", V: "FATAL", C: "28P01", M: 'password authentication failed for user "x"' }),
    {
      kind: "ErrorResponse",
      fields: { S: "FATAL", V: "FATAL", C: "28P01", M: 'password authentication failed for user "x"' },
    },
  ],
  [
    "NoticeResponse",
    backend.notice({ S: "WARNING", C: "01000", M: "hé" }),
    {
      kind: "NoticeResponse",
      fields: { S: "WARNING", C: "01000", M: "hé" },
      raw: backend.notice({ S: "WARNING", C: "01000", M: "hé" }),
    },
  ],
  [
    "NegotiateProtocolVersion",
    backend.negotiate(0, ["_pq_.foo", "_pq_.bar"]),
    { kind: "NegotiateProtocolVersion", newestMinor: 0, unrecognized: ["_pq_.foo", "_pq_.bar"] },
  ],
  [
    "CommandComplete (Other)",
    backend.commandComplete("SELECT 1"),
    { kind: "Other", type: "C", raw: backend.commandComplete("SELECT 1") },
  ],
];

describe("BackendParser: messages", () => {
  for (const [label, bytes, expected] of cases) {
    it(`parses ${label}, whole and cut at every byte`, () => {
      assert.deepEqual(parseAll([bytes]), [expected]);
      for (const [first, second] of cutsInTwo(bytes)) assert.deepEqual(parseAll([first, second]), [expected]);
    });
  }

  it("decodes non-UTF-8 text in an ErrorResponse without failing (client_encoding may differ)", () => {
    const bytes = new BufferList()
      .char("M")
      .bytes(Buffer.from([0x61, 0xe9, 0]))
      .byte(0)
      .typed("E");
    const [message] = parseAll([bytes]);
    assert.ok(message?.kind === "ErrorResponse");
    assert.equal(message.fields.M, "a\ufffd");
  });
});

/** A SCRAM login as PostgreSQL sends it, ending in ReadyForQuery. */
const loginStream = Buffer.concat([
  backend.authSasl(["SCRAM-SHA-256"]),
  backend.authSaslContinue("r=abcdef,s=c2FsdA==,i=4096"),
  backend.authSaslFinal("v=c2lnbmF0dXJl"),
  backend.authOk(),
  backend.parameterStatus("client_encoding", "UTF8"),
  backend.parameterStatus("server_version", "16.4"),
  backend.notice({ S: "NOTICE", C: "00000", M: "hello" }),
  backend.backendKeyData(123, salt),
  backend.readyForQuery("I"),
]);

describe("BackendParser: streams", () => {
  it("returns every message of a login from one chunk", () => {
    const kinds = parseAll([loginStream]).map((m) => m.kind);
    assert.deepEqual(kinds, [
      "AuthenticationSASL",
      "AuthenticationSASLContinue",
      "AuthenticationSASLFinal",
      "AuthenticationOk",
      "ParameterStatus",
      "ParameterStatus",
      "NoticeResponse",
      "BackendKeyData",
      "ReadyForQuery",
    ]);
  });

  it("a login cut at every byte, and byte by byte, gives the same messages", () => {
    const whole = parseAll([loginStream]);
    for (const [first, second] of cutsInTwo(loginStream)) assert.deepEqual(parseAll([first, second]), whole);
    assert.deepEqual(parseAll([...loginStream].map((b) => Buffer.of(b))), whole);
  });

  it("property: a login cut at random points parses like the whole", () => {
    const whole = parseAll([loginStream]);
    fc.assert(
      fc.property(fc.array(fc.nat(loginStream.length), { maxLength: 30 }), (offsets) => {
        assert.deepEqual(parseAll(cutAt(loginStream, offsets)), whole);
      }),
      { numRuns: 500 },
    );
  });

  it("stops at ReadyForQuery and hands back what followed it byte for byte", () => {
    const after = Buffer.concat([
      backend.notice({ S: "NOTICE", M: "late" }),
      backend.commandComplete("X").subarray(0, 3),
    ]);
    const parser = new BackendParser();
    const messages = parser.push(Buffer.concat([backend.authOk(), backend.readyForQuery(), after]));
    assert.deepEqual(
      messages.map((m) => m.kind),
      ["AuthenticationOk", "ReadyForQuery"],
    );
    assert.deepEqual(parser.push(Buffer.from("more")), [], "no messages after ReadyForQuery");
    assert.deepEqual(parser.takeRemainder(), Buffer.concat([after, Buffer.from("more")]));
    assert.equal(parser.takeRemainder().length, 0);
  });

  it("property: ReadyForQuery followed by random bytes, cut anywhere, leaves exactly those bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(400)), (tail, offsets) => {
        const stream = Buffer.concat([loginStream, Buffer.from(tail)]);
        const parser = new BackendParser();
        const messages = cutAt(stream, offsets).flatMap((piece) => parser.push(piece));
        assert.equal(messages.at(-1)?.kind, "ReadyForQuery");
        assert.deepEqual(parser.takeRemainder(), Buffer.from(tail));
      }),
    );
  });

  it("takeRemainder returns a partial message that has not completed", () => {
    const parser = new BackendParser();
    assert.deepEqual(parser.push(backend.authOk().subarray(0, 6)), []);
    assert.equal(parser.takeRemainder().length, 6);
  });
});

describe("BackendParser: malformed input throws WireProtocolError", () => {
  const malformed: Record<string, Buffer> = {
    "length field 3": new BufferList().char("R").int32(3).body(),
    "negative length field": new BufferList().char("R").int32(-1).body(),
    "length above maxMessageLength": new BufferList()
      .char("D")
      .int32(1024 * 1024 + 1)
      .body(),
    "AuthenticationOk with trailing bytes": new BufferList().int32(0).int32(0).typed("R"),
    "authentication without a code": new BufferList().int16(0).typed("R"),
    "MD5 request with a 3-byte salt": new BufferList().int32(5).bytes(Buffer.alloc(3)).typed("R"),
    "SASL mechanism list without terminator": new BufferList().int32(10).cstring("SCRAM-SHA-256").typed("R"),
    "SASL mechanism without NUL": new BufferList().int32(10).string("SCRAM").typed("R"),
    "ParameterStatus without value": new BufferList().cstring("a").typed("S"),
    "ParameterStatus with trailing bytes": new BufferList().cstring("a").cstring("b").byte(1).typed("S"),
    "BackendKeyData with a 3-byte key": new BufferList().int32(1).bytes(Buffer.alloc(3)).typed("K"),
    "BackendKeyData with a 257-byte key": new BufferList().int32(1).bytes(Buffer.alloc(257)).typed("K"),
    "ReadyForQuery with status X": backend.readyForQuery("X"),
    "ReadyForQuery with two bytes": new BufferList().char("I").char("I").typed("Z"),
    "empty ReadyForQuery": new BufferList().typed("Z"),
    "ErrorResponse without final zero": new BufferList().char("M").cstring("m").typed("E"),
    "ErrorResponse field without NUL": new BufferList().char("M").string("m").typed("E"),
    "ErrorResponse with bytes after the final zero": new BufferList().byte(0).byte(0).typed("E"),
    "NegotiateProtocolVersion with a huge count": new BufferList().int32(0).int32(0x7fffffff).typed("v"),
    "NegotiateProtocolVersion with a negative count": new BufferList().int32(0).int32(-1).typed("v"),
    "NegotiateProtocolVersion with fewer names than counted": new BufferList()
      .int32(0)
      .int32(2)
      .cstring("a")
      .typed("v"),
  };
  for (const [label, bytes] of Object.entries(malformed)) {
    it(`rejects ${label}`, () => {
      const parser = new BackendParser();
      assert.throws(() => parser.push(bytes), isProtocolError);
      assert.throws(() => parser.push(backend.authOk()), isProtocolError, "the failure is sticky");
    });
  }

  it("checks the length field before the body arrives", () => {
    const parser = new BackendParser({ maxMessageLength: 100 });
    assert.throws(() => parser.push(new BufferList().char("D").int32(101).body()), isProtocolError);
    assert.equal(parser.takeRemainder().length, 0);
  });

  it("property: arbitrary bytes, in arbitrary chunks, throw nothing but WireProtocolError", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (chunks) => {
        const parser = new BackendParser({ maxMessageLength: 200 });
        try {
          for (const chunk of chunks) parser.push(Buffer.from(chunk));
        } catch (error) {
          assert.ok(error instanceof WireProtocolError, `unexpected ${String(error)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it("property: well-framed messages with random bodies throw nothing but WireProtocolError", () => {
    const message = fc
      .record({
        type: fc.constantFrom("R", "S", "K", "Z", "E", "N", "v", "C"),
        code: fc.constantFrom(0, 3, 5, 10, 11, 12, 7, -1),
        body: fc.uint8Array({ maxLength: 40 }),
      })
      .map(({ type, code, body }) => {
        const b = new BufferList();
        if (type === "R") b.int32(code);
        return b.bytes(Buffer.from(body)).typed(type);
      });
    fc.assert(
      fc.property(fc.array(message, { maxLength: 5 }), (messages) => {
        const parser = new BackendParser();
        try {
          parser.push(Buffer.concat(messages));
        } catch (error) {
          assert.ok(error instanceof WireProtocolError, `unexpected ${String(error)}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
