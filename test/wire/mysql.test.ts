// The sans-I/O MySQL codec: packets cut at every byte, 0xFFFFFF continuations, the pre-auth
// bound, the connection-phase messages, and the command tracker. Bytes are built here by
// hand (not with src/wire/mysql's serializers), so a serializer bug cannot hide a parser bug.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  Capability,
  CommandTracker,
  cachingSha2Proof,
  encodePacket,
  errPacket,
  GATEWAY_CAPABILITIES,
  handshakeResponse41,
  handshakeV10,
  MysqlProtocolError,
  nativePasswordProof,
  type PacketEvent,
  PacketParser,
  parseChangeUser,
  parseErrPacket,
  parseHandshakeResponse,
  parseServerHandshake,
} from "../../src/wire/mysql/index.js";

/** header(len, seq) + payload, by hand. */
function frame(seq: number, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, payload.length >> 16, seq]),
    payload,
  ]);
}

function le32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}

/** A HandshakeResponse41 as the mariadb client sends it (lenenc auth data, db, plugin, attrs). */
function response41(
  o: { caps?: number; user?: string; auth?: Buffer; db?: string; plugin?: string } = {},
): Buffer {
  const caps =
    o.caps ??
    Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Capability.CONNECT_WITH_DB |
      Capability.CONNECT_ATTRS |
      Capability.DEPRECATE_EOF;
  const auth = o.auth ?? Buffer.from("token-bytes\0");
  const attrs = Buffer.from([10, 3, ...Buffer.from("_os"), 5, ...Buffer.from("Linux")]);
  return Buffer.concat([
    le32(caps),
    le32(16 * 1024 * 1024),
    Buffer.from([45]),
    Buffer.alloc(23),
    Buffer.from(`${o.user ?? "jane"}\0`),
    Buffer.from([auth.length]),
    auth,
    Buffer.from(`${o.db ?? "test"}\0`),
    Buffer.from(`${o.plugin ?? "mysql_clear_password"}\0`),
    attrs,
  ]);
}

function packets(events: PacketEvent[]) {
  return events.map((e) => (e.kind === "packet" ? { seq: e.seq, hex: e.payload.toString("hex") } : e));
}

describe("PacketParser", () => {
  const stream = Buffer.concat([
    frame(0, Buffer.from([0x03, ...Buffer.from("select 1")])),
    frame(1, Buffer.alloc(0)),
    frame(2, response41()),
  ]);
  const whole = packets(new PacketParser().push(stream));

  it("parses several packets from one chunk", () => {
    assert.equal(whole.length, 3);
    assert.deepEqual(whole[1], { seq: 1, hex: "" });
  });

  it("gives the same packets when the stream is cut at every byte position", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new PacketParser();
      const got = [...p.push(stream.subarray(0, cut)), ...p.push(stream.subarray(cut))];
      assert.deepEqual(packets(got), whole, `cut at ${cut}`);
      assert.equal(p.buffered, 0);
    }
  });

  it("gives the same packets fed one byte at a time", () => {
    const p = new PacketParser();
    const got: PacketEvent[] = [];
    for (const byte of stream) got.push(...p.push(Buffer.of(byte)));
    assert.deepEqual(packets(got), whole);
  });

  it("reassembles a 0xFFFFFF-byte packet and its continuation (also an empty one)", () => {
    for (const tail of [0, 10]) {
      const big = Buffer.alloc(0xffffff + tail, 7);
      big[0] = 0x03;
      const bytes = Buffer.concat([frame(0, big.subarray(0, 0xffffff)), frame(1, big.subarray(0xffffff))]);
      assert.deepEqual(bytes, encodePacket(0, big));
      const p = new PacketParser(64 * 1024 * 1024);
      const got = [...p.push(bytes.subarray(0, 100_000)), ...p.push(bytes.subarray(100_000))];
      assert.equal(got.length, 1);
      const e = got[0];
      assert.ok(e?.kind === "packet");
      assert.equal(e.seq, 1);
      assert.ok(e.payload.equals(big));
    }
  });

  it("refuses a length above its bound from the header alone, before the payload arrives", () => {
    const p = new PacketParser(70 * 1024);
    const got = p.push(Buffer.from([0xff, 0xff, 0xff, 1]));
    assert.equal(got.length, 1);
    assert.equal(got[0]?.kind, "error");
    assert.deepEqual(p.push(Buffer.alloc(10)), []);
  });

  it("limit(1) leaves the bytes after an SSLRequest unparsed (they are the TLS ClientHello)", () => {
    const p = new PacketParser(70 * 1024);
    p.limit(1);
    const hello = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]);
    const got = p.push(Buffer.concat([frame(1, Buffer.alloc(32)), hello]));
    assert.equal(got.length, 1);
    assert.ok(p.takeRemainder().equals(hello));
  });

  it("never throws on arbitrary bytes cut anywhere; cuts do not change the result", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (bytes, at) => {
        const buf = Buffer.from(bytes);
        const cut = Math.min(at, buf.length);
        const once = packets(new PacketParser(1000).push(buf));
        const p = new PacketParser(1000);
        const split = packets([...p.push(buf.subarray(0, cut)), ...p.push(buf.subarray(cut))]);
        assert.deepEqual(split, once);
      }),
    );
  });
});

describe("connection phase", () => {
  it("HandshakeV10 carries the fixed capabilities, both scramble parts and the plugin", () => {
    const scramble = Buffer.from("abcdefghijklmnopqrst");
    const payload = handshakeV10({
      serverVersion: "8.0.36-iamdb",
      connectionId: 7,
      scramble,
      capabilities: GATEWAY_CAPABILITIES,
      authPlugin: "mysql_native_password",
    });
    assert.equal(payload[0], 10);
    const h = parseServerHandshake(payload);
    assert.equal(h.serverVersion, "8.0.36-iamdb");
    assert.equal(h.connectionId, 7);
    assert.ok(h.scramble.equals(scramble));
    assert.equal(h.capabilities, GATEWAY_CAPABILITIES);
    assert.equal(h.authPlugin, "mysql_native_password");
    assert.ok(GATEWAY_CAPABILITIES & Capability.SSL && GATEWAY_CAPABILITIES & Capability.PLUGIN_AUTH);
    assert.equal(GATEWAY_CAPABILITIES & Capability.COMPRESS, 0);
  });

  it("an SSLRequest is the 32-byte prefix with CLIENT_SSL", () => {
    const ssl = Buffer.concat([
      le32(Capability.PROTOCOL_41 | Capability.SSL),
      le32(0),
      Buffer.from([45]),
      Buffer.alloc(23),
    ]);
    const r = parseHandshakeResponse(ssl);
    assert.equal(r.sslRequest, true);
    assert.equal(r.charset, 45);
  });

  it("a HandshakeResponse41: user, auth data, database, plugin, attributes", () => {
    const r = parseHandshakeResponse(response41());
    assert.equal(r.sslRequest, false);
    assert.equal(r.username, "jane");
    assert.equal(r.authResponse.toString(), "token-bytes\0");
    assert.equal(r.database, "test");
    assert.equal(r.authPlugin, "mysql_clear_password");
    assert.equal(r.attributes?.[0], 0x0a);
  });

  it("a 2 KB token with lenenc auth data is read whole", () => {
    const tokenBytes = Buffer.alloc(2000, 0x41);
    const payload = handshakeResponse41({
      capabilities:
        Capability.PROTOCOL_41 |
        Capability.SECURE_CONNECTION |
        Capability.PLUGIN_AUTH |
        Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA,
      charset: 45,
      username: "jane",
      authResponse: tokenBytes,
      database: undefined,
      authPlugin: "mysql_clear_password",
      attributes: undefined,
    });
    assert.ok(parseHandshakeResponse(payload).authResponse.equals(tokenBytes));
  });

  it("truncated or pre-4.1 responses are protocol errors, never crashes", () => {
    assert.throws(() => parseHandshakeResponse(Buffer.alloc(2)), MysqlProtocolError);
    assert.throws(() => parseHandshakeResponse(le32(Capability.SECURE_CONNECTION)), MysqlProtocolError);
    const full = response41();
    for (let n = 33; n < 40; n++) {
      assert.throws(() => parseHandshakeResponse(full.subarray(0, n)), MysqlProtocolError, `length ${n}`);
    }
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseHandshakeResponse(Buffer.from(bytes));
        } catch (err) {
          assert.ok(err instanceof MysqlProtocolError, String(err));
        }
      }),
    );
  });

  it("ERR packets: 1045 with SQLSTATE 28000, and the pre-handshake form without one", () => {
    const msg = "Access denied for user 'jane'@'127.0.0.1' (using password: YES)";
    const p = errPacket(1045, msg, "28000");
    assert.deepEqual([...p.subarray(0, 9)], [0xff, 0x15, 0x04, 0x23, ...Buffer.from("28000")]);
    assert.deepEqual(parseErrPacket(p), { code: 1045, sqlState: "28000", message: msg });
    assert.deepEqual(parseErrPacket(errPacket(1040, "Too many connections")), {
      code: 1040,
      sqlState: undefined,
      message: "Too many connections",
    });
  });
});

describe("password proofs", () => {
  const scramble = Buffer.from("0123456789abcdefghij");
  const sha = (alg: string, ...parts: Buffer[]) => {
    const h = createHash(alg);
    for (const p of parts) h.update(p);
    return h.digest();
  };

  it("mysql_native_password: the server's check SHA1(scramble + stored) XOR proof = SHA1(pw) holds", () => {
    const stored = sha("sha1", sha("sha1", Buffer.from("secret")));
    const proof = nativePasswordProof("secret", scramble);
    const mask = sha("sha1", scramble, stored);
    const stage1 = Buffer.from(proof.map((b, i) => b ^ (mask[i] as number)));
    assert.ok(sha("sha1", stage1).equals(stored));
  });

  it("caching_sha2_password: the server's fast-path check holds", () => {
    const stored = sha("sha256", sha("sha256", Buffer.from("secret")));
    const proof = cachingSha2Proof("secret", scramble);
    const mask = sha("sha256", stored, scramble);
    const stage1 = Buffer.from(proof.map((b, i) => b ^ (mask[i] as number)));
    assert.ok(sha("sha256", stage1).equals(stored));
  });
});

describe("CommandTracker", () => {
  const forbidden = new Set([0x11]);
  const changeUser = frame(0, Buffer.from([0x11, ...Buffer.from("root\0")]));
  const query = frame(0, Buffer.from([0x03, ...Buffer.from("select 0x11")]));

  it("finds COM_CHANGE_USER wherever the stream is cut, and not inside other packets", () => {
    const stream = Buffer.concat([query, query, changeUser]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const t = new CommandTracker();
      const a = t.scan(stream.subarray(0, cut), forbidden);
      const b = a ?? t.scan(stream.subarray(cut), forbidden);
      assert.equal(b, 0x11, `cut at ${cut}`);
    }
    assert.equal(new CommandTracker().scan(Buffer.concat([query, query]), forbidden), undefined);
  });

  it("a packet that continues a 0xFFFFFF-byte command is not a command, even with seq 0 content", () => {
    const head = Buffer.from([0xff, 0xff, 0xff, 0]);
    const t = new CommandTracker();
    assert.equal(t.scan(Buffer.concat([head, Buffer.from([0x03])]), forbidden), undefined);
    assert.equal(t.scan(Buffer.alloc(0xffffff - 1), forbidden), undefined);
    assert.equal(t.scan(frame(0, Buffer.from([0x11, 0])), forbidden), undefined);
    assert.equal(t.scan(changeUser, forbidden), 0x11);
  });

  describe("LOAD DATA LOCAL INFILE", () => {
    const loadQuery = frame(
      0,
      Buffer.from([0x03, ...Buffer.from("load data local infile 'f' into table t")]),
    );
    const infileRequest = frame(1, Buffer.from([0xfb, ...Buffer.from("f")]));
    const ok = frame(0, Buffer.from([0x00, 0, 0, 2, 0, 0, 0]));
    /** File packets 2, 3, … wrapping at 255; packet k (0-based) carries seq (k + 2) & 0xff. */
    const upload = (count: number) =>
      Array.from({ length: count }, (_, k) => frame((k + 2) & 0xff, Buffer.from([0x11, 0x61, 0x0a])));

    it("file packets that wrap to sequence id 0 and start with 0x11 are content; the empty packet ends the upload", () => {
      const t = new CommandTracker();
      assert.equal(t.scan(loadQuery, forbidden), undefined);
      t.scanServer(infileRequest);
      assert.ok(t.uploading);
      const packets = upload(600);
      const end = frame((600 + 2) & 0xff, Buffer.alloc(0));
      const stream = Buffer.concat([...packets, end]);
      // Cut anywhere: the same verdict.
      for (const cut of [0, 1, 3, 4, 5, 1000, stream.length - 1]) {
        const u = new CommandTracker();
        u.scan(loadQuery, forbidden);
        u.scanServer(infileRequest);
        assert.equal(u.scan(stream.subarray(0, cut), forbidden), undefined, `cut ${cut}`);
        assert.equal(u.scan(stream.subarray(cut), forbidden), undefined, `cut ${cut}`);
        assert.equal(u.uploading, false);
      }
      assert.equal(t.scan(stream, forbidden), undefined);
      t.scanServer(ok);
      // Back in the command phase: COM_CHANGE_USER is found again.
      assert.equal(t.scan(changeUser, forbidden), 0x11);
    });

    it("a 0xFFFFFF-byte file packet is continued by an empty packet that ends nothing", () => {
      const t = new CommandTracker();
      t.scan(loadQuery, forbidden);
      t.scanServer(infileRequest);
      t.scan(Buffer.from([0xff, 0xff, 0xff, 2]), forbidden);
      t.scan(Buffer.alloc(0xffffff), forbidden);
      t.scan(frame(3, Buffer.alloc(0)), forbidden);
      assert.ok(t.uploading, "the continuation is not the end of the file");
      t.scan(frame(4, Buffer.alloc(0)), forbidden);
      assert.equal(t.uploading, false);
    });

    it("fails closed: no upload without the 0xFB request as the first answer to the client's last COM_QUERY", () => {
      const wrapped = Buffer.concat(upload(255));
      // A row that starts with 0xFB (a NULL column) with sequence id 1 after a wrap: no request.
      const t = new CommandTracker();
      t.scan(query, forbidden);
      t.scanServer(frame(1, Buffer.from([0x01])));
      t.scanServer(frame(1, Buffer.from([0xfb, 0x01])));
      assert.equal(t.uploading, false);
      assert.equal(t.scan(wrapped, forbidden), 0x11);
      // The request after a pipelined second packet from the client: no upload either.
      const u = new CommandTracker();
      u.scan(Buffer.concat([loadQuery, query]), forbidden);
      u.scanServer(infileRequest);
      assert.equal(u.uploading, false);
      // The request answering another command than COM_QUERY.
      const v = new CommandTracker();
      v.scan(frame(0, Buffer.from([0x16, 0x61])), forbidden);
      v.scanServer(infileRequest);
      assert.equal(v.uploading, false);
    });

    it("fails closed: the server speaking during the upload, or a packet out of sequence, ends it", () => {
      const t = new CommandTracker();
      t.scan(loadQuery, forbidden);
      t.scanServer(infileRequest);
      t.scan(Buffer.concat(upload(10)), forbidden);
      t.scanServer(frame(2, Buffer.from([0xff, 0x10, 0x04])));
      assert.equal(t.uploading, false);
      assert.equal(t.scan(changeUser, forbidden), 0x11);
      const u = new CommandTracker();
      u.scan(loadQuery, forbidden);
      u.scanServer(infileRequest);
      u.scan(Buffer.concat(upload(10)), forbidden);
      assert.equal(u.scan(changeUser, forbidden), 0x11, "seq 0 where 12 was due is a command");
    });

    it("never throws on arbitrary bytes both ways", () => {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 64 })), { maxLength: 40 }),
          (chunks) => {
            const t = new CommandTracker();
            for (const [fromServer, bytes] of chunks) {
              if (fromServer) t.scanServer(Buffer.from(bytes));
              else t.scan(Buffer.from(bytes), forbidden);
            }
          },
        ),
        { numRuns: 500 },
      );
    });
  });
});

describe("COM_CHANGE_USER", () => {
  const caps =
    Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH | Capability.CONNECT_ATTRS;
  const attrs = Buffer.from([4, 1, 0x61, 1, 0x62]);
  const payload = Buffer.concat([
    Buffer.from([0x11]),
    Buffer.from("bob\0"),
    Buffer.from([3, 1, 2, 3]),
    Buffer.from("test\0"),
    Buffer.from([45, 0]),
    Buffer.from("caching_sha2_password\0"),
    attrs,
  ]);

  it("parses every field with the session's capabilities", () => {
    const r = parseChangeUser(payload, caps);
    assert.equal(r.username, "bob");
    assert.deepEqual(r.authResponse, Buffer.from([1, 2, 3]));
    assert.equal(r.database, "test");
    assert.equal(r.charset, 45);
    assert.equal(r.authPlugin, "caching_sha2_password");
    assert.deepEqual(r.attributes, attrs);
  });

  it("arbitrary bytes: parsed or a protocol error, never anything else", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          parseChangeUser(Buffer.concat([Buffer.from([0x11]), Buffer.from(bytes)]), caps);
        } catch (err) {
          assert.ok(err instanceof MysqlProtocolError);
        }
      }),
    );
  });

  it("the tracker says where it starts in the chunk, after pipelined commands, at every split", () => {
    const query = frame(0, Buffer.from("\x03select 1"));
    const stream = Buffer.concat([query, frame(0, payload)]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const t = new CommandTracker();
      const set = new Set([0x11]);
      const a = t.scan(stream.subarray(0, cut), set);
      if (a !== undefined) {
        assert.equal(t.foundAt, query.length, `cut ${cut}`);
        continue;
      }
      assert.equal(t.scan(stream.subarray(cut), set), 0x11, `cut ${cut}`);
      assert.equal(t.foundAt, query.length - cut, `cut ${cut}`);
    }
  });
});
