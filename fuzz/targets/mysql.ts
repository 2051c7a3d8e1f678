// MySQL codecs, both halves: what clients send the gateway (packets, SSLRequest,
// HandshakeResponse41, the cleartext password, the command stream after login) and what a
// backend sends the gateway during its login (HandshakeV10, AuthSwitch, ERR).
import fc from "fast-check";
import { CommandTracker } from "../../src/wire/mysql/commands.js";
import { Capability, Command, MAX_PACKET_PAYLOAD } from "../../src/wire/mysql/constants.js";
import { MysqlProtocolError } from "../../src/wire/mysql/errors.js";
import {
  authSwitchRequest,
  clearPasswordFrom,
  errPacket,
  handshakeResponse41,
  handshakeV10,
  parseAuthSwitch,
  parseErrPacket,
  parseHandshakeResponse,
  parseServerHandshake,
  sslRequest,
} from "../../src/wire/mysql/handshake.js";
import { encodePacket, type PacketEvent, PacketParser } from "../../src/wire/mysql/packets.js";
import { bytes, cuts, mutated, same, split, type Target } from "../lib.js";

const text = fc.string({ maxLength: 24 }).map((x) => x.replace(/\0/g, ""));
const capabilities = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constant(
    Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Capability.CONNECT_WITH_DB |
      Capability.CONNECT_ATTRS,
  ),
);

const clientPayload: fc.Arbitrary<Buffer> = fc.oneof(
  fc.tuple(capabilities, fc.nat(255)).map(([c, cs]) => sslRequest(c, cs)),
  fc
    .record({
      capabilities,
      charset: fc.nat(255),
      username: text,
      authResponse: bytes(40),
      database: fc.option(text, { nil: undefined }),
      authPlugin: fc.constantFrom(
        "mysql_clear_password",
        "mysql_native_password",
        "caching_sha2_password",
        "",
      ),
      attributes: fc.option(bytes(40), { nil: undefined }),
    })
    .map((r) => handshakeResponse41(r)),
);

/** Packets as a client sends them: the handshake reply, then commands and LOCAL INFILE data. */
const clientStream: fc.Arbitrary<Buffer> = fc
  .array(
    fc.oneof(
      clientPayload,
      fc
        .tuple(fc.constantFrom(...Object.values(Command)), bytes(30))
        .map(([c, b]) => Buffer.concat([Buffer.of(c), b])),
      bytes(40),
    ),
    { maxLength: 5 },
  )
  .chain((payloads) =>
    fc
      .array(fc.nat(255), { minLength: payloads.length, maxLength: payloads.length })
      .map((seqs) => Buffer.concat(payloads.map((p, i) => encodePacket(seqs[i] ?? 0, p)))),
  );

function drivePackets(chunks: readonly Buffer[], max: number, limit: number | undefined): PacketEvent[] {
  const parser = new PacketParser(max);
  if (limit !== undefined) parser.limit(limit);
  const events: PacketEvent[] = [];
  for (const c of chunks) events.push(...parser.push(c));
  if (limit !== undefined) events.push(...parser.unlimit());
  return events;
}

/** The first forbidden command seen (the relay ends the session there). */
function driveTracker(chunks: readonly Buffer[]): number | null {
  const tracker = new CommandTracker();
  const forbidden = new Set<number>([Command.CHANGE_USER]);
  for (const c of chunks) {
    const hit = tracker.scan(c, forbidden);
    if (hit !== undefined) return hit;
  }
  return null;
}

export const mysqlFrontend: Target<{ stream: Buffer; cuts: number[]; max: number; limit?: number }> = {
  name: "mysql-frontend",
  covers:
    "PacketParser (limit/unlimit, split == whole), HandshakeResponse41 / SSLRequest, cleartext password, CommandTracker (split == whole)",
  arbitrary: fc.record(
    {
      stream: fc.oneof(bytes(), mutated(clientStream)),
      cuts,
      max: fc.constantFrom(64, 16 * 1024, MAX_PACKET_PAYLOAD * 2),
      limit: fc.nat(3),
    },
    { requiredKeys: ["stream", "cuts", "max"] },
  ),
  run({ stream, cuts: at, max, limit }) {
    const chunks = split(stream, at);
    const whole = drivePackets([stream], max, limit);
    same(whole, drivePackets(chunks, max, limit), "PacketParser events");
    for (const e of whole) {
      if (e.kind !== "packet") continue;
      try {
        const r = parseHandshakeResponse(e.payload);
        clearPasswordFrom(r.authResponse);
      } catch (err) {
        if (!(err instanceof MysqlProtocolError)) throw err;
      }
    }
    // After login the relay tracks commands in the client's stream as it comes.
    same(driveTracker([stream]), driveTracker(chunks), "CommandTracker commands");
  },
  expected: (e) => e instanceof MysqlProtocolError,
};

const serverPayload: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .record({
      serverVersion: text,
      connectionId: fc.nat(),
      scramble: bytes(20).map((b) => Buffer.concat([b, Buffer.alloc(20, 0x41)]).subarray(0, 20)),
      capabilities,
      authPlugin: fc.constantFrom("mysql_native_password", "caching_sha2_password", "x", ""),
    })
    .map((h) => handshakeV10(h)),
  fc.tuple(text, bytes(30)).map(([p, d]) => authSwitchRequest(p, d)),
  fc
    .tuple(fc.nat(0xffff), text, fc.option(fc.constant("28000"), { nil: undefined }))
    .map(([c, m, st]) => errPacket(c, m, st)),
  bytes(60),
);

export const mysqlBackend: Target<{ payload: Buffer }> = {
  name: "mysql-backend",
  covers: "HandshakeV10, AuthSwitchRequest and ERR packets from a backend",
  arbitrary: fc.record({ payload: fc.oneof(bytes(120), mutated(serverPayload)) }),
  run({ payload }) {
    for (const parse of [parseServerHandshake, parseAuthSwitch, parseErrPacket] as const) {
      try {
        parse(payload);
      } catch (err) {
        if (!(err instanceof MysqlProtocolError)) throw err;
      }
    }
  },
  expected: (e) => e instanceof MysqlProtocolError,
};
