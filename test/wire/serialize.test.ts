import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  authenticationCleartextPassword,
  authenticationMD5Password,
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  type BackendMessage,
  BackendParser,
  backendKeyData,
  cancelRequest,
  errorResponse,
  type FrontendEvent,
  FrontendParser,
  negotiateProtocolVersion,
  noticeResponse,
  parameterStatus,
  passwordMessage,
  readPasswordMessage,
  readyForQuery,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  sslResponse,
  startupMessage,
  terminate,
  WireProtocolError,
} from "../../src/wire/postgres/index.js";
import { BufferList, backend, frontend } from "./buffers.js";

function toBackend(bytes: Buffer): BackendMessage[] {
  return new BackendParser().push(bytes);
}

/** Parses bytes the gateway sends to a backend, as PostgreSQL would read them. */
function asServerReads(bytes: Buffer, typed: boolean): FrontendEvent[] {
  const parser = new FrontendParser();
  if (typed) parser.expectTyped();
  const events = parser.push(bytes);
  assert.equal(parser.buffered, 0);
  return events;
}

describe("serializers to clients round-trip through BackendParser", () => {
  const key = Buffer.from([9, 8, 7, 6]);
  const cases: Array<[string, Buffer, BackendMessage]> = [
    ["authenticationOk", authenticationOk(), { kind: "AuthenticationOk" }],
    [
      "authenticationCleartextPassword",
      authenticationCleartextPassword(),
      { kind: "AuthenticationCleartextPassword" },
    ],
    [
      "authenticationMD5Password",
      authenticationMD5Password(key),
      { kind: "AuthenticationMD5Password", salt: key },
    ],
    [
      "authenticationSASL",
      authenticationSASL(["SCRAM-SHA-256"]),
      { kind: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256"] },
    ],
    [
      "authenticationSASLContinue",
      authenticationSASLContinue(Buffer.from("r=x")),
      { kind: "AuthenticationSASLContinue", data: Buffer.from("r=x") },
    ],
    [
      "authenticationSASLFinal",
      authenticationSASLFinal(Buffer.from("v=y")),
      { kind: "AuthenticationSASLFinal", data: Buffer.from("v=y") },
    ],
    [
      "parameterStatus",
      parameterStatus("application_name", "psql ü"),
      {
        kind: "ParameterStatus",
        name: "application_name",
        value: "psql ü",
        raw: parameterStatus("application_name", "psql ü"),
      },
    ],
    [
      "backendKeyData",
      backendKeyData(2147483647, key),
      { kind: "BackendKeyData", processId: 2147483647, secretKey: key },
    ],
    [
      "backendKeyData (32-byte key)",
      backendKeyData(1, Buffer.alloc(32, 3)),
      { kind: "BackendKeyData", processId: 1, secretKey: Buffer.alloc(32, 3) },
    ],
    ["readyForQuery", readyForQuery("I"), { kind: "ReadyForQuery", status: "I" }],
    [
      "errorResponse",
      errorResponse({
        severity: "FATAL",
        code: "28000",
        message: 'PAM authentication failed for user "alice"',
        detail: "d",
        hint: "h",
      }),
      {
        kind: "ErrorResponse",
        fields: {
          S: "FATAL",
          V: "FATAL",
          C: "28000",
          M: 'PAM authentication failed for user "alice"',
          D: "d",
          H: "h",
        },
      },
    ],
    [
      "noticeResponse",
      noticeResponse({ severity: "WARNING", code: "01000", message: "m" }),
      {
        kind: "NoticeResponse",
        fields: { S: "WARNING", V: "WARNING", C: "01000", M: "m" },
        raw: noticeResponse({ severity: "WARNING", code: "01000", message: "m" }),
      },
    ],
    [
      "negotiateProtocolVersion",
      negotiateProtocolVersion(0, ["_pq_.x"]),
      { kind: "NegotiateProtocolVersion", newestMinor: 0, unrecognized: ["_pq_.x"] },
    ],
  ];
  for (const [label, bytes, expected] of cases) {
    it(label, () => assert.deepEqual(toBackend(bytes), [expected]));
  }

  it("match the independently built bytes", () => {
    assert.deepEqual(authenticationOk(), backend.authOk());
    assert.deepEqual(authenticationCleartextPassword(), backend.authCleartext());
    assert.deepEqual(parameterStatus("a", "b"), backend.parameterStatus("a", "b"));
    assert.deepEqual(readyForQuery("E"), backend.readyForQuery("E"));
    assert.deepEqual(negotiateProtocolVersion(1, ["x"]), backend.negotiate(1, ["x"]));
    assert.deepEqual(
      errorResponse({ severity: "ERROR", code: "08P01", message: "m" }),
      backend.error({ S: "ERROR", V: "ERROR", C: "08P01", M: "m" }),
    );
  });

  it("sslResponse is the single byte S or N", () => {
    assert.deepEqual(sslResponse(true), Buffer.from("S"));
    assert.deepEqual(sslResponse(false), Buffer.from("N"));
  });

  it("property: parameterStatus round-trips any NUL-free strings", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 30 }).filter((s) => !s.includes("\0"));
    fc.assert(
      fc.property(text, text, (name, value) => {
        const bytes = parameterStatus(name, value);
        assert.deepEqual(toBackend(bytes), [{ kind: "ParameterStatus", name, value, raw: bytes }]);
      }),
    );
  });
});

describe("serializers to backends round-trip through FrontendParser", () => {
  it("startupMessage", () => {
    const parameters = { user: "alice", database: "app", client_encoding: "UTF8" };
    assert.deepEqual(asServerReads(startupMessage(parameters), false), [
      { kind: "startup", packet: { kind: "StartupMessage", protocolVersion: 196608, parameters } },
    ]);
    assert.deepEqual(startupMessage(parameters), frontend.startup(parameters));
    const v32 = asServerReads(startupMessage({ user: "u" }, 196610), false);
    assert.ok(v32[0]?.kind === "startup" && v32[0].packet.kind === "StartupMessage");
    assert.equal(v32[0].packet.protocolVersion, 196610);
  });

  it("sslRequest", () => {
    assert.deepEqual(asServerReads(sslRequest(), false), [
      { kind: "startup", packet: { kind: "SSLRequest" } },
    ]);
  });

  it("cancelRequest with 4- and 32-byte keys", () => {
    for (const size of [4, 32]) {
      const key = Buffer.alloc(size, 1);
      assert.deepEqual(asServerReads(cancelRequest(99, key), false), [
        { kind: "startup", packet: { kind: "CancelRequest", processId: 99, secretKey: key } },
      ]);
    }
  });

  it("passwordMessage", () => {
    const events = asServerReads(passwordMessage("md5abc"), true);
    assert.ok(events[0]?.kind === "message" && events[0].type === "p");
    assert.equal(readPasswordMessage(events[0].body), "md5abc");
  });

  it("saslInitialResponse: mechanism, Int32 length, data", () => {
    const data = Buffer.from("n,,n=,r=nonce");
    const bytes = saslInitialResponse("SCRAM-SHA-256", data);
    assert.deepEqual(bytes, frontend.saslInitial("SCRAM-SHA-256", data));
    assert.deepEqual(asServerReads(bytes, true), [
      {
        kind: "message",
        type: "p",
        body: new BufferList().cstring("SCRAM-SHA-256").int32(data.length).bytes(data).body(),
      },
    ]);
  });

  it("saslResponse and terminate", () => {
    assert.deepEqual(asServerReads(Buffer.concat([saslResponse(Buffer.from("c=biws")), terminate()]), true), [
      { kind: "message", type: "p", body: Buffer.from("c=biws") },
      { kind: "message", type: "X", body: Buffer.alloc(0) },
    ]);
  });
});

describe("serializers refuse input that would corrupt the stream", () => {
  it("a NUL byte in a string field", () => {
    assert.throws(() => passwordMessage("a\0b"), WireProtocolError);
    assert.throws(() => parameterStatus("a\0", "b"), WireProtocolError);
    assert.throws(() => startupMessage({ user: "a\0b" }), WireProtocolError);
    assert.throws(
      () => errorResponse({ severity: "FATAL", code: "28000", message: "x\0" }),
      WireProtocolError,
    );
  });

  it("an empty startup parameter name (it would end the list)", () => {
    assert.throws(() => startupMessage({ "": "x" }), WireProtocolError);
  });

  it("a cancel key outside 4..256 bytes, a bad SQLSTATE or status, a non-Int32 process id", () => {
    assert.throws(() => backendKeyData(1, Buffer.alloc(3)), RangeError);
    assert.throws(() => cancelRequest(1, Buffer.alloc(257)), RangeError);
    assert.throws(() => errorResponse({ severity: "ERROR", code: "28", message: "m" }), RangeError);
    assert.throws(() => readyForQuery("X"), RangeError);
    assert.throws(() => backendKeyData(2 ** 31, Buffer.alloc(4)), RangeError);
    assert.throws(() => authenticationMD5Password(Buffer.alloc(5)), RangeError);
  });
});
