import { randomUUID } from "node:crypto";
import type { Socket } from "node:net";
import { TLSSocket } from "node:tls";
import type { DbInstance } from "../instances/types.js";
import { log } from "../log/logger.js";
import type { Termination } from "../sessions/live.js";
import type { AuthAttempt } from "./auth-log.js";
import type { LoginResult } from "./authenticate.js";
import type { ListenerContext, RefusalReason } from "./engine.js";
import type { LoginFailureCause } from "./outcome.js";
import { ConnectionClosed, EventQueue } from "./queue.js";
import {
  applyRefusal,
  type Refusal,
  type RefusalEncoder,
  type RefusalSubject,
  Refused,
  recordRefusal,
} from "./refusal.js";

/** The start of a termination's message to the client, by why iamdb ends the session. */
function terminationLead(t: Termination): string {
  switch (t.kind) {
    case "revoked":
      return "terminating connection because its IAM authorization was revoked";
    case "terminated":
      return "terminating connection due to administrator command";
    case "credentials-expired":
      return "terminating connection because its credentials expired";
  }
}

type LoginOk = Extract<LoginResult, { ok: true }>;

/** Who is behind a session after it changed user: a live session of its own from then on. */
export interface SessionIdentity {
  /** The change's attempt: its correlation id becomes the live session's id. */
  readonly attempt: AuthAttempt;
  readonly login: LoginOk;
  readonly database: string;
  readonly backendReused: boolean;
  /** Its place under maxSessionsPerPrincipal, when a limit is set. */
  readonly release?: (() => void) | undefined;
}

/** A tracked session: call it once when it ends. */
export interface TrackedSession {
  (): void;
  /**
   * The session now acts for another login: the live session of the old identity ends (its
   * place under the limits is given back) and one of the new identity starts, so revocation,
   * credential expiry, limits and the fleet's listing follow whoever is behind it now.
   */
  reidentify(next: SessionIdentity): void;
}

/** Where a login is: the two busy stages are the gateway's (the client waits, unread). */
export type LoginStage = "startup" | "password" | "authenticating" | "backend";

/** An 'error' listener that closes the socket it is attached to (an EventEmitter calls it with `this` = the socket). */
export function destroySelf(this: Socket): void {
  this.destroy();
}

/** What every login attempt is logged with, before the client has said who it is. */
export function newAttempt(socket: Socket, instance: DbInstance): AuthAttempt {
  return {
    correlationId: randomUUID(),
    client: `${socket.remoteAddress}:${socket.remotePort}`,
    instance: instance.identifier,
    engine: instance.engine,
  };
}

/**
 * Refuses a connection beyond the admission caps, before any handshake: logged and counted
 * as RDS counts a throttled attempt (through the one refusal edge), the engine's
 * pre-handshake "too many connections" (`encode`, its refusal table at stage "accept") sent,
 * and the socket closed even if the client never does (it is outside the caps).
 */
export function refuseThrottled(
  socket: Socket,
  ctx: ListenerContext,
  encode: RefusalEncoder<never>,
  reason: RefusalReason = "throttled",
): void {
  const attempt = newAttempt(socket, ctx.instance());
  const refusal: Refusal = {
    cause: "throttled",
    detail:
      reason === "out-of-descriptors"
        ? "the gateway is running out of file descriptors (see iamdb_accept_errors_total and stderr); raise the open-file limit; the client should retry with backoff"
        : "too many connections are logging in at once (maxPendingLogins / maxPendingLoginsPerSource); the client should retry with backoff",
  };
  const subject: RefusalSubject = {
    stage: "accept",
    dbUser: "",
    clientAddress: socket.remoteAddress ?? "",
    correlationId: attempt.correlationId,
  };
  const bytes = applyRefusal(ctx, attempt, refusal, subject, encode, false);
  if (bytes === undefined) socket.end();
  else socket.end(bytes);
  socket.on("error", destroySelf);
  setTimeout(() => socket.destroy(), 1000).unref();
}

/**
 * One client connection from accept to relay, the part every engine shares: the client's
 * bytes into the engine's parser and event queue, the login timer (which also ends an
 * attempt while the gateway is busy authenticating or logging in to the backend), the TLS
 * upgrade, a client hang-up while the gateway is busy, the authentication call, refusals
 * with the protocol's own error, and the bookkeeping of a session that starts. An engine
 * supplies the protocol: its parser, its handshake and its error messages.
 *
 * Nothing a session keeps after the login (socket listeners, the relay's callbacks) may
 * close over this object: it holds the handshake's state, which should be collected.
 */
export abstract class LoginConnection<Event, Own = never> {
  readonly raw: Socket;
  /** The client socket: `raw`, or the TLS socket over it after the upgrade. */
  protected socket: Socket;
  protected tls = false;
  protected readonly queue = new EventQueue<Event>();
  protected readonly attempt: AuthAttempt;
  protected readonly instance: DbInstance;
  protected readonly started = performance.now();
  /** When the client's token arrived (iamdb_login_duration_seconds starts here). */
  #authStarted: number | undefined;
  protected stage: LoginStage = "startup";
  /** Why the attempt ended while the gateway was busy (authenticating or logging in to the backend). */
  protected ended: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Set while a TLS handshake runs, so the login timer can end it. */
  #abortUpgrade: ((err: ConnectionClosed) => void) | undefined;
  /** The authenticated login, for the live session it becomes. */
  #login: Extract<LoginResult, { ok: true }> | undefined;
  /** The login's place under maxSessionsPerPrincipal: given to its session, or released when none starts. */
  #reservation: (() => void) | undefined;
  /** Whether the attempt was counted in IamDbAuthConnectionRequests (the client presented its token). */
  #requestCounted = false;
  /** Whether the login became a relayed session (a later failure is no refusal to tell the client). */
  #relaying = false;

  constructor(
    raw: Socket,
    protected readonly ctx: ListenerContext,
  ) {
    this.raw = raw;
    this.socket = raw;
    this.instance = ctx.instance();
    this.attempt = newAttempt(raw, this.instance);
  }

  /** Feeds what the client sent to the engine's parser, and its events to the queue. */
  protected abstract onChunk(chunk: Buffer): void;
  /** The protocol's handshake through to the relay, or a refusal. */
  protected abstract handshake(): Promise<void>;
  /**
   * The engine's refusal table, applied: the bytes of the protocol error `refusal` becomes
   * for `subject`, or undefined when there is nobody to tell.
   */
  protected abstract refusalBytes(refusal: Refusal<Own>, subject: RefusalSubject): Buffer | undefined;
  /** Where the client is, as the database prints it in its refusals. */
  protected abstract clientAddress(): string;
  /** The database the client named, when the protocol names one before the login. */
  protected database(): string | undefined {
    return undefined;
  }

  /** Why the client closed, as logged; an engine may say more for a stage. */
  protected closedReason(): string {
    return `client closed the connection during ${this.stage}`;
  }

  /** Whether a client that hangs up now made no attempt worth a log line. */
  protected silentHangUp(): boolean {
    return false;
  }

  readonly #onData = (chunk: Buffer) => this.onChunk(chunk);
  readonly #onClose = () => this.queue.fail(new ConnectionClosed(this.closedReason(), "client-closed"));
  /** The client went away while we authenticate or log in to the backend: logged once, and the flow stops. */
  readonly #onHangUp = () => {
    if (this.ended !== undefined) return;
    this.ended = `client closed the connection during ${this.stage}`;
    this.#record({ cause: "client-closed", detail: this.ended });
  };

  protected attach(socket: Socket): void {
    this.socket = socket;
    socket.on("data", this.#onData);
    socket.on("end", this.#onClose);
    socket.on("close", this.#onClose);
    socket.on("error", this.#onClose);
  }

  protected detach(socket: Socket): void {
    socket.off("data", this.#onData);
    socket.off("end", this.#onClose);
    socket.off("close", this.#onClose);
    socket.off("error", this.#onClose);
  }

  async run(): Promise<void> {
    this.raw.on("error", destroySelf);
    this.#timer = setTimeout(() => this.#loginTimeout(), this.ctx.limits.loginTimeoutMs);
    this.attach(this.raw);
    try {
      await this.handshake();
    } catch (err) {
      if (err instanceof Refused) {
        // A step of the handshake refused the login: the edge sends it, as any other.
        this.refuse(err.refusal);
      } else if (err instanceof ConnectionClosed) {
        // The client left, or does not speak the protocol in plaintext (a TLS handshake that
        // failed), or the login timer went off while we waited for the client: nothing to say.
        if (!(err.cause === "client-closed" && this.silentHangUp()))
          this.#record({ cause: err.cause, detail: err.reason });
        this.destroy();
      } else {
        // A bug of ours: the stack goes to the operational log (the auth log keeps its one line).
        log().error(
          { err, correlationId: this.attempt.correlationId, instance: this.instance.identifier },
          "a login ended with an internal error",
        );
        const refusal: Refusal<Own> = {
          cause: "internal-error",
          detail: `internal error: ${(err as Error).message}`,
          message:
            "could not log in: internal error in the gateway; retry, and tell the operator if it persists",
        };
        if (this.#relaying || this.ended !== undefined) {
          this.#record(refusal);
          this.destroy();
        } else this.refuse(refusal);
      }
    } finally {
      clearTimeout(this.#timer);
      // No session took the login's place under the limits: give it back.
      this.#reservation?.();
      this.#reservation = undefined;
    }
  }

  #loginTimeout(): void {
    const timeout = new ConnectionClosed(
      `login timeout: no authenticated session within ${this.ctx.limits.loginTimeoutMs} ms (stage: ${this.stage})`,
      "login-timeout",
    );
    this.queue.fail(timeout);
    this.#abortUpgrade?.(timeout);
    if ((this.stage === "authenticating" || this.stage === "backend") && this.ended === undefined) {
      // Nobody awaits the queue now: end the attempt here; the flow stops at its next step.
      this.refuse({ cause: "login-timeout", detail: timeout.reason });
    }
  }

  readonly #encode: RefusalEncoder<Own> = (refusal, subject) => this.refusalBytes(refusal, subject);

  /** Counts the attempt in IamDbAuthConnectionRequests: the client presented its token (once per attempt). */
  protected countRequest(): void {
    if (this.#requestCounted) return;
    this.#requestCounted = true;
    this.ctx.metrics.request(this.instance.identifier);
  }

  /** The auth-log line and the metrics of a refusal (the one shared {@link recordRefusal}). */
  #record(refusal: Refusal<Own>): void {
    recordRefusal(this.ctx, this.attempt, refusal, this.#requestCounted);
    this.#requestCounted = true;
  }

  /** Refuses a request the protocol never answers (a cancel request): logged and counted, then closed. */
  protected refuseUnanswered(refusal: Refusal<Own>): void {
    this.#record(refusal);
    this.ended ??= refusal.detail;
    this.destroy();
  }

  /**
   * The refusal edge: every login the gateway refuses ends here, a typed cause in; out come
   * the auth-log line and the metrics (the same for every cause and engine) and the client's
   * protocol error from the engine's refusal table, sent before the socket closes.
   */
  protected refuse(refusal: Refusal<Own>): void {
    const subject: RefusalSubject = {
      stage: this.stage,
      dbUser: this.attempt.dbUser ?? "",
      database: this.database(),
      clientAddress: this.clientAddress(),
      correlationId: this.attempt.correlationId,
    };
    const bytes = applyRefusal(this.ctx, this.attempt, refusal, subject, this.#encode, this.#requestCounted);
    this.#requestCounted = true;
    log().debug(
      { correlationId: this.attempt.correlationId, instance: this.instance.identifier, cause: refusal.cause },
      "login refused",
    );
    if (bytes === undefined) {
      this.ended ??= refusal.detail;
      this.destroy();
    } else this.closeWith(bytes, refusal.detail);
  }

  protected destroy(): void {
    this.socket.destroy();
    this.raw.destroy();
  }

  /**
   * Sends `refusal` (the protocol's fatal error) and closes, however the client behaves. The
   * outcome is decided and logged by the caller: the client's hang-up is no news.
   */
  protected closeWith(refusal: Buffer, reason: string): void {
    this.ended ??= reason;
    this.socket.off("close", this.#onHangUp);
    this.detach(this.socket);
    this.socket.end(refusal);
    this.socket.on("error", () => this.destroy());
    setTimeout(() => this.destroy(), 1000).unref();
  }

  /**
   * The server side of a TLS handshake on the raw socket, bounded by the login timer.
   * `prepare` runs first, once the raw socket is no longer read (the protocol's answer to the
   * client's TLS request, or a check of what the client sent early).
   */
  protected async startTls(prepare: () => void): Promise<void> {
    this.detach(this.raw);
    prepare();
    const secure = new TLSSocket(this.raw, { isServer: true, secureContext: this.ctx.secureContext });
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
    this.tls = true;
    this.attach(secure as unknown as Socket);
  }

  /**
   * Authenticates and authorizes the login with the shared Authenticator. The client is not
   * read meanwhile; its hang-up or the login timer ends the attempt. Returns undefined when
   * the attempt has ended (logged, and the client told when it still listens).
   */
  protected async authenticate(
    dbUser: string,
    password: string,
  ): Promise<Extract<LoginResult, { ok: true }> | undefined> {
    const { ctx } = this;
    this.detach(this.socket);
    this.socket.pause();
    this.socket.once("close", this.#onHangUp);
    this.stage = "authenticating";
    this.#authStarted = performance.now();
    let auth: LoginResult;
    try {
      auth = await ctx.authenticator.authenticate({
        instance: ctx.instance(),
        dbUser,
        password,
        sourceIp: this.raw.remoteAddress ?? "",
        secureTransport: this.tls,
      });
    } catch (err) {
      // The IAM store or the DB-account file failed: a server error, never a crash.
      this.refuse({
        cause: "internal-error",
        detail: `authentication could not complete: ${(err as Error).message}`,
        message: "could not authenticate",
      });
      return undefined;
    }
    if (this.ended !== undefined) return undefined;
    this.attempt.accessKeyId = auth.accessKeyId;
    this.attempt.principalArn = auth.principalArn;
    if (!auth.ok) {
      this.loginFailed(auth.cause, auth.detail, auth.tokenErrorCode);
      return undefined;
    }
    const id = this.instance.identifier;
    if (ctx.limiter.active(id)) {
      const admitted = await ctx.limiter.admit(id, auth.principalArn);
      if (admitted.ok && this.ended !== undefined) admitted.release();
      if (this.ended !== undefined) return undefined;
      if (!admitted.ok) {
        this.refuse({ cause: "throttled", detail: admitted.message, message: admitted.message });
        return undefined;
      }
      this.#reservation = admitted.release;
    }
    this.#login = auth;
    return auth;
  }

  /** Refuses the login as the database refuses a bad password; the cause goes to the log only. */
  protected loginFailed(
    cause: LoginFailureCause,
    detail: string,
    tokenErrorCode?: "InvalidToken" | "ExpiredToken" | "InternalFailure",
  ): void {
    this.refuse({ cause, detail, tokenErrorCode });
  }

  /**
   * Records a session that starts relaying: for shutdown's drain (`close`), and as a live
   * session the fleet lists and iamdb may end (`terminate` sends the protocol's termination
   * error saying the message it is given, then closes). Returns what the engine calls once
   * when the session ends, with `reidentify` for a session that changes who is behind it
   * (MySQL's COM_CHANGE_USER). What it returns closes over none of `this`.
   */
  protected track(
    info: { readonly database: string; readonly backendReused: boolean },
    close: () => void,
    terminate: (message: string) => void,
  ): TrackedSession {
    const { ctx } = this;
    let attempt: AuthAttempt = { ...this.attempt };
    let release = this.#reservation;
    this.#reservation = undefined;
    const untrack = ctx.sessions.opened(close);
    const sourceIp = this.raw.remoteAddress ?? "";
    const secureTransport = this.tls;
    let ended = false;
    const live = (login: LoginOk, database: string, backendReused: boolean) =>
      ctx.live.add({
        record: {
          sessionId: attempt.correlationId,
          memberId: ctx.live.memberId,
          instance: attempt.instance,
          engine: attempt.engine,
          dbUser: attempt.dbUser ?? "",
          database,
          principalArn: login.principalArn,
          accessKeyId: login.accessKeyId,
          temporary: login.temporary,
          credentialExpiresAt: login.credentialExpiresAt,
          client: attempt.client,
          started: new Date(),
          backendReused,
        },
        sourceIp,
        secureTransport,
        terminate: (t: Termination) => {
          if (ended) return;
          ended = true;
          ctx.authLog.sessionEnded(attempt, t.kind, t.reason, t.detail);
          ctx.metrics.sessionTerminated(attempt.instance, t.kind);
          log().info(
            {
              correlationId: attempt.correlationId,
              instance: attempt.instance,
              cause: t.kind,
              reason: t.reason,
            },
            "session ended by iamdb",
          );
          terminate(`${terminationLead(t)}: ${t.reason} (iamdb correlation id ${attempt.correlationId})`);
        },
      });
    let remove = this.#login === undefined ? undefined : live(this.#login, info.database, info.backendReused);
    const end = () => {
      ended = true;
      untrack();
      remove?.();
      release?.();
    };
    return Object.assign(end, {
      reidentify(next: SessionIdentity) {
        if (ended) {
          next.release?.();
          return;
        }
        remove?.();
        release?.();
        attempt = { ...next.attempt };
        release = next.release;
        remove = live(next.login, next.database, next.backendReused);
      },
    });
  }

  /** The login succeeded: the timer stops, the session is counted and logged. */
  protected sessionStarted(detail: string): void {
    const { ctx } = this;
    this.#relaying = true;
    this.socket.off("close", this.#onHangUp);
    clearTimeout(this.#timer);
    this.ctx.relaying(this.raw);
    const { identifier, engine } = this.instance;
    const now = performance.now();
    ctx.metrics.sessionOpened(identifier);
    ctx.metrics.success(
      identifier,
      (now - this.started) / 1000,
      this.#authStarted === undefined ? undefined : (now - this.#authStarted) / 1000,
      engine,
    );
    log().debug(
      {
        correlationId: this.attempt.correlationId,
        instance: identifier,
        engine,
        client: this.attempt.client,
        dbUser: this.attempt.dbUser,
        principal: this.attempt.principalArn,
        ms: Math.round((now - this.started) * 10) / 10,
      },
      "session started",
    );
    ctx.authLog.success(this.attempt, detail);
  }
}
