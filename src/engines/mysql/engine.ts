import { randomBytes, randomInt, randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { auditIdentity, type SessionAudit } from "../../gateway/audit/statement-audit.js";
import type { AuthAttempt } from "../../gateway/auth-log.js";
import type { LoginResult } from "../../gateway/authenticate.js";
import { LoginConnection, refuseThrottled } from "../../gateway/connection.js";
import type { Engine, ListenerContext, RefusalReason } from "../../gateway/engine.js";
import type { LoginFailureCause } from "../../gateway/outcome.js";
import { type Refusal, type RefusalSubject, Refused, recordRefusal } from "../../gateway/refusal.js";
import type { BackendSpec } from "../../instances/types.js";
import type { RdsErrorCode } from "../../token/causes.js";
import {
  authMoreData,
  authSwitchRequest,
  CachingSha2,
  Capability,
  Command,
  CommandTracker,
  clearPasswordFrom,
  type ErrInfo,
  ErrorCode,
  encodePacket,
  errPacket,
  GATEWAY_CAPABILITIES,
  type HandshakeResponse,
  handshakeV10,
  MysqlProtocolError,
  MysqlSqlState,
  okPacketStatus,
  type Packet,
  type PacketEvent,
  PacketParser,
  Plugin,
  parseHandshakeResponse,
  withGatewayAttributes,
} from "../../wire/mysql/index.js";
import {
  MysqlBackendError,
  type MysqlBackendSession,
  type MysqlLogin,
  mysqlBackendLogin,
} from "./backend-login.js";
import { readChangeUserToken } from "./change-user.js";
import { type MysqlBackendPool, type MysqlPooledBackend, mysqlPoolKey } from "./pool.js";
import { accessDenied, mysqlRefusalPacket } from "./refusals.js";
import { ServerVersions } from "./server-version.js";

/**
 * How long the first client of an instance waits for the backend's version before the
 * handshake announces the fallback: a small part of the login timeout, so a backend that is
 * down or silent still leaves the login its time (and its proper error).
 */
const VERSION_WAIT_MS = 1_000;

/**
 * Largest packet a client may send before it is authenticated. A HandshakeResponse41 holds
 * a user name, a scramble or a 1-2 KB token, a database name and connection attributes
 * (libmysqlclient caps those at 64 KiB); anything larger is refused before it is buffered.
 */
export const MAX_PREAUTH_PACKET = 70 * 1024;

/** The first byte of a TLS record carrying a handshake message (the ClientHello). */
const TLS_HANDSHAKE_RECORD = 0x16;

/**
 * Commands the relay handles itself: COM_CHANGE_USER is re-authenticated with a token, never
 * relayed; COM_QUIT ends the session here, so that an idle backend can go back to the pool.
 */
const INTERCEPTED_COMMANDS: ReadonlySet<number> = new Set([Command.CHANGE_USER, Command.QUIT]);

const EMPTY = Buffer.alloc(0);

/** A fresh backend login, as the pool will hold it. */
function pooledBackend(
  session: MysqlBackendSession,
  spec: BackendSpec,
  login: Pick<MysqlLogin, "database" | "capabilities">,
): MysqlPooledBackend {
  return {
    socket: session.socket,
    ok: session.ok,
    connectionId: session.connectionId,
    createdAt: performance.now(),
    server: `${spec.host}:${spec.port}`,
    database: login.database ?? "",
    capabilities: login.capabilities,
  };
}

/** The pool key of a login, or undefined when its backend must not be pooled. */
function keyFor(
  pool: MysqlBackendPool,
  spec: BackendSpec,
  login: Omit<MysqlLogin, "attributes">,
  principalArn: string,
): string | undefined {
  // Without a database, COM_INIT_DB could not take a connection back to where its login left it.
  if (!pool.enabled || spec.reuseConnections === false || login.database === undefined) return undefined;
  return mysqlPoolKey(spec, {
    username: login.username,
    password: login.password,
    database: login.database,
    charset: login.charset,
    capabilities: login.capabilities,
    principalArn,
  });
}

/** The client address as MySQL prints it in "Access denied for user 'u'@'HOST'". */
function clientHost(socket: Socket): string {
  const a = socket.remoteAddress ?? "unknown";
  return a.startsWith("::ffff:") && a.includes(".") ? a.slice(7) : a;
}

/** A 20-byte scramble of printable bytes: old clients read it as a NUL-terminated string. */
function newScramble(): Buffer {
  const b = randomBytes(20);
  for (let i = 0; i < b.length; i++) b[i] = 33 + ((b[i] as number) % 94);
  return b;
}

/**
 * The MySQL / MariaDB engine. The handshake, as a sequence:
 *
 * ```
 * client                         iamdb                              backend
 *   <- HandshakeV10 (fixed caps, SSL, plugin auth; no backend yet)
 *   -> SSLRequest                 (anything else: ERR 3159, the password is never read)
 *   <=> TLS                       (bytes buffered before it: refused)
 *   -> HandshakeResponse41        (mysql_clear_password here, or:)
 *   <- AuthSwitchRequest(mysql_clear_password)
 *   -> token
 *                                 verify token, authorize rds-db:connect
 *                                 -> TCP (+TLS), HandshakeResponse41 with the client's
 *                                    session flags, charset, database, attributes and the
 *                                    gateway-held password (native / caching_sha2)
 *                                 <- OK
 *   <- that OK                   relay (COM_CHANGE_USER re-authenticated, never forwarded; LOAD
 *                                 DATA LOCAL file packets followed from the server's 0xFB request
 *                                 to the client's empty packet, and never taken for commands;
 *                                 the server's answers followed to know when the backend is idle)
 *   -> COM_QUIT / hang-up         idle: -> COM_RESET_CONNECTION + COM_INIT_DB, <- OK OK, pooled;
 *                                 the next login with the same key skips the backend login and
 *                                 gets the pooled connection's login OK
 * ```
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
export class MysqlEngine implements Engine {
  #connectionIds = randomInt(1, 1 << 24);
  readonly #versions = new ServerVersions();
  #pool: MysqlBackendPool | undefined;

  /**
   * @param sharedPool the gateway's one pool for every MySQL / MariaDB instance (made at the
   *   first connection), so the bound on idle connections per server holds however many
   *   instances point at one server.
   */
  constructor(private readonly sharedPool: () => MysqlBackendPool) {}

  /** Logged-in backend connections for reuse. */
  pool(): MysqlBackendPool {
    this.#pool ??= this.sharedPool();
    return this.#pool;
  }

  handle(socket: Socket, ctx: ListenerContext): void {
    const id = this.#connectionIds++ >>> 0;
    new MysqlConnection(socket, ctx, id, this.#versions, this.pool()).run().catch(() => {
      socket.destroy();
    });
  }

  close(): void {
    this.#pool?.close();
  }

  refuse(socket: Socket, ctx: ListenerContext, reason: RefusalReason): void {
    // What mysqld sends instead of its handshake when it is out of connections.
    refuseThrottled(socket, ctx, (refusal, subject) => mysqlRefusalPacket(0, refusal, subject), reason);
  }
}

class MysqlConnection extends LoginConnection<PacketEvent, ErrInfo> {
  readonly #parser = new PacketParser(MAX_PREAUTH_PACKET);
  /** Sequence id of our next packet in the connection phase. */
  #seq = 0;
  /** The scramble of our HandshakeV10, given again with an AuthSwitch. */
  #scramble: Buffer = Buffer.alloc(20);
  /** The plugin we asked the client to send its password with (for the log when it hangs up instead). */
  #asked: string | undefined;
  /** The plugin the token came with, for the auth log's success line. */
  #via: string = Plugin.CLEAR;

  constructor(
    raw: Socket,
    ctx: ListenerContext,
    private readonly connectionId: number,
    private readonly versions: ServerVersions,
    private readonly pool: MysqlBackendPool,
  ) {
    super(raw, ctx);
  }

  protected onChunk(chunk: Buffer): void {
    this.queue.push(this.#parser.push(chunk));
  }

  protected override closedReason(): string {
    if (this.stage !== "password") return super.closedReason();
    return this.#asked === Plugin.CLEAR
      ? "client closed the connection instead of sending a password: it supports neither caching_sha2_password nor mysql_clear_password (mysql: --enable-cleartext-plugin or LIBMYSQL_ENABLE_CLEARTEXT_PLUGIN=1; mysql2: enableCleartextPlugin: true, or an mysql2 version with caching_sha2_password)"
      : `client closed the connection instead of sending a password (asked for with ${this.#asked ?? "the handshake"}): make sure it uses TLS (mariadb/mysql: --ssl-ca; mysql2: ssl)`;
  }

  /** An ERR packet answering the client's last packet: how mysqld refuses a connection. */
  protected refusalBytes(refusal: Refusal<ErrInfo>, subject: RefusalSubject): Buffer | undefined {
    return mysqlRefusalPacket(this.#seq, refusal, subject);
  }

  protected clientAddress(): string {
    return clientHost(this.raw);
  }

  /** The next packet; a framing error (oversized packet) ends the login. */
  async #next(): Promise<Packet> {
    const e = await this.queue.next();
    if (e.kind === "error") throw new MysqlProtocolError(e.message);
    this.#seq = (e.seq + 1) & 0xff;
    return e;
  }

  /**
   * Starts TLS on the raw socket. A MySQL client sends its ClientHello right after the
   * SSLRequest without waiting for an answer, so bytes may already be buffered: they go to
   * TLS, and must be a TLS handshake record; anything else is plaintext someone slipped in
   * before encryption (the CVE-2021-23214 class), and the connection is refused.
   */
  #upgrade(): Promise<void> {
    return this.startTls(() => {
      this.raw.pause();
      const early = this.#parser.takeRemainder();
      if (early.length > 0 && early[0] !== TLS_HANDSHAKE_RECORD) {
        throw new Refused({
          cause: "protocol-violation",
          detail: "unencrypted data after the SSL request (possible man-in-the-middle injection)",
        });
      }
      if (early.length > 0) this.raw.unshift(early);
    });
  }

  /**
   * A protocol violation: "Bad handshake" before the authentication exchange, a failed login
   * in it (the refusal table's words); the operator's log says what the client did.
   */
  #protocolError(detail: string): void {
    this.refuse({ cause: "protocol-violation", detail });
  }

  protected async handshake(): Promise<void> {
    const { ctx } = this;
    const instance = this.instance;
    const scramble = newScramble();
    this.#scramble = scramble;
    const serverVersion = await this.versions.forGreeting(
      instance,
      Math.min(VERSION_WAIT_MS, ctx.limits.loginTimeoutMs / 4),
      ctx.limits.backendConnectTimeoutMs,
      ctx.dialer,
    );
    this.raw.write(
      encodePacket(
        0,
        handshakeV10({
          serverVersion,
          connectionId: this.connectionId,
          capabilities: GATEWAY_CAPABILITIES,
          // Not mysql_clear_password: a client that skips TLS must not send the token in its first packet.
          // caching_sha2_password: the client's first answer is a scramble, never its password;
          // the token comes only once TLS is up and we ask for full authentication.
          authPlugin: Plugin.CACHING_SHA2,
          scramble,
        }),
      ),
    );
    let response: HandshakeResponse;
    try {
      this.#parser.limit(1);
      response = parseHandshakeResponse((await this.#next()).payload);
      if (!response.sslRequest) this.queue.push(this.#parser.unlimit());
      else {
        // Plaintext slipped in before TLS is a typed refusal (Refused), sent at the edge.
        await this.#upgrade();
        this.#parser.unlimit();
        response = parseHandshakeResponse((await this.#next()).payload);
        if (response.sslRequest) return this.#protocolError("a second SSL request inside TLS");
      }
    } catch (err) {
      if (err instanceof MysqlProtocolError)
        return this.#protocolError(`protocol error before login: ${err.message}`);
      throw err;
    }
    const user = response.username;
    this.attempt.dbUser = user;
    if (!this.tls && !ctx.allowPlaintext) {
      return this.refuse({
        cause: "tls-required",
        detail: "the client did not request TLS; IAM logins require it (the password was never read)",
      });
    }
    if (response.capabilities & Capability.COMPRESS) {
      return this.#protocolError("the client asked for compression, which iamdb does not offer");
    }

    this.stage = "password";
    // What goes wrong before the client presents its token is a protocol violation, not a
    // token of the wrong form: the client gets the same 1045, the operator the right cause,
    // and RDS's counters (InvalidToken) do not count it.
    if (response.authPlugin === undefined && !(response.capabilities & Capability.PLUGIN_AUTH)) {
      return this.#protocolError(
        "the client cannot switch authentication plugins (no CLIENT_PLUGIN_AUTH); IAM logins need caching_sha2_password or mysql_clear_password",
      );
    }
    let password: string | undefined;
    try {
      password = await this.#readToken(response);
    } catch (err) {
      if (err instanceof MysqlProtocolError) return this.#protocolError(err.message);
      throw err;
    }
    if (password === undefined) return;
    if (this.#parser.buffered > 0 || this.queue.size > 0) {
      return this.#protocolError("the client sent data before the login completed (protocol violation)");
    }
    // An authentication attempt, as RDS counts them: the client presented its token.
    this.countRequest();
    const auth = await this.authenticate(user, password);
    if (!auth) return;

    this.stage = "backend";
    const spec = instance.backend;
    const login: MysqlLogin = {
      username: user,
      password: auth.backendPassword,
      capabilities: response.capabilities,
      charset: response.charset,
      database: response.database || undefined,
      // Who is behind the session, for performance_schema.session_connect_attrs: the
      // gateway's word (a client's own iamdb.* attributes are dropped).
      attributes: withGatewayAttributes(response.attributes, {
        "iamdb.session_id": this.attempt.correlationId,
        "iamdb.principal_arn": auth.principalArn,
        "iamdb.access_key_id": auth.accessKeyId,
      }),
    };
    const key = keyFor(this.pool, spec, login, auth.principalArn);
    const pooled = key === undefined ? undefined : this.pool.take(key);
    let backend: MysqlPooledBackend;
    let remainder: Buffer = EMPTY;
    if (pooled) backend = pooled;
    else {
      let session: MysqlBackendSession;
      try {
        session = await mysqlBackendLogin(spec, login, ctx.limits.backendConnectTimeoutMs, ctx.dialer);
      } catch (err) {
        const e = err instanceof MysqlBackendError ? err : new MysqlBackendError(String(err), "protocol");
        return this.#backendFailed(user, e);
      }
      if (this.ended !== undefined) {
        session.socket.destroy();
        return;
      }
      this.versions.learned(instance.identifier, session.serverVersion);
      backend = pooledBackend(session, spec, login);
      remainder = session.remainder;
    }
    ctx.metrics.backendSession(instance.identifier, pooled !== undefined);
    const audit = ctx.audit?.session(auditIdentity(this.attempt, login.database), {
      mysqlCharset: response.charset,
    });
    this.#relay(
      backend,
      remainder,
      key,
      pooled !== undefined,
      `${auth.detail} (token sent with ${this.#via})${pooled ? "; backend connection reused" : ""}`,
      {
        username: user,
        capabilities: response.capabilities,
        charset: response.charset,
        database: login.database,
        attributes: response.attributes,
      },
      audit,
    );
  }

  /**
   * The token, as the client's authentication plugin carries it, or undefined when the login
   * was refused here. Over TLS:
   * - mysql_clear_password (in the first response): the token itself;
   * - caching_sha2_password: its scramble cannot be checked (the gateway does not know the
   *   token), so the fast path is answered with "perform full authentication", and the client
   *   sends its password as is; a request for the server's RSA key instead is refused (an
   *   empty scramble, an empty password, is switched to mysql_clear_password instead);
   * - sha256_password: the password itself over TLS, in the first response or after an
   *   AuthSwitch to the plugin;
   * - anything else (mysql_native_password: a client without caching_sha2_password):
   *   AuthSwitch to mysql_clear_password.
   * Without TLS (only with `allowPlaintext`) only mysql_clear_password is used: neither
   * SHA-2 plugin ever takes a password over an unencrypted connection.
   */
  async #readToken(response: HandshakeResponse): Promise<string | undefined> {
    const plugin = this.tls ? response.authPlugin : Plugin.CLEAR;
    if (plugin === Plugin.CLEAR && response.authPlugin === Plugin.CLEAR) {
      return clearPasswordFrom(response.authResponse);
    }
    this.#via = plugin === Plugin.SHA256 ? plugin : Plugin.CLEAR;
    // An empty scramble is an empty password (a token never is): such a client gets its token
    // elsewhere, typically from an mysql_clear_password plugin entry (mysql2's authPlugins, the
    // client kit's helpers), so it is offered that plugin instead of full authentication.
    if (plugin === Plugin.CACHING_SHA2 && response.authResponse.length > 0) {
      this.#asked = Plugin.CACHING_SHA2;
      this.#via = Plugin.CACHING_SHA2;
      this.socket.write(
        encodePacket(this.#seq, authMoreData(Buffer.of(CachingSha2.PERFORM_FULL_AUTHENTICATION))),
      );
      return this.#cleartextReply(Plugin.CACHING_SHA2);
    }
    if (plugin === Plugin.SHA256) {
      // 0x01 asks for the server's RSA key; empty is an empty password.
      const data = response.authResponse;
      if (data.length > 1) return clearPasswordFrom(data);
      this.#asked = Plugin.SHA256;
      // The scramble NUL-terminated, as mysqld sends it: libmariadb's plugin wants 21 bytes.
      this.socket.write(
        encodePacket(
          this.#seq,
          authSwitchRequest(Plugin.SHA256, Buffer.concat([this.#scramble, Buffer.of(0)])),
        ),
      );
      return this.#cleartextReply(Plugin.SHA256);
    }
    this.#asked = Plugin.CLEAR;
    this.socket.write(encodePacket(this.#seq, authSwitchRequest(Plugin.CLEAR)));
    return clearPasswordFrom((await this.#next()).payload);
  }

  /** The client's password after a request for it by a SHA-2 plugin; refuses a request for our RSA key. */
  async #cleartextReply(plugin: string): Promise<string | undefined> {
    const reply = (await this.#next()).payload;
    if (reply.length === 1 && (reply[0] === CachingSha2.REQUEST_PUBLIC_KEY || reply[0] === 1)) {
      this.#protocolError(
        `the client asked for the server's RSA public key (${plugin}), as it does when it thinks the connection is unencrypted; iamdb takes the token only over TLS: configure the client's TLS options (mariadb/mysql: --ssl-ca; mysql2: ssl) so that it sends it`,
      );
      return undefined;
    }
    return clearPasswordFrom(reply);
  }

  #backendFailed(user: string, e: MysqlBackendError): void {
    const { ctx } = this;
    const id = this.instance.identifier;
    if (e.kind !== "refused") {
      this.refuse({ cause: "backend-unavailable", detail: e.message });
      return;
    }
    if (e.err && e.err.code !== ErrorCode.ACCESS_DENIED) {
      // The backend's own refusal of the session (unknown database, too many connections):
      // the client's to see, as it would connecting directly.
      this.refuse({
        cause: "backend-login-failed",
        detail: `backend refused the session: ${e.message}`,
        own: e.err,
      });
      return;
    }
    this.refuse({
      cause: "backend-login-failed",
      detail: `the backend refused the gateway-held password for '${user}' (${e.message}); reset it with: iamdb db-user rotate --db-instance-identifier ${id} --username ${user}${ctx.authenticator.commandFlags} (an anonymous account such as ''@'localhost' created since shadows it until then)`,
    });
  }

  /**
   * Starts the session on `current` (its login's OK to the client first), then relays. When the
   * client leaves (COM_QUIT or its socket closes) with the backend idle, the backend goes back
   * to the pool under `key`; otherwise it is closed.
   */
  #relay(
    first: MysqlPooledBackend,
    remainder: Buffer,
    firstKey: string | undefined,
    reused: boolean,
    detail: string,
    login: Omit<MysqlLogin, "password">,
    audit?: SessionAudit,
  ): void {
    const { ctx } = this;
    const instance = this.instance;
    const id = instance.identifier;
    const client = this.socket;
    let current = first;
    let key = firstKey;
    let backend = current.socket;
    const pool = this.pool;
    const raw = this.raw;
    const tls = this.tls;
    let attempt: AuthAttempt = { ...this.attempt };
    this.sessionStarted(detail);
    // What the session keeps: these locals, never `this` (the handshake's state).
    // With the statement audit on, the tracker also reads COM_QUERY and COM_STMT_PREPARE texts.
    let sessionAudit = audit;
    const tracker = new CommandTracker(
      audit && { maxTextBytes: audit.maxTextBytes, onStatement: (s) => sessionAudit?.mysql(s) },
      login.capabilities,
      okPacketStatus(current.ok),
    );
    let closed = false;
    /**
     * Ends the session; `last` is a packet for the client to read before its socket closes.
     * With `leaving` (the client quit or hung up) an idle backend goes back to the pool.
     */
    const close = (last?: Buffer, leaving = false) => {
      if (closed) return;
      closed = true;
      client.off("data", fromClient);
      backend.off("data", fromBackend);
      if (last instanceof Buffer) {
        client.on("error", () => client.destroy());
        client.end(last);
        setTimeout(() => client.destroy(), 1000).unref();
      } else client.destroy();
      if (leaving && key !== undefined && killedWith === undefined && !changing && tracker.idle) {
        watchBackend(false);
        pool.release(key, current);
      } else backend.destroy();
      raw.destroy();
      ctx.metrics.sessionClosed(id);
      untrack();
    };
    const onGone = () => close();
    /** The client hung up: its backend may serve another client. */
    const onClientGone = () => close(undefined, true);
    const watchBackend = (on: boolean) => {
      for (const e of ["close", "error"]) on ? backend.on(e, onGone) : backend.off(e, onGone);
    };
    /** Ends the session with `last`, whatever either side does meanwhile. */
    const closeWith = (last: Buffer) => {
      client.off("close", onClientGone);
      client.off("error", onClientGone);
      watchBackend(false);
      close(last);
    };
    // iamdb ends the session (revocation, an administrator): the client's commands stop here,
    // and ER_CONNECTION_KILLED goes out once the server's packet in flight is whole. Sequence
    // id 1: what answers the command the client has sent or sends next.
    let killedWith: Buffer | undefined;
    let changing = false;
    const sendKilled = () => close(killedWith);
    const terminate = (message: string) => {
      if (closed || killedWith !== undefined) return;
      killedWith = encodePacket(
        1,
        errPacket(ErrorCode.CONNECTION_KILLED, message, MysqlSqlState.CONNECTION_KILLED),
      );
      client.off("data", fromClient);
      client.off("close", onClientGone);
      client.off("error", onClientGone);
      watchBackend(false);
      if (changing || tracker.serverAtBoundary) sendKilled();
      else setTimeout(sendKilled, 1000).unref();
    };
    const untrack = this.track(
      { database: login.database ?? "", backendReused: reused },
      () => close(),
      terminate,
    );
    /** COM_CHANGE_USER refused or failed: 1045, and the session ends (the backend never saw it). */
    const denyChange = (seq: number, user: string) => {
      const e = accessDenied(user, clientHost(raw));
      closeWith(encodePacket(seq, errPacket(e.code, e.message, e.sqlState)));
    };
    /**
     * COM_CHANGE_USER with a token: the new user is authenticated and authorized as a login is,
     * and the session moves to a backend connection logged in as that user's IAM-only account
     * (the old one is closed: what it held is what COM_CHANGE_USER resets anyway). Never
     * forwarded; any failure ends the session with 1045.
     */
    const changeUser = async (first: Buffer) => {
      const began = performance.now();
      changing = true;
      client.off("data", fromClient);
      backend.off("data", fromBackend);
      watchBackend(false);
      backend.destroy();
      const change: AuthAttempt = {
        correlationId: randomUUID(),
        client: attempt.client,
        instance: id,
        engine: attempt.engine,
      };
      // Through the refusal edge's log and metrics (the client's answer is always 1045 here).
      // The request is counted once a token is read, as for a login.
      let requestCounted = false;
      const fail = (
        cause: LoginFailureCause,
        why: string,
        seq: number,
        user: string,
        tokenErrorCode?: RdsErrorCode,
      ) => {
        const detail = `COM_CHANGE_USER (session ${attempt.correlationId}): ${why}`;
        recordRefusal(ctx, change, { cause, detail, tokenErrorCode }, requestCounted);
        denyChange(seq, user);
      };
      const read = await readChangeUserToken(
        client,
        first,
        login.capabilities,
        newScramble(),
        MAX_PREAUTH_PACKET,
        ctx.limits.loginTimeoutMs,
      );
      if (closed) return;
      const user = read.request?.username ?? "";
      change.dbUser = user;
      if (!read.ok) return fail(read.cause, read.detail, read.seq, user);
      ctx.metrics.request(id);
      requestCounted = true;
      const now = ctx.instance();
      let auth: LoginResult;
      try {
        auth = await ctx.authenticator.authenticate({
          instance: now,
          dbUser: user,
          password: read.token,
          sourceIp: raw.remoteAddress ?? "",
          secureTransport: tls,
        });
      } catch (err) {
        return fail(
          "internal-error",
          `authentication could not complete: ${(err as Error).message}`,
          read.seq,
          user,
        );
      }
      if (closed) return;
      change.accessKeyId = auth.accessKeyId;
      change.principalArn = auth.principalArn;
      if (!auth.ok) return fail(auth.cause, auth.detail, read.seq, user, auth.tokenErrorCode);
      let release: (() => void) | undefined;
      if (ctx.limiter.active(id)) {
        const admitted = await ctx.limiter.admit(id, auth.principalArn);
        if (closed) {
          if (admitted.ok) admitted.release();
          return;
        }
        if (!admitted.ok) return fail("throttled", admitted.message, read.seq, user);
        release = admitted.release;
      }
      const request = read.request;
      /** The client's own attributes, as it sent them (the first login's unless it sent new ones). */
      const clientAttributes = request.attributes ?? login.attributes;
      const next: MysqlLogin = {
        username: user,
        password: auth.backendPassword,
        capabilities: login.capabilities,
        charset: request.charset ?? login.charset,
        database: request.database || undefined,
        // The gateway's iamdb.* attributes for the new identity, as at a login (a client's own
        // are dropped): the backend connection may serve others of this principal later.
        attributes: withGatewayAttributes(clientAttributes, {
          "iamdb.session_id": change.correlationId,
          "iamdb.principal_arn": auth.principalArn,
          "iamdb.access_key_id": auth.accessKeyId,
        }),
      };
      let fresh: MysqlBackendSession;
      try {
        fresh = await mysqlBackendLogin(now.backend, next, ctx.limits.backendConnectTimeoutMs, ctx.dialer);
      } catch (err) {
        release?.();
        const message = err instanceof Error ? err.message : String(err);
        return fail(
          "backend-login-failed",
          `the backend login as '${user}' failed: ${message}`,
          read.seq,
          user,
        );
      }
      if (closed) {
        release?.();
        fresh.socket.destroy();
        return;
      }
      ctx.metrics.backendSession(id, false);
      backend = fresh.socket;
      current = pooledBackend(fresh, now.backend, next);
      key = keyFor(pool, now.backend, next, auth.principalArn);
      tracker.reset(okPacketStatus(fresh.ok));
      untrack.reidentify({
        attempt: change,
        login: auth,
        database: next.database ?? "",
        backendReused: false,
        release,
      });
      const seconds = (performance.now() - began) / 1000;
      ctx.metrics.success(id, seconds, seconds, attempt.engine);
      ctx.authLog.success(
        change,
        `COM_CHANGE_USER (the session was ${attempt.correlationId}): ${auth.detail}`,
      );
      attempt = change;
      sessionAudit = ctx.audit?.session(auditIdentity(change, next.database), { mysqlCharset: next.charset });
      login = {
        username: next.username,
        capabilities: next.capabilities,
        charset: next.charset,
        database: next.database,
        attributes: clientAttributes,
      };
      changing = false;
      start(encodePacket(read.seq, fresh.ok), fresh.remainder);
    };
    // Chunks as read, with backpressure both ways; the client's commands are followed so that
    // COM_CHANGE_USER never reaches the backend, and the backend's answers so that a LOAD DATA
    // LOCAL upload's packets are not taken for commands.
    const fromClient = (chunk: Buffer) => {
      const found = tracker.scan(chunk, INTERCEPTED_COMMANDS);
      if (found === Command.QUIT) {
        // Commands pipelined before it go on (their answers keep the backend from the pool);
        // a COM_QUIT whose header went out with the previous read leaves the backend unusable.
        const at = tracker.foundAt;
        if (at > 0) backend.write(chunk.subarray(0, at));
        return close(undefined, at >= 0);
      }
      if (found !== undefined) {
        const at = tracker.foundAt;
        if (at < 0) {
          // Its header went out with the previous chunk: the backend's stream is no longer whole.
          ctx.authLog.failure(
            attempt,
            "protocol-violation",
            "COM_CHANGE_USER split across reads after a pipelined command; the session ends",
          );
          return denyChange(1, attempt.dbUser ?? "");
        }
        if (at > 0) backend.write(chunk.subarray(0, at));
        void changeUser(chunk.subarray(at)).catch(() => close());
        return;
      }
      if (!backend.write(chunk)) {
        client.pause();
        backend.once("drain", () => client.resume());
      }
    };
    const fromBackend = (chunk: Buffer) => {
      tracker.scanServer(chunk);
      if (killedWith !== undefined) {
        client.write(chunk);
        if (tracker.serverAtBoundary) sendKilled();
        return;
      }
      if (!client.write(chunk)) {
        backend.pause();
        client.once("drain", () => backend.resume());
      }
    };
    const start = (ok: Buffer, remainder: Buffer) => {
      client.write(ok);
      if (remainder.length > 0) client.write(remainder);
      client.on("data", fromClient);
      backend.on("data", fromBackend);
      watchBackend(true);
      client.resume();
      backend.resume();
    };
    client.on("error", onClientGone);
    client.on("close", onClientGone);
    start(encodePacket(this.#seq, current.ok), remainder);
  }
}
