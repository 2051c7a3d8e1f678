// Which authentication plugin carries the token to the MySQL gateway: caching_sha2_password's
// full authentication (mysql2's defaults, the mariadb CLI as it comes), sha256_password, and
// mysql_clear_password; and the bad input around them. Real clients, the machine's MariaDB.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import mysql from "mysql2/promise";
import { generateAuthToken } from "../../src/index.js";
import {
  Capability,
  encodePacket,
  handshakeResponse41,
  PacketParser,
  Plugin,
  sslRequest,
} from "../../src/wire/mysql/index.js";
import { type MysqlTestGateway, mariadbCli, REGION, startMysqlTestGateway } from "./mysql-fixture.js";

const USER = "par_plugins";
let gw: MysqlTestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };
const secrets: string[] = [];

function token(user = USER): string {
  const t = generateAuthToken({
    hostname: "127.0.0.1",
    port: gw.port,
    username: user,
    region: REGION,
    credentials: creds,
  }) as string;
  secrets.push(t);
  return t;
}

/** The auth log lines added while `fn` ran. */
async function logged<T>(
  fn: () => Promise<T>,
): Promise<{ result: T; lines: Array<Record<string, unknown>> }> {
  const n = gw.log().length;
  const result = await fn();
  await new Promise((r) => setTimeout(r, 50));
  return { result, lines: gw.log().slice(n) };
}

const success = (lines: Array<Record<string, unknown>>) => lines.find((l) => l.decision === "success");
const failure = (lines: Array<Record<string, unknown>>) => lines.find((l) => l.decision === "failure");

/** A client written by hand, over TLS, for what no client library sends. */
class RawClient {
  readonly #parser = new PacketParser();
  readonly #packets: Array<{ seq: number; payload: Buffer }> = [];
  #waiting: (() => void) | undefined;
  #closed = false;
  seq = 0;

  private constructor(readonly socket: TLSSocket) {
    socket.on("data", (c: Buffer) => {
      for (const e of this.#parser.push(c)) if (e.kind === "packet") this.#packets.push(e);
      this.#waiting?.();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#waiting?.();
    });
    socket.on("error", () => undefined);
  }

  /** Connects, reads the greeting, asks for TLS and completes it. */
  static async open(port: number): Promise<RawClient> {
    const tcp: Socket = await new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
      s.once("error", reject);
    });
    const greeting = await new Promise<Buffer>((resolve) => tcp.once("data", resolve));
    assert.equal(greeting[4], 10, "a HandshakeV10");
    const caps =
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
      Capability.CONNECT_WITH_DB;
    tcp.write(encodePacket(1, sslRequest(caps, 45)));
    const secure = tlsConnect({ socket: tcp, ca: gw.caPem, servername: "localhost" });
    await new Promise((r) => secure.once("secureConnect", r));
    const c = new RawClient(secure);
    c.seq = 2;
    return c;
  }

  send(payload: Buffer): void {
    this.socket.write(encodePacket(this.seq, payload));
    this.seq = (this.seq + 1) & 0xff;
  }

  login(plugin: string, authResponse: Buffer): void {
    this.send(
      handshakeResponse41({
        capabilities:
          Capability.PROTOCOL_41 |
          Capability.SECURE_CONNECTION |
          Capability.PLUGIN_AUTH |
          Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
          Capability.CONNECT_WITH_DB |
          Capability.SSL,
        charset: 45,
        username: USER,
        authResponse,
        database: "test",
        authPlugin: plugin,
        attributes: undefined,
      }),
    );
  }

  /** The next packet from the gateway, or undefined once it closed. */
  async next(): Promise<Buffer | undefined> {
    for (;;) {
      const p = this.#packets.shift();
      if (p) {
        this.seq = (p.seq + 1) & 0xff;
        return p.payload;
      }
      if (this.#closed) return undefined;
      await new Promise<void>((r) => {
        this.#waiting = r;
      });
      this.#waiting = undefined;
    }
  }
}

before(async () => {
  gw = await startMysqlTestGateway();
  creds = await gw.userWithAccess("par-plugins", USER);
  secrets.push(creds.secretAccessKey);
  await gw.provision(USER);
});

after(async () => {
  try {
    await gw.unprovision(USER);
  } finally {
    await gw.close();
  }
});

describe("MySQL gateway: the token without the cleartext plugin", () => {
  it("announces caching_sha2_password in its handshake", async () => {
    const s: Socket = await new Promise((resolve, reject) => {
      const c = connect({ host: "127.0.0.1", port: gw.port }, () => resolve(c));
      c.once("error", reject);
    });
    const greeting = await new Promise<Buffer>((resolve) => s.once("data", resolve));
    s.destroy();
    assert.ok(greeting.subarray(4).includes(Buffer.from(`${Plugin.CACHING_SHA2}\0`)));
  });

  it("mysql2 with default options (no enableCleartextPlugin): logs in through caching_sha2_password", async () => {
    const { result, lines } = await logged(async () => {
      const c = await mysql.createConnection({
        host: "127.0.0.1",
        port: gw.port,
        user: USER,
        password: token(),
        database: "test",
        ssl: { ca: gw.caPem },
      });
      try {
        const [rows] = await c.query("select current_user() u");
        return (rows as Array<{ u: string }>)[0]?.u;
      } finally {
        await c.end();
      }
    });
    assert.match(String(result), /^par_plugins@/);
    assert.match(String(success(lines)?.detail), /token sent with caching_sha2_password/);
  });

  it("the mariadb CLI as it comes (no cleartext flag), and with --enable-cleartext-plugin", async () => {
    for (const extra of [[], ["--enable-cleartext-plugin"]]) {
      const { result, lines } = await logged(() =>
        mariadbCli(gw.port, gw.caFile, USER, token(), "select current_user()", extra),
      );
      assert.equal(result.code, 0, result.stderr);
      // MariaDB 10.11's client prints that the cleartext flag is obsolete (it allows the plugin anyway).
      assert.match(result.stdout, /(^|\n)par_plugins@%$/);
      assert.match(String(success(lines)?.detail), /token sent with caching_sha2_password/);
    }
  });

  it("the mariadb CLI told to use sha256_password or mysql_clear_password: the token with that plugin", async () => {
    for (const plugin of [Plugin.SHA256, Plugin.CLEAR]) {
      const { result, lines } = await logged(() =>
        mariadbCli(gw.port, gw.caFile, USER, token(), "select 7", [`--default-auth=${plugin}`]),
      );
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "7");
      assert.match(String(success(lines)?.detail), new RegExp(`token sent with ${plugin}`));
    }
  });

  it("a client answering with mysql_native_password is switched to mysql_clear_password", async () => {
    const c = await RawClient.open(gw.port);
    c.login(Plugin.NATIVE, randomBytes(20));
    const sw = await c.next();
    assert.equal(sw?.[0], 0xfe);
    assert.ok(sw?.includes(Buffer.from(`${Plugin.CLEAR}\0`)));
    const { result, lines } = await logged(async () => {
      c.send(Buffer.from(`${token()}\0`));
      return c.next();
    });
    assert.equal(result?.[0], 0x00, "OK");
    assert.match(String(success(lines)?.detail), /token sent with mysql_clear_password/);
    c.socket.destroy();
  });
});

describe("MySQL gateway: bad input around the SHA-2 plugins", () => {
  it("full authentication answered with a request for the RSA key: 1045, the fix in the log", async () => {
    const c = await RawClient.open(gw.port);
    c.login(Plugin.CACHING_SHA2, randomBytes(32));
    assert.deepEqual(await c.next(), Buffer.of(0x01, 0x04), "perform full authentication");
    const { result, lines } = await logged(async () => {
      c.send(Buffer.of(0x02));
      return c.next();
    });
    assert.equal(result?.readUInt16LE(1), 1045);
    assert.match(String(failure(lines)?.detail), /RSA public key.*--ssl-ca/);
    assert.equal(await c.next(), undefined, "closed");
  });

  it("full authentication answered with garbage: 1045, a malformed token", async () => {
    const c = await RawClient.open(gw.port);
    c.login(Plugin.CACHING_SHA2, randomBytes(32));
    await c.next();
    const { result, lines } = await logged(async () => {
      c.send(randomBytes(300));
      return c.next();
    });
    assert.equal(result?.readUInt16LE(1), 1045);
    assert.equal(failure(lines)?.cause, "malformed");
    assert.match(String(failure(lines)?.detail), /token/i);
  });

  it("an oversized answer to full authentication: refused, never buffered", async () => {
    const c = await RawClient.open(gw.port);
    c.login(Plugin.CACHING_SHA2, randomBytes(32));
    await c.next();
    const { result, lines } = await logged(async () => {
      c.send(Buffer.alloc(200 * 1024, 0x41));
      return c.next();
    });
    assert.equal(result?.readUInt16LE(1), 1045);
    assert.match(String(failure(lines)?.detail), /exceeds the limit/);
  });

  it("sha256_password asking for the RSA key after the switch: 1045; the gateway never loops", async () => {
    const c = await RawClient.open(gw.port);
    c.login(Plugin.SHA256, Buffer.of(0x01));
    const sw = await c.next();
    assert.equal(sw?.[0], 0xfe);
    assert.ok(sw?.includes(Buffer.from(`${Plugin.SHA256}\0`)));
    c.send(Buffer.of(0x01));
    const err = await c.next();
    assert.equal(err?.readUInt16LE(1), 1045);
    assert.equal(await c.next(), undefined, "closed after one switch");
  });

  it("an empty caching_sha2_password scramble (no password) is offered mysql_clear_password", async () => {
    const c = await RawClient.open(gw.port);
    c.login(Plugin.CACHING_SHA2, Buffer.alloc(0));
    const sw = await c.next();
    assert.equal(sw?.[0], 0xfe);
    assert.ok(sw?.includes(Buffer.from(`${Plugin.CLEAR}\0`)));
    c.socket.destroy();
  });

  it("no token reached the auth log", () => {
    const text = gw.logText();
    for (const s of secrets) assert.ok(!text.includes(s), "a secret reached the auth log");
  });
});

describe("MySQL gateway: an RSA public key request over plaintext (allowPlaintext)", () => {
  it("mysqlbad: a client without TLS asking for the RSA key gets 1045, never a key; the gateway stays up", async () => {
    const plain = await startMysqlTestGateway({ allowPlaintext: true });
    try {
      const tcp: Socket = await new Promise((resolve, reject) => {
        const s = connect({ host: "127.0.0.1", port: plain.port }, () => resolve(s));
        s.once("error", reject);
      });
      tcp.on("error", () => undefined);
      const parser = new PacketParser();
      const packets: Buffer[] = [];
      let closed = false;
      let wake: (() => void) | undefined;
      tcp.on("data", (c: Buffer) => {
        for (const e of parser.push(c)) if (e.kind === "packet") packets.push(e.payload);
        wake?.();
      });
      tcp.on("close", () => {
        closed = true;
        wake?.();
      });
      const next = async (): Promise<Buffer | undefined> => {
        while (packets.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
        return packets.shift();
      };
      assert.equal((await next())?.[0], 10, "a HandshakeV10");
      tcp.write(
        encodePacket(
          1,
          handshakeResponse41({
            capabilities:
              Capability.PROTOCOL_41 |
              Capability.SECURE_CONNECTION |
              Capability.PLUGIN_AUTH |
              Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA |
              Capability.CONNECT_WITH_DB,
            charset: 45,
            username: USER,
            authResponse: randomBytes(32),
            database: "test",
            authPlugin: Plugin.CACHING_SHA2,
            attributes: undefined,
          }),
        ),
      );
      // Without TLS only mysql_clear_password is offered: neither SHA-2 plugin takes a password in the clear.
      const sw = await next();
      assert.equal(sw?.[0], 0xfe, "an AuthSwitchRequest");
      assert.match(String(sw?.subarray(1).toString("latin1")), /^mysql_clear_password\0/);
      const n = plain.log().length;
      tcp.write(encodePacket(3, Buffer.of(0x02)));
      const answer = await next();
      assert.equal(answer?.[0], 0xff, "an ERR packet, not a public key");
      assert.equal(answer?.readUInt16LE(1), 1045);
      assert.equal(await next(), undefined, "closed");
      await new Promise((r) => setTimeout(r, 50));
      const line = plain
        .log()
        .slice(n)
        .find((l) => l.decision === "failure");
      assert.equal(line?.cause, "malformed");
      // The gateway is still up: the next client gets its greeting.
      const again: Socket = connect({ host: "127.0.0.1", port: plain.port });
      again.on("error", () => undefined);
      const greeting = await new Promise<Buffer>((resolve) => again.once("data", resolve));
      assert.equal(greeting[4], 10);
      again.destroy();
    } finally {
      await plain.close();
    }
  });
});
