import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { ConnectionClosed, EventQueue } from "../../gateway/queue.js";
import {
  Capability,
  ErrorCode,
  encodePacket,
  errPacket,
  GATEWAY_CAPABILITIES,
  type HandshakeResponse,
  handshakeResponse41,
  handshakeV10,
  MysqlProtocolError,
  MysqlSqlState,
  type PacketEvent,
  PacketParser,
  Plugin,
  parseAuthSwitch,
  parseErrPacket,
  parseHandshakeResponse,
  parseServerHandshake,
  SESSION_CAPABILITIES,
  type ServerHandshake,
  sslRequest,
} from "../../wire/mysql/index.js";
import { recordLoginFailure } from "./postgres.js";
import {
  connectTarget,
  refusedHint,
  relay,
  startTargetTls,
  type TargetContext,
  TargetLoginError,
} from "./target.js";

/** The client's HandshakeResponse41: a user name, a scramble proof and connection attributes. */
const MAX_CLIENT_LOGIN_PACKET = 70 * 1024;

/**
 * What the proxy offers its local clients: what the gateway offers, minus TLS (the proxy
 * listens on loopback or a Unix socket) and intersected with the target's greeting, so
 * every session flag a client picks can be passed on to the target.
 */
const LOCAL_CAPABILITIES = GATEWAY_CAPABILITIES & ~Capability.SSL;

/** A 20-byte printable scramble: old clients read it as a NUL-terminated string. */
function newScramble(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < b.length; i++) b[i] = 33 + ((b[i] as number) % 94);
  return b;
}

/** A connection to the target in its connection phase: packets awaited one at a time. */
class TargetConnection {
  readonly parser = new PacketParser(16 * 1024 * 1024);
  readonly queue = new EventQueue<PacketEvent>();
  greeting!: ServerHandshake;
  greetingSeq = 0;
  readonly #onData = (chunk: Buffer) => this.queue.push(this.parser.push(chunk));
  readonly #onClose = () =>
    this.queue.fail(new TargetLoginError("the target closed the connection during login", "unavailable"));

  constructor(public socket: Socket) {
    this.attach();
  }

  attach(): void {
    this.socket.on("data", this.#onData);
    this.socket.on("close", this.#onClose);
    this.socket.on("error", this.#onClose);
  }

  detach(): void {
    this.socket.off("data", this.#onData);
    this.socket.off("close", this.#onClose);
    this.socket.off("error", this.#onClose);
  }

  /** The next packet; an ERR packet is thrown as a refusal with the server's words. */
  async next(): Promise<{ seq: number; payload: Buffer }> {
    const e = await this.queue.next();
    if (e.kind === "error") throw new TargetLoginError(`the target sent ${e.message}`, "protocol");
    if (e.payload[0] === 0xff) {
      const err = parseErrPacket(e.payload);
      throw new TargetLoginError(err.message, "refused", err.message, err.code);
    }
    return e;
  }
}

/** TCP to the target and its greeting (HandshakeV10); a refusal in its place (too many connections) is thrown. */
async function openTarget(ctx: TargetContext): Promise<TargetConnection> {
  const conn = new TargetConnection(await connectTarget(ctx));
  const timer = setTimeout(
    () => conn.queue.fail(new TargetLoginError("the target sent no greeting in time", "unavailable")),
    ctx.connectTimeoutMs,
  );
  try {
    const greeting = await conn.next();
    conn.greeting = parseServerHandshake(greeting.payload);
    conn.greetingSeq = greeting.seq;
    return conn;
  } catch (err) {
    conn.socket.destroy();
    if (err instanceof MysqlProtocolError) {
      throw new TargetLoginError(
        `the target's greeting is not MySQL's: ${err.message}; check --target and --engine`,
        "protocol",
      );
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

interface ClientChoice {
  readonly capabilities: number;
  readonly charset: number;
  readonly database: string | undefined;
  readonly attributes: Buffer | undefined;
}

/**
 * Logs in to the target on a greeted connection: SSLRequest, TLS (verify-full), then the
 * token with `mysql_clear_password`, in the HandshakeResponse41 when the server reads a
 * length-encoded auth response (tokens are 1-2 KB), else after its AuthSwitchRequest.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
async function login(
  conn: TargetConnection,
  ctx: TargetContext,
  choice: ClientChoice,
): Promise<{ socket: Socket; ok: Buffer; remainder: Buffer }> {
  const timer = setTimeout(
    () =>
      conn.queue.fail(
        new TargetLoginError(`the target login took longer than ${ctx.connectTimeoutMs} ms`, "unavailable"),
      ),
    ctx.connectTimeoutMs,
  );
  try {
    const server = conn.greeting;
    if (!(server.capabilities & Capability.SSL)) {
      throw new TargetLoginError(
        `${ctx.config.target.host}:${ctx.config.target.port} does not offer TLS; an IAM endpoint always does: check --target`,
        "protocol",
      );
    }
    const token = await ctx.tokens.token();
    let caps =
      (choice.capabilities & SESSION_CAPABILITIES) |
      Capability.PROTOCOL_41 |
      Capability.SECURE_CONNECTION |
      Capability.PLUGIN_AUTH |
      Capability.LONG_PASSWORD |
      Capability.SSL;
    const lenenc = (server.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) !== 0;
    if (lenenc) caps |= Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;
    if (choice.database) caps |= Capability.CONNECT_WITH_DB;
    if (choice.attributes && server.capabilities & Capability.CONNECT_ATTRS) caps |= Capability.CONNECT_ATTRS;
    let seq = conn.greetingSeq + 1;
    conn.socket.write(encodePacket(seq++, sslRequest(caps, choice.charset)));
    conn.detach();
    conn.socket = await startTargetTls(conn.socket, ctx);
    conn.attach();
    const password = Buffer.from(`${token}\0`, "utf8");
    conn.socket.write(
      encodePacket(
        seq,
        handshakeResponse41({
          capabilities: caps,
          charset: choice.charset,
          username: ctx.config.username,
          authResponse: lenenc ? password : Buffer.alloc(0),
          database: choice.database,
          authPlugin: lenenc ? Plugin.CLEAR : Plugin.NATIVE,
          attributes: caps & Capability.CONNECT_ATTRS ? choice.attributes : undefined,
        }),
      ),
    );
    for (;;) {
      const p = await conn.next();
      if (p.payload[0] === 0x00) {
        return { socket: conn.socket, ok: p.payload, remainder: conn.parser.takeRemainder() };
      }
      if (p.payload[0] === 0xfe) {
        const { plugin } = parseAuthSwitch(p.payload);
        if (plugin !== Plugin.CLEAR) {
          throw new TargetLoginError(
            `the target asks for authentication plugin ${plugin}, not mysql_clear_password: ${ctx.config.username} is not an IAM DB user there (RDS: CREATE USER ${ctx.config.username} IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'; iamdb: iamdb db-user create)`,
            "protocol",
          );
        }
        conn.socket.write(encodePacket(p.seq + 1, password));
        continue;
      }
      throw new TargetLoginError(
        `unexpected packet 0x${(p.payload[0] ?? 0).toString(16)} from the target during login`,
        "protocol",
      );
    }
  } finally {
    clearTimeout(timer);
    conn.detach();
    conn.socket.pause();
  }
}

/**
 * A local MySQL / MariaDB client of `iamdb proxy`. The exchange:
 *
 * ```
 * local client                   iamdb proxy                         target (iamdb gateway, RDS)
 *                                 -> TCP                              <- HandshakeV10
 *   <- HandshakeV10 (the target's version and id; its flags minus TLS; mysql_native_password)
 *   -> HandshakeResponse41 (any password, or none: ignored)
 *                                 -> SSLRequest, TLS (verify-full), HandshakeResponse41 with
 *                                    the client's session flags, charset, database,
 *                                    attributes, and the token (mysql_clear_password)
 *                                 <- OK
 *   <- that OK                   <=> bytes relayed both ways
 * ```
 * The client never meets mysql_clear_password, so `mysql` / `mariadb` need no
 * `--enable-cleartext-plugin` and mysql2 no `enableCleartextPlugin`. A refused token is
 * retried once on a new connection with a newly signed one.
 */
export async function serveMysqlClient(client: Socket, ctx: TargetContext, onEnd: () => void): Promise<void> {
  const started = performance.now();
  const parser = new PacketParser(MAX_CLIENT_LOGIN_PACKET);
  const queue = new EventQueue<PacketEvent>();
  let conn: TargetConnection | undefined;
  const onData = (chunk: Buffer) => queue.push(parser.push(chunk));
  const onGone = () => {
    queue.fail(new ConnectionClosed("the client closed the connection"));
    conn?.socket.destroy();
  };
  client.on("data", onData);
  client.on("close", onGone);
  client.on("error", onGone);
  const detach = () => {
    client.off("data", onData);
    client.off("close", onGone);
    client.off("error", onGone);
  };
  let clientSeq = 0;
  const fail = (code: number, message: string, sqlState: string = MysqlSqlState.GENERAL) => {
    detach();
    client.end(encodePacket(clientSeq, errPacket(code, message, clientSeq === 0 ? undefined : sqlState)));
    setTimeout(() => client.destroy(), 2_000).unref();
    onEnd();
  };
  const failLogin = (err: unknown) => {
    const e = recordLoginFailure(ctx, err, started, client);
    if (e === undefined) {
      detach();
      onEnd();
      return;
    }
    if (e.kind === "refused" && e.serverCode === ErrorCode.ACCESS_DENIED) {
      return fail(
        ErrorCode.ACCESS_DENIED,
        `${e.serverMessage ?? "Access denied"} — iamdb proxy: ${refusedHint(ctx, ctx.tokens.peek()?.accessKeyId)}`,
        MysqlSqlState.INVALID_AUTHORIZATION,
      );
    }
    if (e.kind === "refused" && typeof e.serverCode === "number") return fail(e.serverCode, e.message);
    return fail(
      e.kind === "credentials" ? ErrorCode.ACCESS_DENIED : ErrorCode.UNKNOWN_ERROR,
      `iamdb proxy: ${e.message}`,
    );
  };
  try {
    conn = await openTarget(ctx);
  } catch (err) {
    return failLogin(err);
  }
  const server = conn.greeting;
  client.write(
    encodePacket(
      0,
      handshakeV10({
        serverVersion: server.serverVersion,
        connectionId: server.connectionId,
        scramble: newScramble(),
        capabilities: (server.capabilities & LOCAL_CAPABILITIES) | Capability.LONG_PASSWORD,
        authPlugin: Plugin.NATIVE,
      }),
    ),
  );
  let response: HandshakeResponse;
  try {
    const e = await queue.next();
    if (e.kind === "error") {
      conn.socket.destroy();
      return fail(
        ErrorCode.NET_PACKET_TOO_LARGE,
        `Bad handshake: ${e.message}`,
        MysqlSqlState.COMMUNICATION_LINK_FAILURE,
      );
    }
    clientSeq = (e.seq + 1) & 0xff;
    response = parseHandshakeResponse(e.payload);
  } catch (err) {
    conn.socket.destroy();
    if (err instanceof ConnectionClosed) {
      detach();
      onEnd();
      return;
    }
    if (err instanceof MysqlProtocolError)
      return fail(ErrorCode.HANDSHAKE, "Bad handshake", MysqlSqlState.COMMUNICATION_LINK_FAILURE);
    throw err;
  }
  if (response.sslRequest) {
    conn.socket.destroy();
    return fail(
      ErrorCode.HANDSHAKE,
      "the iamdb proxy offers no TLS to local clients (it listens on loopback and uses TLS to the server): connect with --ssl=0 / --ssl-mode=DISABLED",
      MysqlSqlState.COMMUNICATION_LINK_FAILURE,
    );
  }
  const choice: ClientChoice = {
    capabilities: response.capabilities,
    charset: response.charset,
    database: response.database || ctx.config.database,
    attributes: response.attributes,
  };
  let session: { socket: Socket; ok: Buffer; remainder: Buffer };
  try {
    try {
      session = await login(conn, ctx, choice);
    } catch (err) {
      if (
        !(
          err instanceof TargetLoginError &&
          err.kind === "refused" &&
          err.serverCode === ErrorCode.ACCESS_DENIED
        )
      ) {
        throw err;
      }
      conn.socket.destroy();
      ctx.metrics.retried(ctx.name);
      ctx.tokens.invalidate();
      conn = await openTarget(ctx);
      if (client.destroyed) throw new ConnectionClosed("the client closed the connection");
      session = await login(conn, ctx, choice);
    }
  } catch (err) {
    conn.socket.destroy();
    return failLogin(err);
  }
  ctx.metrics.login(ctx.name, "success", (performance.now() - started) / 1000);
  if (client.destroyed) {
    detach();
    session.socket.destroy();
    onEnd();
    return;
  }
  // Anything the client sent after its login packet (nothing, for a client that waits for
  // the OK) went to the connection phase's parser; a client's packets are not ours to drop.
  const parsed: Buffer[] = [];
  while (queue.size > 0) {
    const e = await queue.next();
    if (e.kind === "packet") parsed.push(encodePacket(e.seq, e.payload));
  }
  const early = Buffer.concat([...parsed, parser.takeRemainder()]);
  detach();
  client.write(encodePacket(clientSeq, session.ok));
  if (session.remainder.length > 0) client.write(session.remainder);
  if (early.length > 0) session.socket.write(early);
  relay(client, session.socket, onEnd);
}
