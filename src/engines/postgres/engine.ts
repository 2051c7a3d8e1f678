import type { Socket } from "node:net";
import { auditIdentity } from "../../gateway/audit/statement-audit.js";
import { LoginConnection, refuseThrottled } from "../../gateway/connection.js";
import type { Engine, ListenerContext, RefusalReason } from "../../gateway/engine.js";
import { ConnectionClosed } from "../../gateway/queue.js";
import type { Refusal, RefusalSubject } from "../../gateway/refusal.js";
import { log } from "../../log/logger.js";
import {
  authenticationCleartextPassword,
  authenticationOk,
  backendKeyData,
  cancelRequest,
  errorResponse,
  type FrontendEvent,
  FrontendParser,
  negotiateProtocolVersion,
  PROTOCOL_VERSION_3_0,
  readPasswordMessage,
  readyForQuery,
  SqlState,
  sslResponse,
} from "../../wire/postgres/index.js";
import { BackendLoginError, backendLogin, openBackend, sendBackendCancel } from "./backend-login.js";
import { CancelKeys } from "./cancel.js";
import {
  applyApplicationName,
  type BackendPool,
  type PooledBackend,
  poolKey,
  settableApplicationName,
  sharedName,
  sharedParameterStatus,
} from "./pool.js";
import { postgresNameTooLong } from "./provision.js";
import { type PostgresOwnError, postgresRefusalBytes } from "./refusals.js";
import { SessionRelay } from "./relay.js";
import { REAPPLIED_REPORTED } from "./sql-effects.js";
import { BorrowTimeoutError, TransactionPool, type TxBackend } from "./tx-pool.js";
import {
  parameterValue as parameterValueOf,
  startupParameterStatus,
  TransactionRelay,
  type TxClientState,
} from "./tx-relay.js";

/** A TLS record of type handshake: a client that starts TLS without an SSLRequest (PostgreSQL 17 sslnegotiation=direct). */
const TLS_HANDSHAKE_RECORD = 0x16;

/** Startup parameters that configure the protocol rather than the session: never forwarded. */
const isProtocolOption = (name: string) => name.startsWith("_pq_.");

/**
 * What the operator should do about a backend that refused the gateway's login (28P01 or
 * 28000), from the backend's own words: a stale password is fixed by rotating it, a
 * pg_hba.conf rule only on the backend, a missing or NOLOGIN role by provisioning it.
 * @see https://www.postgresql.org/docs/current/client-authentication-problems.html
 */
export function backendRefusalAdvice(
  code: string | undefined,
  message: string,
  instance: string,
  user: string,
  flags = "",
): string {
  const said = `the backend refused the gateway's login as "${user}" (${code ?? "?"} ${message})`;
  if (/pg_hba\.conf/.test(message)) {
    return `${said}; the backend's pg_hba.conf does not let the gateway in: add a line for the gateway's address (the host named above) and user "${user}" with scram-sha-256 (hostssl when the instance's backend.tls is on), then reload PostgreSQL (SELECT pg_reload_conf())`;
  }
  if (code === SqlState.InvalidPassword) {
    return `${said}; the gateway-held password no longer matches: reset it with: iamdb db-user rotate --db-instance-identifier ${instance} --username ${user}${flags}`;
  }
  return `${said}; check the role on the backend (it must exist and have LOGIN): iamdb db-user enable --db-instance-identifier ${instance} --username ${user}${flags} takes it over, db-user create makes it`;
}

/**
 * The PostgreSQL engine. See docs/gateway-postgres.md for the handshake as a sequence diagram.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html
 */
export class PostgresEngine implements Engine {
  readonly cancelKeys = new CancelKeys();
  #pool: BackendPool | undefined;
  /** Transaction pools, by instance (instances in transaction mode only). */
  readonly #txPools = new Map<string, TransactionPool>();

  /**
   * @param sharedPool the gateway's one pool for every PostgreSQL instance (made at the first
   *   connection), so the bound on idle connections per server holds however many instances
   *   point at one server.
   */
  constructor(private readonly sharedPool: () => BackendPool) {}

  /** Logged-in backend connections for reuse. */
  pool(): BackendPool {
    this.#pool ??= this.sharedPool();
    return this.#pool;
  }

  /** The instance's transaction pool, made with its first connection; undefined in session mode. */
  transactionPool(ctx: ListenerContext): TransactionPool | undefined {
    const config = ctx.transactionPool;
    if (config === undefined) return undefined;
    const id = ctx.instance().identifier;
    let pool = this.#txPools.get(id);
    if (!pool) {
      const created = new TransactionPool({
        maxBackendConnections: config.maxBackendConnections,
        borrowTimeoutMs: config.borrowTimeoutMs,
        idleTimeoutMs: ctx.limits.backendPoolIdleTimeoutMs,
        lifetimeMs: ctx.limits.backendPoolLifetimeMs,
        onBorrow: (seconds, timedOut) => ctx.metrics.borrowed(id, seconds, timedOut),
      });
      ctx.metrics.transactionPool(id, () => ({ ...created.stats, pinned: created.pinned }));
      this.#txPools.set(id, created);
      pool = created;
    }
    return pool;
  }

  handle(socket: Socket, ctx: ListenerContext): void {
    new PostgresConnection(socket, ctx, this.cancelKeys, this.pool(), this.transactionPool(ctx))
      .run()
      .catch(() => {
        socket.destroy();
      });
  }

  close(): void {
    this.#pool?.close();
    for (const pool of this.#txPools.values()) pool.close();
  }

  refuse(socket: Socket, ctx: ListenerContext, reason: RefusalReason): void {
    // What the postmaster sends when it is out of slots; libpq reports it even in answer to an SSLRequest.
    refuseThrottled(socket, ctx, postgresRefusalBytes, reason);
  }
}

class PostgresConnection extends LoginConnection<FrontendEvent, PostgresOwnError> {
  readonly #parser = new FrontendParser();
  #first = true;
  /** The database named in the startup packet (the statement audit records it). */
  #database: string | undefined;

  constructor(
    raw: Socket,
    ctx: ListenerContext,
    private readonly cancelKeys: CancelKeys,
    private readonly pool: BackendPool,
    private readonly txPool: TransactionPool | undefined,
  ) {
    super(raw, ctx);
  }

  protected onChunk(chunk: Buffer): void {
    if (this.#first) {
      this.#first = false;
      if (chunk[0] === TLS_HANDSHAKE_RECORD) {
        this.queue.fail(
          new ConnectionClosed(
            "direct TLS (sslnegotiation=direct) is not supported; connect with the default sslnegotiation=postgres",
            "protocol-violation",
          ),
        );
        return;
      }
    }
    this.queue.push(this.#parser.push(chunk));
  }

  /** A client that hangs up before sending a password made no attempt (psql does this to prompt for one). */
  protected override silentHangUp(): boolean {
    return this.stage === "startup" || this.stage === "password";
  }

  protected refusalBytes(refusal: Refusal<PostgresOwnError>, subject: RefusalSubject): Buffer | undefined {
    return postgresRefusalBytes(refusal, subject);
  }

  /** As PostgreSQL prints the host in its pg_hba.conf refusal. */
  protected clientAddress(): string {
    return this.raw.remoteAddress ?? "";
  }

  protected override database(): string | undefined {
    return this.#database;
  }

  /** A protocol violation: the client is told `message` (08P01) and the operator `detail`. */
  #violation(detail: string, message: string): void {
    this.refuse({ cause: "protocol-violation", detail, message });
  }

  /** A cancel for a key this gateway did not issue: another member of the fleet may own it. */
  #forwardCancel(packet: { processId: number; secretKey: Buffer }): void {
    const { ctx, attempt } = this;
    const fleet = ctx.fleet;
    if (fleet === undefined) return;
    fleet.forward(this.instance.identifier, packet.processId, packet.secretKey).catch((err: Error) => {
      ctx.authLog.failure(
        attempt,
        "internal-error",
        `could not forward a cancel request to its gateway: ${err.message}`,
      );
    });
  }

  protected async handshake(): Promise<void> {
    const ctx = this.ctx;
    const instance = this.instance;
    let parameters: Record<string, string> | undefined;
    let minor = 0;
    while (parameters === undefined) {
      const event = await this.queue.next();
      if (event.kind === "error") {
        return this.refuse({
          cause: "protocol-violation",
          detail: `protocol error before login: ${event.message}`,
          own: { code: event.code, message: event.message },
        });
      }
      if (event.kind !== "startup") {
        return this.#violation(
          "protocol error before login: a typed message where a startup packet belongs",
          "expected a startup packet",
        );
      }
      const packet = event.packet;
      switch (packet.kind) {
        case "SSLRequest":
          if (this.tls) {
            return this.#violation(
              "a second SSLRequest inside TLS (protocol violation)",
              "SSLRequest received on an encrypted connection",
            );
          }
          if (this.#parser.buffered > 0) {
            // CVE-2021-23214: bytes sent before the TLS handshake could be injected by a man in the middle.
            return this.#violation(
              "unencrypted data after SSLRequest (possible man-in-the-middle injection)",
              "received unencrypted data after SSL request",
            );
          }
          await this.startTls(() => this.raw.write(sslResponse(true)));
          this.#parser.expectStartup();
          break;
        case "GSSENCRequest":
          if (this.tls) {
            return this.#violation(
              "a GSSENCRequest inside TLS (protocol violation)",
              "GSSENCRequest received on an encrypted connection",
            );
          }
          this.raw.write(sslResponse(false));
          this.#parser.expectStartup();
          break;
        case "CancelRequest":
          if (!this.cancelKeys.cancel(packet.processId, packet.secretKey)) this.#forwardCancel(packet);
          this.destroy();
          return;
        case "PeerCancelRequest": {
          const check = this.ctx.fleet?.check(packet.body);
          if (check?.ok) {
            // Handled here or not at all: a peer cancel is never forwarded again (no loops).
            this.cancelKeys.cancel(check.processId, check.secretKey);
          } else {
            // A cancel request is never answered: logged and counted, the client told nothing.
            return this.refuseUnanswered({
              cause: "protocol-violation",
              detail: `fleet peer cancel refused: ${check?.reason ?? "this gateway is not in a fleet"}`,
            });
          }
          this.destroy();
          return;
        }
        case "StartupMessage":
          parameters = packet.parameters;
          minor = packet.protocolVersion & 0xffff;
          break;
      }
    }
    const user = parameters.user;
    const database = parameters.database ?? user;
    this.#database = database;
    this.attempt.dbUser = user;
    if (!user) {
      // PostgreSQL's own answer to a startup packet without a user (28000, not 08P01).
      return this.refuse({
        cause: "protocol-violation",
        detail: "the startup packet names no user (protocol violation)",
        own: {
          code: SqlState.InvalidAuthorizationSpecification,
          message: "no PostgreSQL user name specified in startup packet",
        },
      });
    }
    const unrecognized = Object.keys(parameters).filter(isProtocolOption);
    // The newest version whole (3.0 = 196608), as PostgreSQL sends it: libpq 18 reads a 0 as
    // "version 0.0" and refuses the server under its min_protocol_version.
    if (minor > 0 || unrecognized.length > 0) {
      this.socket.write(negotiateProtocolVersion(PROTOCOL_VERSION_3_0, unrecognized));
    }
    if (!this.tls && !ctx.allowPlaintext) {
      return this.refuse({
        cause: "tls-required",
        detail: "the client did not request TLS; IAM logins require it (the password was never asked for)",
      });
    }

    this.stage = "password";
    this.socket.write(authenticationCleartextPassword());
    this.#parser.expectTyped();
    const reply = await this.queue.next();
    if (reply.kind !== "message" || reply.type !== "p") {
      const why = reply.kind === "error" ? reply.message : "expected a password message";
      return this.#violation(`protocol error in the password phase: ${why}`, why);
    }
    if (this.#parser.buffered > 0 || this.queue.size > 0) {
      return this.#violation(
        "the client sent data before the login completed",
        "unexpected message before the login completed",
      );
    }
    // An authentication attempt, as RDS counts them: the client presented a password.
    this.countRequest();
    let password: string;
    try {
      password = readPasswordMessage(reply.body);
    } catch (err) {
      const why = err instanceof Error ? err.message : "invalid password message";
      return this.#violation(`protocol error in the password phase: ${why}`, why);
    }
    const tooLong = postgresNameTooLong(user);
    if (tooLong !== undefined) return this.loginFailed("db-user-name-too-long", tooLong);
    const auth = await this.authenticate(user, password);
    if (!auth) return;

    this.stage = "backend";
    const spec = instance.backend;
    const forwarded = Object.fromEntries(Object.entries(parameters).filter(([k]) => !isProtocolOption(k)));
    if (this.txPool !== undefined) return this.#transactionMode(this.txPool, forwarded, auth, database ?? "");
    const poolKeyOrNone =
      this.pool.enabled && spec.reuseConnections !== false
        ? poolKey(spec, forwarded, auth.backendPassword)
        : undefined;
    const server = `${spec.host}:${spec.port}`;
    let pooled = poolKeyOrNone === undefined ? undefined : this.pool.take(poolKeyOrNone);
    const applicationName = settableApplicationName(forwarded);
    if (pooled && applicationName !== undefined && this.#applicationName(pooled) !== applicationName) {
      // The key leaves a printable application_name out: the client's own is set now, and its
      // ParameterStatus recorded, so the client is told what a fresh login would tell it.
      const applied = await applyApplicationName(pooled, applicationName, ctx.limits.backendConnectTimeoutMs);
      if (!applied || this.ended !== undefined) {
        pooled.socket.destroy();
        if (this.ended !== undefined) return;
        pooled = undefined;
      }
    }
    if (pooled && !(await this.#recordIdentity(pooled, database ?? "", auth))) return;
    if (pooled) {
      ctx.metrics.backendSession(instance.identifier, true);
      const first = [authenticationOk(), ...pooled.parameters.values()];
      return this.#relay(
        pooled,
        first,
        Buffer.alloc(0),
        poolKeyOrNone,
        `${auth.detail}; backend connection reused`,
        { database: database ?? "", backendReused: true },
      );
    }
    let session: Awaited<ReturnType<typeof backendLogin>>;
    const login = async () =>
      backendLogin(
        await openBackend(spec, ctx.limits.backendConnectTimeoutMs, ctx.dialer),
        forwarded,
        auth.backendPassword,
        ctx.limits.backendConnectTimeoutMs,
      );
    try {
      try {
        session = await login();
      } catch (err) {
        // The server is out of slots while this pool holds idle ones: give one back and retry once.
        if (
          !(err instanceof BackendLoginError && err.fields?.C === SqlState.TooManyConnections) ||
          this.ended !== undefined ||
          !(await this.pool.evictOne(server))
        )
          throw err;
        session = await login();
      }
    } catch (err) {
      return this.#backendLoginFailed(err, user);
    }
    if (this.ended !== undefined) {
      session.socket.destroy();
      return;
    }
    if (!(await this.#recordIdentity(session, database ?? "", auth))) return;
    ctx.metrics.backendSession(instance.identifier, false);
    const first = [authenticationOk()];
    const reported = new Map<string, Buffer>();
    for (const m of session.startup) {
      if (m.kind === "ParameterStatus") reported.set(sharedName(m.name), sharedParameterStatus(m.raw));
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
      server,
    };
    this.#relay(backend, first, session.remainder, poolKeyOrNone, auth.detail, {
      database: database ?? "",
      backendReused: false,
    });
  }

  /** The backend refused or failed the gateway's login: logged with advice, the client told. */
  #backendLoginFailed(err: unknown, user: string): void {
    const { instance } = this;
    const e = err instanceof BackendLoginError ? err : new BackendLoginError(String(err), "protocol");
    const code = e.fields?.C;
    if (e.kind !== "refused") {
      this.refuse({ cause: "backend-unavailable", detail: e.message });
      return;
    }
    if (code !== SqlState.InvalidPassword && code !== SqlState.InvalidAuthorizationSpecification) {
      // The backend's own refusal of the session (unknown database, too many connections):
      // the client's to see, as it would connecting directly.
      this.refuse({
        cause: "backend-login-failed",
        detail: `backend refused the session: ${code} ${e.message}`,
        own: {
          code: code ?? SqlState.ConnectionFailure,
          message: e.message,
          detail: e.fields?.D || undefined,
        },
      });
      return;
    }
    this.refuse({
      cause: "backend-login-failed",
      detail: backendRefusalAdvice(
        code,
        e.message,
        instance.identifier,
        user,
        this.ctx.authenticator.commandFlags,
      ),
    });
  }

  /**
   * Transaction mode (docs/gateway-postgres.md): the login borrows a backend from the
   * instance's transaction pool (a fresh backend login when none is idle, with the same
   * refusals as session mode), applies the client's startup parameters to it, greets the
   * client and gives the backend back; each later transaction borrows one again.
   */
  async #transactionMode(
    txPool: TransactionPool,
    forwarded: Record<string, string>,
    auth: { principalArn: string; backendPassword: string; detail: string },
    database: string,
  ): Promise<void> {
    const { ctx, instance } = this;
    const id = instance.identifier;
    const spec = instance.backend;
    const timeoutMs = ctx.limits.backendConnectTimeoutMs;
    const config = ctx.transactionPool as NonNullable<ListenerContext["transactionPool"]>;
    // Parameters the pool re-applies are left out of the backend login, and of the key.
    const startupState = new Map<string, Buffer>();
    const loginParameters: Record<string, string> = {};
    for (const [name, value] of Object.entries(forwarded)) {
      if (REAPPLIED_REPORTED.has(name.toLowerCase()))
        startupState.set(name, startupParameterStatus(name, value));
      else loginParameters[name] = value;
    }
    const key = poolKey(spec, loginParameters, auth.backendPassword);
    const server = `${spec.host}:${spec.port}`;
    const open = async (): Promise<TxBackend> => {
      const session = await backendLogin(
        await openBackend(spec, timeoutMs, ctx.dialer),
        loginParameters,
        auth.backendPassword,
        timeoutMs,
      );
      if (session.remainder.length > 0) {
        session.socket.destroy();
        throw new BackendLoginError("backend sent data after ReadyForQuery at login", "protocol");
      }
      const parameters = new Map<string, Buffer>();
      for (const m of session.startup)
        if (m.kind === "ParameterStatus") parameters.set(sharedName(m.name), sharedParameterStatus(m.raw));
      return {
        socket: session.socket,
        processId: session.processId,
        secretKey: session.secretKey,
        parameters,
        initial: new Map(parameters),
        createdAt: performance.now(),
        server,
        key,
        prepared: new Map(),
        sets: new Map(),
        invalidated: false,
      };
    };
    const principal = auth.principalArn;
    const known = txPool.initialParameters(key);
    let first: TxBackend | undefined;
    if (known === undefined || txPool.lendsNow(key)) {
      try {
        first = await txPool.borrow(key, principal, open).backend;
      } catch (err) {
        if (this.ended !== undefined) return;
        if (err instanceof BorrowTimeoutError)
          return this.refuse({ cause: "throttled", detail: err.message, message: err.message });
        return this.#backendLoginFailed(err, this.attempt.dbUser ?? "");
      }
      if (this.ended !== undefined) {
        txPool.release(first, true);
        return;
      }
    }
    // A fresh login's values (the backend's at its own login), then the client's startup ones.
    const fresh = first?.initial ?? known ?? new Map<string, Buffer>();
    // The server's spelling of each name (a client may say datestyle for DateStyle).
    const spelling = new Map([...fresh.keys()].map((n) => [n.toLowerCase(), n]));
    const state: TxClientState = {
      parameters: new Map([
        ...fresh,
        ...[...startupState].map(([n, v]): [string, Buffer] => {
          const name = spelling.get(n.toLowerCase()) ?? n;
          return [name, startupParameterStatus(name, parameterValueOf(v))];
        }),
      ]),
      sets: new Map(),
      statements: new Map(),
    };
    let relay: TransactionRelay | undefined;
    const cancelKey = this.cancelKeys.issue(
      {
        get processId() {
          return relay?.backend?.processId ?? 0;
        },
        get secretKey() {
          return relay?.backend?.secretKey ?? Buffer.alloc(4);
        },
        // Only to the backend serving this client now; checked again once the cancel
        // connection is open, so a backend handed to another client meanwhile is left alone.
        send: (pid, secret) => {
          const target = relay?.backend;
          if (target === undefined || target.processId !== pid) return;
          openBackend(spec, timeoutMs, ctx.dialer)
            .then((s) => {
              if (relay?.backend === target) s.end(cancelRequest(pid, secret));
              else s.destroy();
              setTimeout(() => s.destroy(), timeoutMs).unref();
            })
            .catch(() => {
              // Best effort, as in PostgreSQL.
            });
        },
      },
      ctx.fleet?.memberNo,
    );
    this.sessionStarted(`${auth.detail}; transaction pooling`);
    const raw = this.raw;
    const correlationId = this.attempt.correlationId;
    let pinned = false;
    relay = new TransactionRelay({
      client: this.socket,
      state,
      maxPreparedStatements: config.maxPreparedStatements,
      borrow: () => txPool.borrow(key, principal, open),
      takeIdle: () => txPool.takeIdle(key),
      release: (backend, reusable) => txPool.release(backend, reusable),
      onPin: (reason) => {
        pinned = true;
        txPool.pinned++;
        ctx.metrics.sessionPinned(id, reason);
        log().info(
          { correlationId, instance: id, reason },
          "session pinned to its backend connection (transaction pooling): it keeps this backend until it ends",
        );
      },
      borrowFailed: (err) => {
        if (err instanceof BorrowTimeoutError)
          return errorResponse({
            severity: "FATAL",
            code: SqlState.TooManyConnections,
            message: err.message,
            detail: `iamdb correlation id ${correlationId}`,
          });
        log().warn(
          { correlationId, instance: id, err: err.message },
          "transaction pooling: no backend connection",
        );
        return errorResponse({
          severity: "FATAL",
          code: SqlState.ConnectionFailure,
          message: `could not connect to the database (iamdb correlation id ${correlationId})`,
          hint: "the gateway could not reach or log in to its backend; the operator's log has the cause",
        });
      },
      onEnd: () => {
        cancelKey.release();
        raw.destroy();
        ctx.metrics.sessionClosed(id);
        if (pinned) txPool.pinned--;
        untrack();
      },
      audit: ctx.audit?.session(auditIdentity(this.attempt, this.#database)),
    });
    const live = relay;
    const untrack = this.track(
      { database, backendReused: true },
      () =>
        live.terminate(
          errorResponse({
            severity: "FATAL",
            code: SqlState.AdminShutdown,
            message: "terminating connection: the gateway is shutting down",
          }),
        ),
      (message) =>
        live.terminate(errorResponse({ severity: "FATAL", code: SqlState.AdminShutdown, message })),
    );
    relay.start(first, (parameters) => [
      authenticationOk(),
      ...parameters,
      backendKeyData(cancelKey.processId, cancelKey.secretKey),
      readyForQuery("I"),
    ]);
  }

  /**
   * With `sessionIdentity` on, records who is behind backend `backend.processId` before the
   * client can send anything; a failure refuses the login (a session must not run
   * unattributed) and closes the backend. True when the session may go on.
   */
  async #recordIdentity(
    backend: { socket: Socket; processId: number },
    database: string,
    auth: { principalArn: string; accessKeyId: string },
  ): Promise<boolean> {
    const writer = this.ctx.identity;
    if (writer === undefined) return true;
    try {
      await writer.record(database, backend.processId, {
        sessionId: this.attempt.correlationId,
        principalArn: auth.principalArn,
        accessKeyId: auth.accessKeyId,
        dbUser: this.attempt.dbUser ?? "",
      });
    } catch (err) {
      backend.socket.destroy();
      if (this.ended !== undefined) return false;
      this.refuse({
        cause: "internal-error",
        detail: (err as Error).message,
        message: "could not record who is behind this session",
        hint: "the instance has sessionIdentity on; the operator's auth log has the cause",
      });
      return false;
    }
    if (this.ended !== undefined) {
      backend.socket.destroy();
      return false;
    }
    return true;
  }

  /** The application_name a pooled backend reports now. */
  #applicationName(backend: PooledBackend): string | undefined {
    const raw = backend.parameters.get("application_name");
    if (!raw) return undefined;
    // 'S', length, "application_name\0", the value, "\0".
    const start = 5 + "application_name".length + 1;
    const end = raw.indexOf(0, start);
    return raw.toString("latin1", start, end < 0 ? raw.length : end);
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
    info: { database: string; backendReused: boolean },
  ): void {
    const { ctx } = this;
    const id = this.instance.identifier;
    const client = this.socket;
    const spec = this.instance.backend;
    const cancelKey = this.cancelKeys.issue(
      {
        processId: backend.processId,
        secretKey: backend.secretKey,
        send: (pid, secret) =>
          sendBackendCancel(spec, ctx.limits.backendConnectTimeoutMs, cancelRequest(pid, secret), ctx.dialer),
      },
      ctx.fleet?.memberNo,
    );
    first.push(backendKeyData(cancelKey.processId, cancelKey.secretKey), readyForQuery("I"));
    this.sessionStarted(detail);
    // The session's closures capture these, not `this`: the handshake's state can be collected.
    const raw = this.raw;
    const pool = this.pool;
    const identity = ctx.identity;
    const sessionId = this.attempt.correlationId;
    const relay = new SessionRelay(
      client,
      backend.socket,
      backend.parameters,
      (reusable) => {
        cancelKey.release();
        identity?.forget(info.database, backend.processId, sessionId);
        raw.destroy();
        ctx.metrics.sessionClosed(id);
        untrack();
        if (reusable && key !== undefined) pool.release(key, backend);
        else backend.socket.destroy();
      },
      ctx.audit?.session(auditIdentity(this.attempt, this.#database)),
    );
    const untrack = this.track(
      info,
      () => {
        client.destroy();
        backend.socket.destroy();
      },
      (message) =>
        relay.terminate(errorResponse({ severity: "FATAL", code: SqlState.AdminShutdown, message })),
    );
    relay.start(Buffer.concat(first), remainder);
  }
}
