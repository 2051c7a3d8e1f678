import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import {
  authenticationOk,
  authenticationSASL,
  authenticationSASLContinue,
  authenticationSASLFinal,
  backendKeyData,
  type ErrorFields,
  errorResponse,
  type FrontendEvent,
  FrontendParser,
  MessageSplitter,
  negotiateProtocolVersion,
  PEER_CANCEL_CODE,
  PROTOCOL_VERSION_3_0,
  parameterStatus,
  parseScramVerifier,
  readSaslInitialResponse,
  readyForQuery,
  SCRAM_SHA_256,
  ScramError,
  ScramPasswordMismatch,
  ScramSha256Server,
  SqlState,
  type StartupPacket,
  sslResponse,
  WireProtocolError,
} from "../wire/postgres/index.js";
import {
  AuthorizationSwitchError,
  BackendClosedError,
  BOOTSTRAP_USER,
  type Holder,
  type SharedBackend,
  WaitAbandonedError,
} from "./backend.js";

/** What every session of one embedded server shares. */
export interface SessionContext {
  backend: SharedBackend;
  /** The one database PGlite serves. */
  database: string;
  /** ParameterStatus values PGlite reports at start-up, sent to each client after authentication. */
  parameters: ReadonlyArray<readonly [string, string]>;
}

/** Like PostgreSQL's authentication_timeout: a client that has not logged in by then is dropped. */
export const AUTHENTICATION_TIMEOUT_MS = 60_000;

const TERMINATE = 0x58; // 'X'
const PASSWORD_MESSAGE = "p";
/** Frontend message types a session may send once authenticated (Terminate is handled apart). */
const SESSION_MESSAGE_TYPES = new Set("BCdcfDEHFPQS".split("").map((c) => c.charCodeAt(0)));

interface RoleRow {
  rolcanlogin: boolean;
  rolsuper: boolean;
  rolpassword: string | null;
  expired: boolean;
}

let nextProcessId = 1;

type Phase = "startup" | "authenticating" | "sasl-initial" | "sasl-final" | "ready" | "closed";

/**
 * One client connection: the start-up and authentication PostgreSQL would do (trust for roles
 * without a password, SCRAM-SHA-256 for roles with one), then its messages relayed to the shared
 * backend while it owns it. Until login is over the client's bytes go through the codec's
 * {@link FrontendParser} (start-up packets, messages bounded as PostgreSQL bounds them before
 * authentication); after it, a {@link MessageSplitter} hands over whole messages of any size.
 */
export class ClientSession implements Holder {
  user = "";
  private phase: Phase = "startup";
  private readonly parser = new FrontendParser();
  private readonly splitter = new MessageSplitter();
  private readonly pending: Buffer[] = [];
  private pumping: Promise<void> | undefined;
  private terminating = false;
  private applicationName = "";
  private isSuperuser = false;
  private scram: ScramSha256Server | undefined;
  private passwordExpired = false;

  constructor(
    private readonly socket: Socket,
    private readonly ctx: SessionContext,
  ) {
    socket.setNoDelay(true);
    socket.setTimeout(AUTHENTICATION_TIMEOUT_MS, () => {
      if (this.phase !== "ready") socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => void this.closed());
  }

  private receive(chunk: Buffer): void {
    if (this.phase === "closed" || this.terminating) return;
    if (this.phase === "ready") {
      this.relayInput(chunk);
      return;
    }
    this.parser.append(chunk);
    this.process();
  }

  /** Handles whatever complete login-phase events are buffered; a protocol error ends the session. */
  private process(): void {
    try {
      this.advance();
    } catch (e) {
      if (e instanceof WireProtocolError) this.fatal({ code: e.code, message: e.message });
      else
        this.fatal({
          code: SqlState.InternalError,
          message: `internal error in the embedded server: ${(e as Error).message}`,
        });
    }
  }

  private advance(): void {
    for (;;) {
      // The role lookup resumes us while "authenticating"; "ready" hands the rest to the relay.
      if (this.phase !== "startup" && this.phase !== "sasl-initial" && this.phase !== "sasl-final") break;
      const event = this.parser.next();
      if (event === undefined) return;
      this.onLoginEvent(event);
    }
    if (this.phase === "ready") {
      const rest = this.parser.takeRest();
      if (rest.length > 0) this.relayInput(rest);
    }
  }

  private onLoginEvent(event: FrontendEvent): void {
    switch (event.kind) {
      case "error":
        this.fatal({ code: event.code, message: event.message });
        return;
      case "startup":
        this.onStartupPacket(event.packet);
        return;
      case "message":
        if (this.phase === "startup")
          throw new WireProtocolError(SqlState.ProtocolViolation, "expected a startup packet");
        this.onSaslMessage(event.type, event.body);
    }
  }

  /** One whole message of the authenticated session: queued for the backend. */
  private readonly takeMessage = (type: number, message: Buffer): void => {
    if (this.phase !== "ready" || this.terminating) return;
    if (type === TERMINATE) {
      this.terminating = true;
      return;
    }
    if (!SESSION_MESSAGE_TYPES.has(type)) {
      this.fatal({ code: SqlState.ProtocolViolation, message: `invalid frontend message type ${type}` });
      return;
    }
    this.pending.push(message);
  };

  /** Whole messages of the authenticated session, queued for the backend. */
  private relayInput(chunk: Buffer): void {
    const ok = this.splitter.push(chunk, this.takeMessage);
    if (!ok) {
      this.fatal({ code: SqlState.ProtocolViolation, message: "invalid message length" });
      return;
    }
    if (this.phase === "ready" || this.terminating) this.kick();
  }

  private onStartupPacket(packet: StartupPacket): void {
    switch (packet.kind) {
      case "SSLRequest":
      case "GSSENCRequest":
        // No encryption on the backend port: the gateway in front of it terminates TLS.
        this.socket.write(sslResponse(false));
        this.parser.expectStartup();
        return;
      case "CancelRequest":
        // One backend, no separate process to interrupt; PostgreSQL sends no reply either way.
        this.phase = "closed";
        this.socket.end();
        return;
      case "PeerCancelRequest":
        // The gateways' own code means nothing here: PostgreSQL's answer to an unknown version.
        this.fatal({
          code: SqlState.FeatureNotSupported,
          message: `unsupported frontend protocol ${PEER_CANCEL_CODE >>> 16}.${PEER_CANCEL_CODE & 0xffff}: server supports 3.0`,
        });
        return;
    }
    const params = packet.parameters;
    const unsupported = Object.keys(params).filter((k) => k.startsWith("_pq_."));
    if ((packet.protocolVersion & 0xffff) > 0 || unsupported.length > 0) {
      // PostgreSQL sends its newest version here (PG_PROTOCOL_LATEST), not just the minor number.
      this.socket.write(negotiateProtocolVersion(PROTOCOL_VERSION_3_0, unsupported));
    }
    const user = params.user ?? "";
    if (user === "") {
      this.fatal({
        code: SqlState.InvalidAuthorizationSpecification,
        message: "no PostgreSQL user name specified in startup packet",
      });
      return;
    }
    this.user = user;
    this.applicationName = params.application_name ?? "";
    const database = params.database || user;
    if (database !== this.ctx.database) {
      this.fatal({
        code: SqlState.InvalidCatalogName,
        message: `database "${database}" does not exist`,
        detail: `The embedded PostgreSQL (PGlite) serves the single database "${this.ctx.database}".`,
      });
      return;
    }
    this.phase = "authenticating";
    void this.authenticate();
  }

  private async authenticate(): Promise<void> {
    const role = await this.lookupRole().catch((e: unknown) => {
      if (!(e instanceof BackendClosedError)) {
        this.fatal({
          code: SqlState.InternalError,
          message: `the embedded PostgreSQL server failed: ${(e as Error).message}`,
        });
      } else this.socket.destroy();
      return null;
    });
    if (role === null || this.phase !== "authenticating") return;
    if (role === undefined) {
      this.fatal({
        code: SqlState.InvalidAuthorizationSpecification,
        message: `role "${this.user}" does not exist`,
      });
      return;
    }
    if (!role.rolcanlogin) {
      this.fatal({
        code: SqlState.InvalidAuthorizationSpecification,
        message: `role "${this.user}" is not permitted to log in`,
      });
      return;
    }
    this.isSuperuser = role.rolsuper;
    if (role.rolpassword === null) {
      // No password to check against: the bootstrap superuser, or roles created without one.
      this.loggedIn();
      this.process();
      return;
    }
    const verifier = parseScramVerifier(role.rolpassword);
    if (verifier === undefined) {
      this.fatal({
        code: SqlState.InvalidAuthorizationSpecification,
        message: `role "${this.user}" has a password that is not a SCRAM-SHA-256 verifier`,
        hint: "Set the password again with password_encryption = 'scram-sha-256' (the default).",
      });
      return;
    }
    this.passwordExpired = role.expired;
    this.scram = new ScramSha256Server(verifier);
    this.phase = "sasl-initial";
    this.socket.write(authenticationSASL([SCRAM_SHA_256]));
    this.process();
  }

  private async lookupRole(): Promise<RoleRow | undefined> {
    const frontEnd: Holder = { user: BOOTSTRAP_USER };
    await this.ctx.backend.acquire(frontEnd);
    try {
      const rows = await this.ctx.backend.query<RoleRow>(
        frontEnd,
        `SELECT rolcanlogin, rolsuper, rolpassword,
                (rolvaliduntil IS NOT NULL AND rolvaliduntil < now()) AS expired
           FROM pg_catalog.pg_authid WHERE rolname = $1`,
        [this.user],
      );
      return rows[0];
    } finally {
      this.ctx.backend.release(frontEnd);
    }
  }

  private onSaslMessage(type: string, body: Buffer): void {
    const scram = this.scram;
    if (scram === undefined)
      throw new WireProtocolError(SqlState.ProtocolViolation, "unexpected SASL message");
    if (type !== PASSWORD_MESSAGE) {
      throw new WireProtocolError(
        SqlState.ProtocolViolation,
        `expected SASL response, got message type ${type.charCodeAt(0)}`,
      );
    }
    try {
      if (this.phase === "sasl-initial") {
        const { mechanism, data } = readSaslInitialResponse(body);
        if (mechanism !== SCRAM_SHA_256) {
          throw new WireProtocolError(
            SqlState.ProtocolViolation,
            `client selected an invalid SASL authentication mechanism "${mechanism}"`,
          );
        }
        this.socket.write(authenticationSASLContinue(scram.handleClientFirst(data)));
        this.phase = "sasl-final";
        return;
      }
      // A SASLResponse's body is the client-final-message.
      const serverFinal = scram.handleClientFinal(body);
      if (this.passwordExpired) throw new ScramPasswordMismatch("password expired");
      this.socket.write(authenticationSASLFinal(serverFinal));
      this.loggedIn();
    } catch (e) {
      if (!(e instanceof ScramError)) throw e;
      this.fatal(
        e instanceof ScramPasswordMismatch
          ? {
              code: SqlState.InvalidPassword,
              message: `password authentication failed for user "${this.user}"`,
            }
          : { code: SqlState.ProtocolViolation, message: e.message },
      );
    }
  }

  private loggedIn(): void {
    this.socket.setTimeout(0);
    const overrides = new Map([
      ["application_name", this.applicationName],
      ["session_authorization", this.user],
      ["is_superuser", this.isSuperuser ? "on" : "off"],
    ]);
    const out = [authenticationOk()];
    for (const [name, value] of this.ctx.parameters)
      out.push(parameterStatus(name, overrides.get(name) ?? value));
    out.push(backendKeyData(nextProcessId++, randomBytes(4)), readyForQuery("I"));
    this.socket.write(Buffer.concat(out));
    this.phase = "ready";
  }

  private kick(): void {
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
      if (this.phase === "ready" && this.pending.length > 0) this.kick();
    });
  }

  /** Relays queued messages while this session owns the backend; gives it up whenever it is idle. */
  private async pump(): Promise<void> {
    const backend = this.ctx.backend;
    try {
      while (this.phase === "ready" && this.pending.length > 0) {
        await backend.acquire(this);
        if (this.phase !== "ready") return;
        const batch = Buffer.concat(this.pending.splice(0));
        const idle = await backend.execute(this, batch, (data) => {
          if (!this.socket.destroyed) this.socket.write(Buffer.from(data));
        });
        if (idle) backend.release(this);
      }
      if (this.terminating && this.phase === "ready") {
        this.phase = "closed";
        this.socket.end();
      }
    } catch (e) {
      if (e instanceof BackendClosedError || e instanceof WaitAbandonedError) this.socket.destroy();
      else if (e instanceof AuthorizationSwitchError) {
        this.fatal({
          code: SqlState.InvalidAuthorizationSpecification,
          message: `role "${e.user}" can no longer be used: ${e.reason}`,
        });
      } else
        this.fatal({
          code: SqlState.InternalError,
          message: `the embedded PostgreSQL server failed: ${(e as Error).message}`,
        });
    }
  }

  private fatal(error: Omit<ErrorFields, "severity">): void {
    if (this.phase === "closed") return;
    this.phase = "closed";
    if (!this.socket.destroyed) this.socket.end(errorResponse({ severity: "FATAL", ...error }));
  }

  /** The socket is gone: wait for any relay in flight, then leave the backend idle for the others. */
  private async closed(): Promise<void> {
    this.phase = "closed";
    this.pending.length = 0;
    this.ctx.backend.forget(this);
    await this.pumping;
    await this.ctx.backend.abandon(this).catch(() => {});
  }
}
