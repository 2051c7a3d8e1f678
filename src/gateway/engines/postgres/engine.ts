import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { DbInstance } from "../../../instances/types.js";
import {
  authenticationCleartextPassword,
  authenticationOk,
  backendKeyData,
  cancelRequest,
  errorResponse,
  type FrontendEvent,
  FrontendParser,
  negotiateProtocolVersion,
  readPasswordMessage,
  readyForQuery,
  sslResponse,
} from "../../../wire/postgres/index.js";
import type { AuthAttempt } from "../../authLog.js";
import type { Engine, ListenerContext } from "../../engine.js";
import { classify, type LoginFailureCause } from "../../outcome.js";
import { ConnectionClosed, EventQueue } from "../../queue.js";
import { BackendLoginError, backendLogin, openBackend, sendBackendCancel } from "./backendLogin.js";
import { CancelKeys } from "./cancel.js";
import { BackendPool, type PooledBackend, poolKey, sharedParameterStatus } from "./pool.js";
import { SessionRelay } from "./relay.js";

/** A TLS record of type handshake: a client that starts TLS without an SSLRequest (PostgreSQL 17 sslnegotiation=direct). */
const TLS_HANDSHAKE_RECORD = 0x16;

/** Startup parameters that configure the protocol rather than the session: never forwarded. */
const isProtocolOption = (name: string) => name.startsWith("_pq_.");

type Stage = "startup" | "password" | "authenticating" | "backend";

/**
 * The PostgreSQL engine. See docs/gateway-postgres.md for the handshake as a sequence diagram.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html
 */
export class PostgresEngine implements Engine {
  readonly cancelKeys = new CancelKeys();
  #pool: BackendPool | undefined;

  /** Logged-in backend connections for reuse (created with the first listener context's limits). */
  pool(ctx: ListenerContext): BackendPool {
    this.#pool ??= new BackendPool({
      maxIdle: ctx.limits.backendPoolMaxIdle,
      idleTimeoutMs: ctx.limits.backendPoolIdleTimeoutMs,
      lifetimeMs: ctx.limits.backendPoolLifetimeMs,
      resetTimeoutMs: ctx.limits.backendConnectTimeoutMs,
    });
    return this.#pool;
  }

  handle(socket: Socket, ctx: ListenerContext): void {
    new PostgresConnection(socket, ctx, this.cancelKeys, this.pool(ctx)).run().catch(() => {
      socket.destroy();
    });
  }

  close(): void {
    this.#pool?.close();
  }

  refuse(socket: Socket, ctx: ListenerContext, reason: "throttled"): void {
    const instance = ctx.instance();
    const attempt: AuthAttempt = {
      correlationId: randomUUID(),
      client: `${socket.remoteAddress}:${socket.remotePort}`,
      instance: instance.identifier,
      engine: instance.engine,
    };
    ctx.metrics.request(instance.identifier);
    ctx.metrics.failure(instance.identifier, classify(reason).kind);
    ctx.authLog.failure(
      attempt,
      reason,
      "too many connections are logging in at once (maxPendingLogins / maxPendingLoginsPerSource); the client should retry with backoff",
    );
    // What the postmaster sends when it is out of slots; libpq reports it even in answer to an SSLRequest.
    socket.end(
      errorResponse({ severity: "FATAL", code: "53300", message: "sorry, too many clients already" }),
    );
    socket.on("error", () => socket.destroy());
    setTimeout(() => socket.destroy(), 1000).unref();
  }
}

class PostgresConnection {
  readonly #raw: Socket;
  #socket: Socket;
  #tls = false;
  readonly #parser = new FrontendParser();
  readonly #queue = new EventQueue<FrontendEvent>();
  readonly #attempt: AuthAttempt;
  readonly #instance: DbInstance;
  readonly #started = performance.now();
  #stage: Stage = "startup";
  /** Why the attempt ended while the gateway was busy (authenticating or logging in to the backend). */
  #ended: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #first = true;

  constructor(
    raw: Socket,
    private readonly ctx: ListenerContext,
    private readonly cancelKeys: CancelKeys,
    private readonly pool: BackendPool,
  ) {
    this.#raw = raw;
    this.#socket = raw;
    this.#instance = ctx.instance();
    this.#attempt = {
      correlationId: randomUUID(),
      client: `${raw.remoteAddress}:${raw.remotePort}`,
      instance: this.#instance.identifier,
      engine: this.#instance.engine,
    };
  }

  readonly #onData = (chunk: Buffer) => {
    if (this.#first) {
      this.#first = false;
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        this.#queue.fail(
          new ConnectionClosed(
            "direct TLS (sslnegotiation=direct) is not supported; connect with the default sslnegotiation=postgres",
            "protocol-violation",
          ),
        );
        return;
      }
    }
    this.#queue.push(this.#parser.push(chunk));
  };

  readonly #onClose = () =>
    this.#queue.fail(
      new ConnectionClosed(`client closed the connection during ${this.#stage}`, "client-closed"),
    );

  /** The client went away while we authenticate or log in to the backend. */
  readonly #onHangUp = () => {
    if (this.#ended !== undefined) return;
    this.#ended = `client closed the connection during ${this.#stage}`;
    this.ctx.authLog.failure(this.#attempt, "client-closed", this.#ended);
  };

  #attach(socket: Socket): void {
    this.#socket = socket;
    socket.on("data", this.#onData);
    socket.on("end", this.#onClose);
    socket.on("close", this.#onClose);
    socket.on("error", this.#onClose);
  }

  #detach(socket: Socket): void {
    socket.off("data", this.#onData);
    socket.off("end", this.#onClose);
    socket.off("close", this.#onClose);
    socket.off("error", this.#onClose);
  }

  async run(): Promise<void> {
    // Not a closure: one made here would share this method's scope, and with it `this`, so the
    // socket would keep the whole handshake state alive for the session's life.
    this.#raw.on("error", destroySelf);
    this.#timer = setTimeout(() => {
      const timeout = new ConnectionClosed(
        `login timeout: no authenticated session within ${this.ctx.limits.loginTimeoutMs} ms (stage: ${this.#stage})`,
        "login-timeout",
      );
      this.#queue.fail(timeout);
      this.#abortUpgrade?.(timeout);
      if ((this.#stage === "authenticating" || this.#stage === "backend") && this.#ended === undefined) {
        // Nobody awaits the queue now: end the attempt here; the flow stops at its next step.
        this.#ended = timeout.reason;
        this.ctx.authLog.failure(this.#attempt, "login-timeout", timeout.reason);
        this.#socket.off("close", this.#onHangUp);
        this.#fatal(
          "08006",
          `could not log in within the login timeout (iamdb correlation id ${this.#attempt.correlationId})`,
        );
      }
    }, this.ctx.limits.loginTimeoutMs);
    this.#attach(this.#raw);
    try {
      await this.#handshake();
    } catch (err) {
      if (err instanceof ConnectionClosed) {
        // A client that hangs up before sending a password made no attempt (psql does this
        // to prompt for one); anything else is worth a line in the log.
        const silent =
          err.cause === "client-closed" && (this.#stage === "startup" || this.#stage === "password");
        if (!silent) this.ctx.authLog.failure(this.#attempt, err.cause, err.reason);
      } else {
        this.ctx.authLog.failure(
          this.#attempt,
          "internal-error",
          `internal error: ${(err as Error).message}`,
        );
      }
      this.#destroy();
    } finally {
      clearTimeout(this.#timer);
    }
  }

  #destroy(): void {
    this.#socket.destroy();
    this.#raw.destroy();
  }

  /** Sends a fatal error and closes; what PostgreSQL does when it refuses a connection. */
  #fatal(code: string, message: string, extra: { detail?: string; hint?: string } = {}): void {
    // The outcome is decided (and logged by the caller): the client's hang-up is no news.
    this.#ended ??= message;
    this.#socket.off("close", this.#onHangUp);
    this.#detach(this.#socket);
    this.#socket.end(errorResponse({ severity: "FATAL", code, message, ...extra }));
    this.#socket.on("error", () => this.#destroy());
    setTimeout(() => this.#destroy(), 1000).unref();
  }

  /** Set while a TLS handshake runs, so the login timer can end it. */
  #abortUpgrade: ((err: ConnectionClosed) => void) | undefined;

  async #upgrade(): Promise<void> {
    this.#detach(this.#raw);
    this.#raw.write(sslResponse(true));
    const secure = new TLSSocket(this.#raw, { isServer: true, secureContext: this.ctx.secureContext });
    try {
      await new Promise<void>((resolve, reject) => {
        const fail = (err?: Error) =>
          reject(
            new ConnectionClosed(
              `TLS handshake failed: ${err?.message ?? "client closed the connection"}`,
              "protocol-violation",
            ),
          );
        secure.once("secure", () => {
          secure.off("error", fail);
          secure.off("close", fail);
          resolve();
        });
        secure.once("error", fail);
        secure.once("close", fail);
        this.#abortUpgrade = reject;
      });
    } finally {
      this.#abortUpgrade = undefined;
    }
    this.#tls = true;
    this.#attach(secure as unknown as Socket);
  }

  async #handshake(): Promise<void> {
    const ctx = this.ctx;
    const instance = this.#instance;
    let parameters: Record<string, string> | undefined;
    let minor = 0;
    while (parameters === undefined) {
      const event = await this.#queue.next();
      if (event.kind === "error") {
        this.ctx.authLog.failure(
          this.#attempt,
          "protocol-violation",
          `protocol error before login: ${event.message}`,
        );
        return this.#fatal(event.code, event.message);
      }
      if (event.kind !== "startup") {
        return this.#fatal("08P01", "expected a startup packet");
      }
      const packet = event.packet;
      switch (packet.kind) {
        case "SSLRequest":
          if (this.#tls) {
            this.ctx.authLog.failure(
              this.#attempt,
              "protocol-violation",
              "a second SSLRequest inside TLS (protocol violation)",
            );
            return this.#fatal("08P01", "SSLRequest received on an encrypted connection");
          }
          if (this.#parser.buffered > 0) {
            // CVE-2021-23214: bytes sent before the TLS handshake could be injected by a man in the middle.
            this.ctx.authLog.failure(
              this.#attempt,
              "protocol-violation",
              "unencrypted data after SSLRequest (possible man-in-the-middle injection)",
            );
            return this.#fatal("08P01", "received unencrypted data after SSL request");
          }
          await this.#upgrade();
          this.#parser.expectStartup();
          break;
        case "GSSENCRequest":
          if (this.#tls) return this.#fatal("08P01", "GSSENCRequest received on an encrypted connection");
          this.#raw.write(sslResponse(false));
          this.#parser.expectStartup();
          break;
        case "CancelRequest":
          this.cancelKeys.cancel(packet.processId, packet.secretKey);
          this.#destroy();
          return;
        case "StartupMessage":
          parameters = packet.parameters;
          minor = packet.protocolVersion & 0xffff;
          break;
      }
    }
    const user = parameters.user;
    const database = parameters.database ?? user;
    this.#attempt.dbUser = user;
    if (!user) return this.#fatal("28000", "no PostgreSQL user name specified in startup packet");
    const unrecognized = Object.keys(parameters).filter(isProtocolOption);
    if (minor > 0 || unrecognized.length > 0) this.#socket.write(negotiateProtocolVersion(0, unrecognized));
    if (!this.#tls && !ctx.allowPlaintext) {
      ctx.authLog.failure(
        this.#attempt,
        "tls-required",
        "the client did not request TLS; IAM logins require it (the password was never asked for)",
      );
      return this.#fatal(
        "28000",
        `no pg_hba.conf entry for host "${this.#raw.remoteAddress}", user "${user}", database "${database}", no encryption`,
        {
          hint: "IAM authentication requires TLS: connect with sslmode=verify-full sslrootcert=<the iamdb CA file>",
        },
      );
    }

    this.#stage = "password";
    this.#socket.write(authenticationCleartextPassword());
    this.#parser.expectTyped();
    const reply = await this.#queue.next();
    if (reply.kind !== "message" || reply.type !== "p") {
      const why = reply.kind === "error" ? reply.message : "expected a password message";
      ctx.authLog.failure(
        this.#attempt,
        "protocol-violation",
        `protocol error in the password phase: ${why}`,
      );
      return this.#fatal("08P01", why);
    }
    if (this.#parser.buffered > 0 || this.#queue.size > 0) {
      ctx.authLog.failure(
        this.#attempt,
        "protocol-violation",
        "the client sent data before the login completed",
      );
      return this.#fatal("08P01", "unexpected message before the login completed");
    }
    // An authentication attempt, as RDS counts them: the client presented a password.
    ctx.metrics.request(instance.identifier);
    let password: string;
    try {
      password = readPasswordMessage(reply.body);
    } catch (err) {
      const why = err instanceof Error ? err.message : "invalid password message";
      ctx.authLog.failure(
        this.#attempt,
        "protocol-violation",
        `protocol error in the password phase: ${why}`,
      );
      return this.#fatal("08P01", why);
    }
    this.#detach(this.#socket);
    this.#socket.pause();
    this.#socket.once("close", this.#onHangUp);

    this.#stage = "authenticating";
    let auth: Awaited<ReturnType<typeof ctx.authenticator.authenticate>>;
    try {
      auth = await ctx.authenticator.authenticate({
        instance: ctx.instance(),
        dbUser: user,
        password,
        sourceIp: this.#raw.remoteAddress ?? "",
        secureTransport: this.#tls,
      });
    } catch (err) {
      // The IAM store or the DB-account file failed: a server error, never a crash.
      ctx.authLog.failure(
        this.#attempt,
        "internal-error",
        `authentication could not complete: ${(err as Error).message}`,
      );
      ctx.metrics.failure(instance.identifier, "ServerError");
      return this.#fatal(
        "08006",
        `could not authenticate (iamdb correlation id ${this.#attempt.correlationId})`,
      );
    }
    if (this.#abandoned()) return;
    this.#attempt.accessKeyId = auth.accessKeyId;
    this.#attempt.principalArn = auth.principalArn;
    if (!auth.ok) return this.#loginFailed(auth.cause, auth.detail, auth.tokenErrorCode);

    this.#stage = "backend";
    const spec = instance.backend;
    const forwarded = Object.fromEntries(Object.entries(parameters).filter(([k]) => !isProtocolOption(k)));
    const poolKeyOrNone = this.pool.enabled ? poolKey(spec, forwarded, auth.backendPassword) : undefined;
    const pooled = poolKeyOrNone === undefined ? undefined : this.pool.take(poolKeyOrNone);
    if (pooled) {
      const first = [authenticationOk(), ...pooled.parameters.values()];
      return this.#relay(
        pooled,
        first,
        Buffer.alloc(0),
        poolKeyOrNone,
        `${auth.detail}; backend connection reused`,
      );
    }
    let session: Awaited<ReturnType<typeof backendLogin>>;
    try {
      const backend = await openBackend(spec, ctx.limits.backendConnectTimeoutMs);
      session = await backendLogin(
        backend,
        forwarded,
        auth.backendPassword,
        ctx.limits.backendConnectTimeoutMs,
      );
    } catch (err) {
      const e = err instanceof BackendLoginError ? err : new BackendLoginError(String(err), "protocol");
      const code = e.fields?.C;
      if (e.kind === "refused" && code !== "28P01" && code !== "28000") {
        // The backend's own refusal of the session (unknown database, too many connections):
        // the client's to see, as it would connecting directly.
        ctx.authLog.failure(
          this.#attempt,
          "backend-login-failed",
          `backend refused the session: ${code} ${e.message}`,
        );
        ctx.metrics.failure(instance.identifier, "ServerError");
        return this.#fatal(code ?? "08006", e.message, e.fields?.D ? { detail: e.fields.D } : {});
      }
      const detail =
        e.kind === "refused"
          ? `the backend refused the gateway-held password for "${user}" (${code} ${e.message}); reset it with: iamdb db-user rotate --db-instance-identifier ${instance.identifier} --username ${user}`
          : e.message;
      ctx.authLog.failure(
        this.#attempt,
        e.kind === "refused" ? "backend-login-failed" : "backend-unavailable",
        detail,
      );
      ctx.metrics.failure(instance.identifier, "ServerError");
      if (e.kind === "refused") return this.#authFailedToClient(user);
      return this.#fatal(
        "08006",
        `could not connect to the database (iamdb correlation id ${this.#attempt.correlationId})`,
        {
          hint: "the gateway could not reach or log in to its backend; the operator's auth log has the cause",
        },
      );
    }
    if (this.#abandoned()) {
      session.socket.destroy();
      return;
    }
    const first = [authenticationOk()];
    const reported = new Map<string, Buffer>();
    for (const m of session.startup) {
      if (m.kind === "ParameterStatus") reported.set(m.name, sharedParameterStatus(m.raw));
      // Everything but BackendKeyData and ReadyForQuery (ours are sent instead), byte for byte:
      // values follow client_encoding, which need not be UTF-8.
      if ((m.kind === "ParameterStatus" || m.kind === "NoticeResponse" || m.kind === "Other") && m.raw)
        first.push(m.raw);
    }
    const backend: PooledBackend = {
      socket: session.socket,
      processId: session.processId,
      secretKey: session.secretKey,
      parameters: reported,
      createdAt: performance.now(),
    };
    this.#relay(backend, first, session.remainder, poolKeyOrNone, auth.detail);
  }

  /**
   * After the password the client socket is no longer read; a client that hung up, or a login
   * timeout, must still end the attempt (and whatever backend connection it opened) instead of
   * relaying to nobody. The reason was logged where it happened.
   */
  #abandoned(): boolean {
    return this.#ended !== undefined;
  }

  #authFailedToClient(user: string): void {
    this.#fatal("28000", `PAM authentication failed for user "${user}"`, {
      detail: `iamdb correlation id ${this.#attempt.correlationId}`,
    });
  }

  #loginFailed(
    cause: LoginFailureCause,
    detail: string,
    tokenErrorCode?: "InvalidToken" | "ExpiredToken" | "InternalFailure",
  ): void {
    const id = this.#instance.identifier;
    this.ctx.authLog.failure(this.#attempt, cause, detail, tokenErrorCode);
    this.ctx.metrics.failure(id, classify(cause, tokenErrorCode).kind);
    this.#authFailedToClient(this.#attempt.dbUser ?? "");
  }

  /**
   * Starts the session: our BackendKeyData (never the backend's) and ReadyForQuery after
   * `first`, then the relay. When the client leaves with the backend idle, the backend goes
   * back to the pool under `key`.
   */
  #relay(
    backend: PooledBackend,
    first: Buffer[],
    remainder: Buffer,
    key: string | undefined,
    detail: string,
  ): void {
    const { ctx } = this;
    const id = this.#instance.identifier;
    const client = this.#socket;
    const spec = this.#instance.backend;
    const cancelKey = this.cancelKeys.issue({
      processId: backend.processId,
      secretKey: backend.secretKey,
      send: (pid, secret) =>
        sendBackendCancel(spec, ctx.limits.backendConnectTimeoutMs, cancelRequest(pid, secret)),
    });
    first.push(backendKeyData(cancelKey.processId, cancelKey.secretKey), readyForQuery("I"));
    client.off("close", this.#onHangUp);
    clearTimeout(this.#timer);
    this.#raw.emit("iamdb:relaying");
    // The session's closures capture these, not `this`: the handshake's state can be collected.
    const raw = this.#raw;
    const pool = this.pool;
    const relay = new SessionRelay(client, backend.socket, backend.parameters, (end) => {
      cancelKey.release();
      raw.destroy();
      ctx.metrics.sessionClosed(id);
      untrack();
      if (end.reusable && key !== undefined) pool.release(key, backend);
      else backend.socket.destroy();
    });
    const untrack = ctx.sessions.opened(() => {
      client.destroy();
      backend.socket.destroy();
    });
    ctx.metrics.sessionOpened(id);
    ctx.metrics.success(id, (performance.now() - this.#started) / 1000);
    ctx.authLog.success(this.#attempt, detail);
    relay.start(Buffer.concat(first), remainder);
  }
}

/** An 'error' listener that closes the socket it is attached to (an EventEmitter calls it with `this` = the socket). */
function destroySelf(this: Socket): void {
  this.destroy();
}
