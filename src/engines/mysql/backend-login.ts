import type { Socket } from "node:net";
import { backendTls } from "../../gateway/backend-socket.js";
import { type Dialer, dialBackend, orUnavailable } from "../../gateway/dialer.js";
import { ConnectionClosed, EventQueue } from "../../gateway/queue.js";
import type { BackendSpec } from "../../instances/types.js";
import {
  Capability,
  cachingSha2Proof,
  type ErrInfo,
  encodePacket,
  handshakeResponse41,
  MysqlSqlState,
  nativePasswordProof,
  type PacketEvent,
  PacketParser,
  Plugin,
  parseAuthSwitch,
  parseErrPacket,
  parseServerHandshake,
  rsaEncryptPassword,
  SESSION_CAPABILITIES,
  sslRequest,
} from "../../wire/mysql/index.js";

/** The backend refused or broke the login; `err` is its ERR packet when it sent one. */
export class MysqlBackendError extends Error {
  constructor(
    message: string,
    readonly kind: "unavailable" | "refused" | "protocol",
    readonly err?: ErrInfo,
  ) {
    super(message);
    this.name = "MysqlBackendError";
  }
}

/** What the client chose in its HandshakeResponse41, carried to the backend. */
export interface MysqlLogin {
  readonly username: string;
  readonly password: string;
  readonly capabilities: number;
  readonly charset: number;
  readonly database: string | undefined;
  readonly attributes: Buffer | undefined;
}

export interface MysqlBackendSession {
  readonly socket: Socket;
  /** The backend's OK_Packet payload, relayed to the client as the end of its login. */
  readonly ok: Buffer;
  readonly serverVersion: string;
  readonly connectionId: number;
  /** Bytes that followed the OK packet (none in practice): the relay forwards them first. */
  readonly remainder: Buffer;
}

const capabilityNames = (flags: number) =>
  Object.entries(Capability)
    .filter(([, bit]) => flags & bit)
    .map(([name]) => `CLIENT_${name}`)
    .join(", ");

/**
 * Connects to the backend through `dialer` and logs in as `login.username` with the gateway-held password,
 * answering mysql_native_password, caching_sha2_password (fast path; full authentication
 * over TLS or with the server's RSA key) and sha256_password, switching plugins when the
 * backend asks. The session flags the client chose are passed on unchanged, so the bytes
 * relayed afterwards are framed as the client expects; a backend lacking one is an error
 * here, never a corrupted session later.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
export async function mysqlBackendLogin(
  spec: BackendSpec,
  login: MysqlLogin,
  timeoutMs: number,
  dialer: Dialer,
): Promise<MysqlBackendSession> {
  let socket = await orUnavailable(dialBackend(dialer, spec, timeoutMs), unavailable);
  const parser = new PacketParser(16 * 1024 * 1024);
  const queue = new EventQueue<PacketEvent>();
  const onData = (chunk: Buffer) => queue.push(parser.push(chunk));
  const onClose = () =>
    queue.fail(new MysqlBackendError("backend closed the connection during login", "unavailable"));
  const attach = (s: Socket) => {
    s.on("data", onData);
    s.on("close", onClose);
    s.on("error", onClose);
  };
  const detach = (s: Socket) => {
    s.off("data", onData);
    s.off("close", onClose);
    s.off("error", onClose);
  };
  const timer = setTimeout(
    () => queue.fail(new MysqlBackendError(`backend login took longer than ${timeoutMs} ms`, "unavailable")),
    timeoutMs,
  );
  const next = async () => {
    const e = await queue.next();
    if (e.kind === "error") throw new MysqlBackendError(`backend sent ${e.message}`, "protocol");
    if (e.payload[0] === 0xff) {
      const err = parseErrPacket(e.payload);
      throw new MysqlBackendError(
        `${err.code} (${err.sqlState ?? MysqlSqlState.GENERAL}): ${err.message}`,
        "refused",
        err,
      );
    }
    return e;
  };
  attach(socket);
  try {
    const greeting = await next();
    const server = parseServerHandshake(greeting.payload);
    const required = Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION | Capability.PLUGIN_AUTH;
    const wanted = (login.capabilities & SESSION_CAPABILITIES) | required;
    const missing = wanted & ~server.capabilities;
    if (missing) {
      throw new MysqlBackendError(
        `backend ${server.serverVersion} lacks capabilities the client was promised: ${capabilityNames(missing)}`,
        "protocol",
      );
    }
    let caps = wanted | Capability.LONG_PASSWORD;
    for (const optional of [Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA, Capability.CONNECT_ATTRS]) {
      if (server.capabilities & optional) caps |= optional;
    }
    if (login.database) caps |= Capability.CONNECT_WITH_DB;
    if (!login.attributes) caps &= ~Capability.CONNECT_ATTRS;
    let seq = greeting.seq + 1;
    let secure = false;
    if (spec.tls !== "disable") {
      if (!(server.capabilities & Capability.SSL)) {
        throw new MysqlBackendError(
          `backend ${spec.host}:${spec.port} does not offer TLS, but the instance requires it (backend.tls = ${spec.tls})`,
          "unavailable",
        );
      }
      caps |= Capability.SSL;
      socket.write(encodePacket(seq++, sslRequest(caps, login.charset)));
      detach(socket);
      socket = await orUnavailable(dialer.secure(socket, backendTls(spec)), unavailable);
      attach(socket);
      secure = true;
    }
    let plugin = server.authPlugin;
    let scramble = server.scramble;
    const respond = (): Buffer => {
      switch (plugin) {
        case Plugin.CACHING_SHA2:
          return cachingSha2Proof(login.password, scramble);
        case Plugin.CLEAR:
          if (!secure) {
            throw new MysqlBackendError(
              "the backend asks for mysql_clear_password over an unencrypted connection; set the instance's backend.tls to require or verify-full",
              "protocol",
            );
          }
          return Buffer.from(`${login.password}\0`);
        case Plugin.SHA256:
          // Over TLS the password itself; otherwise ask for the server's RSA key (0x01).
          return secure ? Buffer.from(`${login.password}\0`) : Buffer.of(1);
        default:
          return nativePasswordProof(login.password, scramble);
      }
    };
    if (![Plugin.NATIVE, Plugin.CACHING_SHA2, Plugin.SHA256].includes(plugin as never))
      plugin = Plugin.NATIVE;
    socket.write(
      encodePacket(
        seq,
        handshakeResponse41({
          capabilities: caps,
          charset: login.charset,
          username: login.username,
          authResponse: respond(),
          database: login.database,
          authPlugin: plugin,
          attributes: login.attributes,
        }),
      ),
    );
    for (;;) {
      const p = await next();
      const reply = (payload: Buffer) => socket.write(encodePacket(p.seq + 1, payload));
      switch (p.payload[0]) {
        case 0x00:
          return {
            socket,
            ok: p.payload,
            serverVersion: server.serverVersion,
            connectionId: server.connectionId,
            remainder: parser.takeRemainder(),
          };
        case 0xfe: {
          const sw = parseAuthSwitch(p.payload);
          plugin = sw.plugin;
          scramble = sw.data;
          if (![Plugin.NATIVE, Plugin.CACHING_SHA2, Plugin.SHA256, Plugin.CLEAR].includes(plugin as never)) {
            throw new MysqlBackendError(
              `backend asks for authentication plugin ${plugin}, which iamdb does not speak; create the account with db-user create (mysql_native_password or caching_sha2_password)`,
              "protocol",
            );
          }
          reply(respond());
          break;
        }
        case 0x01: {
          const data = p.payload.subarray(1);
          if (plugin === Plugin.CACHING_SHA2 && data.length === 1 && data[0] === 3) break; // fast auth OK; OK follows
          if (plugin === Plugin.CACHING_SHA2 && data.length === 1 && data[0] === 4) {
            // Full authentication: the password over TLS, else request the server's RSA key (0x02).
            reply(secure ? Buffer.from(`${login.password}\0`) : Buffer.of(2));
            break;
          }
          if (data.includes("-----BEGIN")) {
            reply(rsaEncryptPassword(login.password, scramble, data.toString("latin1")));
            break;
          }
          throw new MysqlBackendError(`unexpected AuthMoreData from the backend (${plugin})`, "protocol");
        }
        default:
          throw new MysqlBackendError(
            `unexpected packet 0x${(p.payload[0] ?? 0).toString(16)} during backend login`,
            "protocol",
          );
      }
    }
  } catch (err) {
    socket.destroy();
    if (err instanceof MysqlBackendError) throw err;
    if (err instanceof ConnectionClosed) throw new MysqlBackendError(err.reason, "unavailable");
    throw new MysqlBackendError(`backend login failed: ${(err as Error).message}`, "protocol");
  } finally {
    clearTimeout(timer);
    detach(socket);
    socket.pause();
  }
}

/** A failure to reach the backend, as the MySQL engine words it. */
const unavailable = (message: string) => new MysqlBackendError(message, "unavailable");
