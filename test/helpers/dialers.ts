// Dialers for fault tests (src/gateway/dialer.ts is the seam): the gateway's backend
// connections fail, stall or are scripted here instead of behind an ad-hoc server the
// instance points at. Each takes the production TLS step (`startBackendTls`) unless it says
// otherwise, so a certificate is always checked by the gateway's own code.
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
import { Duplex } from "node:stream";
import { TLSSocket } from "node:tls";
import { type BackendAddress, type BackendTls, type Dialer, tcpDialer } from "../../src/gateway/dialer.js";
import { Capability, encodePacket, PacketParser } from "../../src/wire/mysql/index.js";

/**
 * The dialer a test gateway is started with: the production one until a test switches it to
 * a fault with `use`, and back with `use(undefined)`. It counts what it was asked.
 */
export class SwitchDialer implements Dialer {
  #current: Dialer = tcpDialer;
  /** Connections asked for, and TLS upgrades asked for, since the gateway started. */
  dials = 0;
  upgrades = 0;

  use(dialer: Dialer | undefined): void {
    this.#current = dialer ?? tcpDialer;
  }

  connect(address: BackendAddress, signal: AbortSignal): Promise<Socket> {
    this.dials++;
    return this.#current.connect(address, signal);
  }

  secure(socket: Socket, tls: BackendTls): Promise<Socket> {
    this.upgrades++;
    return this.#current.secure(socket, tls);
  }
}

/**
 * Every connection refused, as a closed port refuses it: the system error Node gives
 * (ECONNREFUSED), which the gateway must word itself.
 */
export function refusingDialer(): Dialer & { readonly refused: number } {
  let refused = 0;
  return {
    get refused() {
      return refused;
    },
    async connect(address) {
      refused++;
      throw Object.assign(new Error(`connect ECONNREFUSED ${address.host}:${address.port}`), {
        code: "ECONNREFUSED",
        errno: -111,
        syscall: "connect",
        address: address.host,
        port: address.port,
      });
    },
    secure: tcpDialer.secure,
  };
}

/**
 * Connections that never complete (a backend behind a firewall that drops packets): only the
 * gateway's connect timeout ends them, through the abort signal, which is counted.
 */
export function hangingDialer(): Dialer & { readonly dials: number; readonly aborted: number } {
  let dials = 0;
  let aborted = 0;
  return {
    get dials() {
      return dials;
    },
    get aborted() {
      return aborted;
    },
    connect(_address, signal) {
      dials++;
      return new Promise((_resolve, reject) => {
        signal.addEventListener(
          "abort",
          () => {
            aborted++;
            reject(new Error("aborted"));
          },
          { once: true },
        );
      });
    },
    secure: tcpDialer.secure,
  };
}

/**
 * Each connection goes to an in-process peer that `script` drives: it is handed the peer's
 * end and the address the gateway dialed (the instance's backend), and writes the backend's
 * bytes, relays to the real backend, resets, or speaks TLS. The gateway gets a real socket
 * (the pools ref and unref theirs) over loopback; `close` ends every peer.
 */
export class ScriptedDialer implements Dialer {
  #server: Server | undefined;
  #port: Promise<number> | undefined;
  readonly #peers = new Set<Socket>();
  readonly #waiting = new Map<number, (peer: Socket) => void>();
  readonly #arrived = new Map<number, Socket>();

  constructor(private readonly script: (peer: Socket, dialed: BackendAddress) => void) {}

  async connect(address: BackendAddress, signal: AbortSignal): Promise<Socket> {
    const port = await this.#listening();
    const socket = await tcpDialer.connect({ host: "127.0.0.1", port }, signal);
    const peer = await this.#peerFor(socket.localPort as number);
    this.script(peer, address);
    return socket;
  }

  secure(socket: Socket, tls: BackendTls): Promise<Socket> {
    return tcpDialer.secure(socket, tls);
  }

  async close(): Promise<void> {
    for (const peer of this.#peers) peer.destroy();
    const server = this.#server;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  #listening(): Promise<number> {
    this.#port ??= new Promise((resolve) => {
      const server = createServer((peer) => {
        this.#peers.add(peer);
        peer.on("close", () => this.#peers.delete(peer));
        peer.on("error", () => peer.destroy());
        const key = peer.remotePort as number;
        const waiter = this.#waiting.get(key);
        this.#waiting.delete(key);
        if (waiter) waiter(peer);
        else this.#arrived.set(key, peer);
      });
      this.#server = server;
      server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
    });
    return this.#port;
  }

  /** The server's end of the connection from local port `port` (it may be accepted before or after). */
  #peerFor(port: number): Promise<Socket> {
    const arrived = this.#arrived.get(port);
    this.#arrived.delete(port);
    if (arrived) return Promise.resolve(arrived);
    return new Promise((resolve) => this.#waiting.set(port, resolve));
  }
}

/** Relays `a` and `b` both ways; either side going away closes the other. */
function splice(a: Socket, b: Socket): void {
  a.pipe(b);
  b.pipe(a);
  for (const [x, y] of [
    [a, b],
    [b, a],
  ] as const) {
    x.on("error", () => y.destroy());
    x.on("close", () => y.destroy());
  }
}

/**
 * A backend that is really there (the peer relays to the address dialed) until the gateway has
 * sent it `afterBytes` bytes: then the peer resets the connection (TCP RST), mid-login. What the
 * gateway had sent by then is in `received`.
 */
export function resettingDialer(afterBytes: number): ScriptedDialer & { readonly received: Buffer[] } {
  const received: Buffer[] = [];
  const dialer = new ScriptedDialer((peer, dialed) => {
    const upstream = connect({ host: dialed.host, port: dialed.port });
    let seen = 0;
    upstream.on("data", (chunk: Buffer) => {
      if (!peer.destroyed) peer.write(chunk);
    });
    upstream.on("error", () => peer.destroy());
    upstream.on("close", () => peer.destroy());
    peer.on("close", () => upstream.destroy());
    peer.on("data", (chunk: Buffer) => {
      received.push(chunk);
      seen += chunk.length;
      if (seen < afterBytes) {
        upstream.write(chunk);
        return;
      }
      upstream.write(chunk.subarray(0, chunk.length - (seen - afterBytes)));
      upstream.destroy();
      peer.resetAndDestroy();
    });
  });
  return Object.assign(dialer, { received });
}

/** A certificate and key a test peer presents. */
export interface PeerCertificate {
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * A PostgreSQL backend with TLS in front: the peer answers the gateway's SSLRequest with 'S',
 * completes TLS presenting `certificate`, and relays what it decrypts to the address dialed (a
 * real PostgreSQL without TLS). A certificate the gateway does not trust makes its TLS step fail.
 */
export function postgresTlsDialer(certificate: PeerCertificate): ScriptedDialer {
  return new ScriptedDialer((peer, dialed) => {
    peer.once("data", () => {
      // The SSLRequest: the gateway waits for the answer before it sends anything else.
      peer.pause();
      peer.write("S");
      const secure = new TLSSocket(peer, {
        isServer: true,
        key: certificate.keyPem,
        cert: certificate.certPem,
      });
      splice(secure as unknown as Socket, connect({ host: dialed.host, port: dialed.port }));
    });
  });
}

/**
 * A MySQL backend with TLS in front, over a real MariaDB without TLS at the address dialed: the
 * peer passes on the backend's greeting with CLIENT_SSL added, takes the gateway's SSLRequest,
 * completes TLS presenting `certificate`, then relays, numbering the login's packets as each
 * side expects (the SSLRequest took a sequence number the backend never saw) and taking
 * CLIENT_SSL out of the HandshakeResponse41 the backend reads. After the backend's OK or ERR
 * (commands start again at 0) the bytes pass unchanged.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
export function mysqlTlsDialer(certificate: PeerCertificate): ScriptedDialer {
  return new ScriptedDialer((peer, dialed) => {
    const upstream = connect({ host: dialed.host, port: dialed.port });
    upstream.on("error", () => peer.destroy());
    peer.on("close", () => upstream.destroy());
    const fromBackend = new PacketParser();
    const onGreeting = (chunk: Buffer) => {
      const packet = fromBackend.push(chunk)[0];
      if (packet?.kind !== "packet") return;
      upstream.off("data", onGreeting);
      upstream.pause();
      const greeting = Buffer.from(packet.payload);
      // Protocol 10: version NUL, connection id (4), scramble part 1 (8), filler (1), then the capabilities' low 16 bits.
      const at = greeting.indexOf(0, 1) + 1 + 4 + 8 + 1;
      greeting.writeUInt16LE(greeting.readUInt16LE(at) | Capability.SSL, at);
      peer.write(encodePacket(packet.seq, greeting));
      peer.on("data", function onSslRequest(chunk: Buffer) {
        // The SSLRequest (4-byte header, 32-byte payload); the gateway's ClientHello follows
        // without waiting, maybe in this very chunk, so TLS reads from a stream that starts
        // with whatever came after it.
        peer.off("data", onSslRequest);
        const stream = new Duplex({
          read: () => peer.resume(),
          write: (data: Buffer, _encoding, done) => peer.write(data, done),
          final: (done) => peer.end(done),
        });
        stream.on("error", () => peer.destroy());
        peer.on("data", (data: Buffer) => {
          if (!stream.push(data)) peer.pause();
        });
        peer.on("end", () => stream.push(null));
        peer.on("close", () => stream.destroy());
        stream.push(chunk.subarray(36));
        const secure = new TLSSocket(stream as unknown as Socket, {
          isServer: true,
          key: certificate.keyPem,
          cert: certificate.certPem,
        });
        secure.on("error", () => upstream.destroy());
        secure.on("close", () => upstream.destroy());
        upstream.on("close", () => secure.destroy());
        relayLogin(secure as unknown as Socket, upstream);
      });
    };
    upstream.on("data", onGreeting);
  });
}

/** The login after the SSLRequest, renumbered both ways until the backend's OK or ERR; then a plain relay. */
function relayLogin(gateway: Socket, backend: Socket): void {
  const fromGateway = new PacketParser();
  const fromBackend = new PacketParser();
  let first = true;
  const onGateway = (chunk: Buffer) => {
    for (const e of fromGateway.push(chunk)) {
      if (e.kind !== "packet") return gateway.destroy();
      const payload = Buffer.from(e.payload);
      if (first) {
        // HandshakeResponse41: the backend has no TLS, and must not read that the client asked for it.
        payload.writeUInt32LE((payload.readUInt32LE(0) & ~Capability.SSL) >>> 0, 0);
        first = false;
      }
      backend.write(encodePacket(e.seq - 1, payload));
    }
  };
  const onBackend = (chunk: Buffer) => {
    for (const e of fromBackend.push(chunk)) {
      if (e.kind !== "packet") return backend.destroy();
      gateway.write(encodePacket(e.seq + 1, e.payload));
      if (e.payload[0] === 0x00 || e.payload[0] === 0xff) {
        gateway.off("data", onGateway);
        backend.off("data", onBackend);
        const rest = fromBackend.takeRemainder();
        if (rest.length > 0) gateway.write(rest);
        const pending = fromGateway.takeRemainder();
        if (pending.length > 0) backend.write(pending);
        gateway.pipe(backend);
        backend.pipe(gateway);
        return;
      }
    }
  };
  gateway.on("data", onGateway);
  backend.on("data", onBackend);
  backend.resume();
}
