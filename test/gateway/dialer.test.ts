// The dialer seam itself (src/gateway/dialer.ts): the connect timeout and error wording every
// dialer gets from dialBackend, and the production dialer's TCP and TLS against real sockets.
import assert from "node:assert/strict";
import { type AddressInfo, createServer, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { TLSSocket } from "node:tls";
import { BackendDialError, type Dialer, dialBackend, tcpDialer } from "../../src/gateway/dialer.js";
import { createCa, type IssuedPair, issueServerCert } from "../../src/tls/generate.js";
import { refusingDialer, ScriptedDialer } from "../helpers/dialers.js";

async function rejection(p: Promise<unknown>): Promise<BackendDialError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof BackendDialError, String(err));
    return err;
  }
  throw new Error("it connected");
}

describe("dialer seam: dialBackend", () => {
  it("dialer seam: a dialer's system error is worded as the backend being unreachable", async () => {
    const err = await rejection(dialBackend(refusingDialer(), { host: "db.example", port: 5432 }, 5_000));
    assert.equal(err.reason, "unreachable");
    assert.equal(err.message, "backend db.example:5432 is unreachable: connect ECONNREFUSED db.example:5432");
  });

  it("dialer seam: a dialer that answers only after the timeout is aborted, and the socket it hands over late is closed", async () => {
    let late: Socket | undefined;
    const dialer: Dialer = {
      connect: (_address, signal) =>
        new Promise((resolve) => {
          signal.addEventListener("abort", () => {
            late = new Socket();
            resolve(late);
          });
        }),
      secure: tcpDialer.secure,
    };
    const err = await rejection(dialBackend(dialer, { host: "db.example", port: 3306 }, 50));
    assert.equal(err.reason, "timeout");
    assert.equal(err.message, "backend db.example:3306 did not accept a connection within 50 ms");
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(late?.destroyed, true);
  });

  it("dialer seam: tcpDialer against a closed port says ECONNREFUSED", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    await new Promise((resolve) => server.close(resolve));
    const err = await rejection(dialBackend(tcpDialer, { host: "127.0.0.1", port }, 5_000));
    assert.equal(err.reason, "unreachable");
    assert.match(
      err.message,
      new RegExp(`^backend 127\\.0\\.0\\.1:${port} is unreachable: connect ECONNREFUSED`),
    );
  });
});

describe("dialer seam: tcpDialer TLS", () => {
  let ca: IssuedPair;
  let forAddress: IssuedPair;
  let forLocalhost: IssuedPair;
  const peers: ScriptedDialer[] = [];

  before(async () => {
    const now = new Date();
    ca = await createCa({
      algorithm: "ECDSA-P256",
      now,
      sans: [
        { type: "ip", value: "127.0.0.1" },
        { type: "dns", value: "localhost" },
      ],
    });
    const issue = (sans: Array<{ type: "ip" | "dns"; value: string }>) =>
      issueServerCert({ ca, sans, commonName: "backend", algorithm: "ECDSA-P256", now });
    forAddress = await issue([{ type: "ip", value: "127.0.0.1" }]);
    forLocalhost = await issue([{ type: "dns", value: "localhost" }]);
  });

  after(async () => {
    for (const p of peers) await p.close();
  });

  /** TLS through tcpDialer.secure to a peer presenting `cert`, the backend configured as 127.0.0.1. */
  async function secureTo(cert: IssuedPair): Promise<Socket> {
    const peer = new ScriptedDialer((s) => {
      const tls = new TLSSocket(s, { isServer: true, key: cert.keyPem, cert: cert.certPem });
      tls.on("error", () => s.destroy());
    });
    peers.push(peer);
    const socket = await dialBackend(peer, { host: "127.0.0.1", port: 5432 }, 5_000);
    try {
      return await peer.secure(socket, {
        host: "127.0.0.1",
        port: 5432,
        verify: true,
        ca: Buffer.from(ca.certPem),
      });
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  it("dialer seam: no SNI for a backend configured by address, IPv6 with letters included; its name for a host name", async () => {
    const servers: TLSSocket[] = [];
    const peer = new ScriptedDialer((s) => {
      const tls = new TLSSocket(s, { isServer: true, key: forAddress.keyPem, cert: forAddress.certPem });
      servers.push(tls);
      tls.on("error", () => s.destroy());
    });
    peers.push(peer);
    for (const host of ["fe80::1", "127.0.0.1", "db.internal"]) {
      const socket = await dialBackend(peer, { host, port: 5432 }, 5_000);
      const secure = await peer.secure(socket, { host, port: 5432, verify: false });
      secure.destroy();
    }
    // The server side has read each ClientHello by the time the client's handshake completed.
    assert.deepEqual(
      servers.map((s) => s.servername),
      [null, null, "db.internal"],
    );
  });

  it("dialer seam: verify-full to a backend configured by address accepts a certificate for that address", async () => {
    const secure = await secureTo(forAddress);
    assert.equal((secure as unknown as TLSSocket).authorized, true);
    secure.destroy();
  });

  it("dialer seam: verify-full to a backend configured by address rejects a certificate only for localhost", async () => {
    const err = await rejection(secureTo(forLocalhost));
    assert.equal(err.reason, "tls");
    assert.match(
      err.message,
      /^TLS to backend 127\.0\.0\.1:5432 failed: .*IP: 127\.0\.0\.1 is not in the cert's list/,
    );
  });
});
