// PostgreSQL codecs, both halves: what clients send the gateway (FrontendParser), what a backend
// sends the gateway during its login (BackendParser, the SCRAM client), what a client sends the
// embedded server's login (SASLInitialResponse, the SCRAM server), and the relay's framer.
import fc from "fast-check";
import { BackendParser } from "../../src/wire/postgres/backend.js";
import {
  CANCEL_REQUEST_CODE,
  GSSENC_REQUEST_CODE,
  SSL_REQUEST_CODE,
} from "../../src/wire/postgres/constants.js";
import { ScramError, WireProtocolError } from "../../src/wire/postgres/errors.js";
import { MessageFramer } from "../../src/wire/postgres/framer.js";
import {
  type FrontendEvent,
  FrontendParser,
  readSaslInitialResponse,
} from "../../src/wire/postgres/frontend.js";
import {
  parseScramVerifier,
  ScramSha256Client,
  ScramSha256Server,
  scramVerifier,
} from "../../src/wire/postgres/scram.js";
import * as s from "../../src/wire/postgres/serialize.js";
import { StatementReader } from "../../src/wire/postgres/statements.js";
import { bytes, cuts, mutated, OracleError, same, split, type Target } from "../lib.js";

const EMPTY = Buffer.alloc(0);
const cstr = fc.string({ maxLength: 20 }).map((x) => x.replace(/\0/g, ""));
const name = cstr.filter((x) => x !== "");

function untyped(code: number, body: Buffer = EMPTY): Buffer {
  const b = Buffer.alloc(8 + body.length);
  b.writeInt32BE(8 + body.length, 0);
  b.writeInt32BE(code, 4);
  body.copy(b, 8);
  return b;
}

function typed(type: number, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b[0] = type;
  b.writeInt32BE(4 + body.length, 1);
  body.copy(b, 5);
  return b;
}

/** What a client may send first: startup packets, then typed messages (password, SASL, query). */
const clientStream: fc.Arbitrary<Buffer> = fc
  .tuple(
    fc.array(
      fc.oneof(
        fc.constant(untyped(SSL_REQUEST_CODE)),
        fc.constant(untyped(GSSENC_REQUEST_CODE)),
        fc
          .tuple(fc.integer(), bytes(8))
          .map(([pid, key]) =>
            untyped(CANCEL_REQUEST_CODE, Buffer.concat([Buffer.alloc(4, pid & 0xff), key])),
          ),
      ),
      { maxLength: 2 },
    ),
    fc.dictionary(name, cstr, { maxKeys: 5 }).map((p) => s.startupMessage({ user: "jane", ...p })),
    fc.array(
      fc.oneof(
        cstr.map((p) => s.passwordMessage(p)),
        fc.tuple(cstr, bytes(60)).map(([m, d]) => s.saslInitialResponse(m, d)),
        bytes(60).map((d) => s.saslResponse(d)),
        cstr.map((q) => s.query(q)),
        fc.constant(s.terminate()),
        fc.tuple(fc.integer({ min: 0, max: 255 }), bytes(40)).map(([t, b]) => typed(t, b)),
      ),
      { maxLength: 4 },
    ),
  )
  .map(([pre, startup, rest]) => Buffer.concat([...pre, startup, ...rest]));

/** Pushes chunks; after SSLRequest / GSSENCRequest / CancelRequest reads a startup packet next, as the gateway does. */
function driveFrontend(chunks: readonly Buffer[]): FrontendEvent[] {
  const parser = new FrontendParser();
  const events: FrontendEvent[] = [];
  const take = (got: FrontendEvent[]) => {
    for (let batch = got; batch.length > 0; ) {
      events.push(...batch);
      const last = batch[batch.length - 1];
      if (last?.kind !== "startup" || last.packet.kind === "StartupMessage") break;
      parser.expectStartup();
      batch = parser.push(EMPTY);
    }
  };
  for (const c of chunks) take(parser.push(c));
  if (parser.buffered < 0) throw new Error("negative buffered count");
  return events;
}

export const postgresFrontend: Target<{ stream: Buffer; cuts: number[] }> = {
  name: "pg-frontend",
  covers: "FrontendParser: startup packets + typed messages, split anywhere; split == whole",
  arbitrary: fc.record({ stream: fc.oneof(bytes(), mutated(clientStream)), cuts }),
  run({ stream, cuts: at }) {
    const whole = driveFrontend([stream]);
    const parts = driveFrontend(split(stream, at));
    same(whole, parts, "FrontendParser events");
  },
  // The parser reports protocol errors as events and never throws.
  expected: () => false,
};

/** A backend's answer to a login: authentication requests, parameters, key data, errors, ReadyForQuery. */
const backendStream: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      fc.constant(s.authenticationOk()),
      fc.constant(s.authenticationCleartextPassword()),
      bytes(4).map((salt) =>
        s.authenticationMD5Password(Buffer.concat([salt, Buffer.alloc(4)]).subarray(0, 4)),
      ),
      fc.array(name, { maxLength: 3 }).map((m) => s.authenticationSASL(m)),
      bytes(80).map((d) => s.authenticationSASLContinue(d)),
      bytes(80).map((d) => s.authenticationSASLFinal(d)),
      fc.tuple(name, cstr).map(([n, v]) => s.parameterStatus(n, v)),
      fc
        .tuple(fc.integer(), bytes(32))
        .map(([p, k]) => s.backendKeyData(p, Buffer.concat([k, Buffer.alloc(4)]))),
      fc
        .tuple(fc.constantFrom("S", "V", "C", "M", "D", "H"), cstr)
        .map(([code, v]) => s.errorResponse({ severity: "FATAL", code: "28P01", message: `${code}${v}` })),
      fc.tuple(fc.nat(5), fc.array(name, { maxLength: 3 })).map(([m, u]) => s.negotiateProtocolVersion(m, u)),
      fc.tuple(fc.integer({ min: 0, max: 255 }), bytes(40)).map(([t, b]) => typed(t, b)),
      fc.tuple(fc.integer({ min: -2, max: 13 }), bytes(12)).map(([code, b]) => {
        const body = Buffer.alloc(4 + b.length);
        body.writeInt32BE(code, 0);
        b.copy(body, 4);
        return typed(0x52, body);
      }),
    ),
    { maxLength: 8 },
  )
  .chain((ms) =>
    fc.constantFrom(0x49, 0x54, 0x45, 0x58).map((st) => Buffer.concat([...ms, typed(0x5a, Buffer.of(st))])),
  );

function driveBackend(chunks: readonly Buffer[]): { messages: unknown[]; error?: string; rest?: number } {
  const parser = new BackendParser();
  const messages: unknown[] = [];
  try {
    for (const c of chunks) messages.push(...parser.push(c));
  } catch (e) {
    if (!(e instanceof WireProtocolError)) throw e;
    // A failed parser keeps failing with the same error.
    try {
      parser.push(EMPTY);
    } catch (again) {
      if (again !== e) throw new Error("a failed BackendParser threw a different error");
    }
    // push throws away the messages of the chunk that failed, so only the error compares.
    return { messages: [], error: e.message };
  }
  return { messages, rest: parser.takeRemainder().length };
}

/** SCRAM server messages as a backend sends them, mostly well-formed enough to get deep. */
const scramServerFirst = fc
  .tuple(
    fc.string({ maxLength: 24, unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789+/=") }),
    fc.string({ maxLength: 24, unit: fc.constantFrom(..."ABCDabcd0123+/=") }),
    fc.oneof(fc.integer({ min: 0, max: 64 }).map(String), fc.string({ maxLength: 12 })),
    fc.array(fc.string({ maxLength: 10 }), { maxLength: 2 }),
  )
  .map(([nonce, salt, i, extra]) =>
    Buffer.from([`r=NONCE${nonce}`, `s=${salt}`, `i=${i}`, ...extra].join(",")),
  );

export const postgresBackend: Target<{ stream: Buffer; cuts: number[]; first: Buffer; final: Buffer }> = {
  name: "pg-backend",
  covers: "BackendParser (login replies, split == whole), SCRAM client reading server-first/final",
  arbitrary: fc.record({
    stream: fc.oneof(bytes(), mutated(backendStream)),
    cuts,
    first: fc.oneof(bytes(80), mutated(scramServerFirst)),
    final: fc.oneof(
      bytes(60),
      mutated(fc.constant(Buffer.from("v=AAAA"))),
      mutated(fc.constant(Buffer.from("e=invalid-proof"))),
    ),
  }),
  run({ stream, cuts: at, first, final }) {
    same(driveBackend([stream]), driveBackend(split(stream, at)), "BackendParser messages");
    const scram = new ScramSha256Client("secret", "NONCE", "jane");
    scram.clientFirstMessage();
    try {
      scram.handleServerFirst(first);
    } catch (e) {
      if (e instanceof ScramError) return;
      throw e;
    }
    scram.verifyServerFinal(final);
  },
  expected: (e) => e instanceof ScramError,
};

/** An established session's stream, both directions' message types. */
const sessionStream: fc.Arbitrary<Buffer> = fc
  .array(
    fc
      .tuple(fc.constantFrom(0x44, 0x43, 0x53, 0x5a, 0x54, 0x64, 0x51, 0x50, 0x42, 0x45, 0x48), bytes(60))
      .map(([t, b]) => typed(t, b)),
    { maxLength: 8 },
  )
  .map((ms) => Buffer.concat(ms));

function driveFramer(chunks: readonly Buffer[], maxWhole: number): unknown {
  const framer = new MessageFramer([0x5a, 0x53], maxWhole);
  const seen: unknown[] = [];
  for (const c of chunks) {
    framer.scan(c, (type, _offset, whole) => {
      seen.push([type, whole === undefined ? null : whole.toString("hex")]);
      return undefined;
    });
  }
  return { seen, broken: framer.broken, atBoundary: framer.atBoundary };
}

export const postgresFramer: Target<{ stream: Buffer; cuts: number[]; maxWhole: number }> = {
  name: "pg-framer",
  covers: "MessageFramer (relay boundaries, both directions), split == whole",
  arbitrary: fc.record({
    stream: fc.oneof(bytes(), mutated(sessionStream)),
    cuts,
    maxWhole: fc.constantFrom(5, 16, 64 * 1024),
  }),
  run({ stream, cuts: at, maxWhole }) {
    same(driveFramer([stream], maxWhole), driveFramer(split(stream, at), maxWhole), "MessageFramer visits");
  },
  expected: () => false,
};

/** Query and Parse messages with texts around the cap, among the other messages of a session. */
const statementStream: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      fc.string({ maxLength: 80 }).map((q) => s.query(q.replace(/\0/g, ""))),
      fc
        .tuple(cstr, fc.string({ maxLength: 80 }))
        .map(([n, q]) =>
          typed(0x50, Buffer.concat([Buffer.from(`${n}\0${q.replace(/\0/g, "")}\0`), Buffer.alloc(2)])),
        ),
      fc.tuple(fc.constantFrom(0x42, 0x44, 0x45, 0x53, 0x48, 0x64), bytes(40)).map(([t, b]) => typed(t, b)),
    ),
    { maxLength: 8 },
  )
  .map((ms) => Buffer.concat(ms));

function driveStatements(chunks: readonly Buffer[], cap: number) {
  const reader = new StatementReader(cap);
  const seen: unknown[] = [];
  for (const c of chunks) {
    reader.scan(c, (st) => {
      if (st.text.length > cap)
        throw new OracleError(`a text of ${st.text.length} bytes, over the cap ${cap}`);
      seen.push([
        st.kind,
        st.name?.toString("hex") ?? null,
        st.text.toString("hex"),
        st.textBytes ?? null,
        st.truncated,
      ]);
    });
  }
  return { seen, stopped: reader.stopped };
}

export const postgresStatements: Target<{ stream: Buffer; cuts: number[]; cap: number }> = {
  name: "pg-statements",
  covers: "StatementReader (the statement audit's Query / Parse texts), split == whole, texts within the cap",
  arbitrary: fc.record({
    stream: fc.oneof(bytes(), mutated(statementStream)),
    cuts,
    cap: fc.constantFrom(1, 16, 64, 16 * 1024),
  }),
  run({ stream, cuts: at, cap }) {
    same(driveStatements([stream], cap), driveStatements(split(stream, at), cap), "StatementReader visits");
  },
  expected: () => false,
};

/** The stored verifier the embedded server checks against (its PBKDF2 runs once, here). */
const serverVerifier = parseScramVerifier(scramVerifier("secret", Buffer.from("fuzz-salt"), 16));

/** Client SCRAM messages, mostly well-formed enough to get deep. */
const scramClientFirst = fc
  .tuple(fc.constantFrom("n,,", "y,,", "p=tls-server-end-point,,", "n,a=x,"), fc.string({ maxLength: 12 }))
  .map(([gs2, nonce]) => Buffer.from(`${gs2}n=,r=${nonce}`));
const scramClientFinal = fc
  .tuple(fc.constantFrom("biws", "eSws", ""), fc.string({ maxLength: 20 }), bytes(40))
  .map(([c, r, p]) => Buffer.from(`c=${c},r=abcsrv${r},p=${p.toString("base64")}`));

export const postgresScramServer: Target<{ initial: Buffer; first: Buffer; final: Buffer }> = {
  name: "pg-scram-server",
  covers: "readSaslInitialResponse, then the SCRAM server reading client-first and client-final",
  arbitrary: fc.record({
    initial: fc.oneof(
      bytes(80),
      mutated(scramClientFirst.map((d) => s.saslInitialResponse("SCRAM-SHA-256", d).subarray(5))),
    ),
    first: fc.oneof(bytes(60), mutated(scramClientFirst), fc.constant(Buffer.from("n,,n=,r=abc"))),
    final: fc.oneof(bytes(80), mutated(scramClientFinal)),
  }),
  run({ initial, first, final }) {
    readSaslInitialResponse(initial);
    if (serverVerifier === undefined) throw new OracleError("the verifier does not parse");
    const server = new ScramSha256Server(serverVerifier, "srv");
    server.handleClientFirst(first);
    server.handleClientFinal(final);
    // Nothing here knows the password, so a proof that verifies is a finding.
    throw new OracleError("a SCRAM proof made without the password verified");
  },
  expected: (e) => e instanceof ScramError || e instanceof WireProtocolError,
};
