import { randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import {
  AuthorizationSwitchError,
  BackendClosedError,
  BOOTSTRAP_USER,
  type Holder,
  type SharedBackend,
  WaitAbandonedError,
} from "./backend.js";
import {
  authenticationOk,
  authenticationSasl,
  authenticationSaslContinue,
  authenticationSaslFinal,
  backendKeyData,
  type ErrorFields,
  errorResponse,
  negotiateProtocolVersion,
  ProtocolViolation,
  parameterStatus,
  parseSaslInitialResponse,
  parseSaslResponse,
  parseStartup,
  readyForQuery,
  SESSION_MESSAGE_TYPES,
  takeFrames,
  takeStartupFrame,
} from "./protocol.js";
import { parseScramVerifier, SCRAM_SHA_256, ScramError, ScramServerExchange } from "./scram.js";

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
 * backend while it owns it.
 */
export class ClientSession implements Holder {
  user = "";
  private phase: Phase = "startup";
  private buffered: Buffer = Buffer.alloc(0);
  private readonly pending: Buffer[] = [];
  private pumping: Promise<void> | undefined;
  private terminating = false;
  private applicationName = "";
  private isSuperuser = false;
  private scram: ScramServerExchange | undefined;
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
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    this.process();
  }

  /** Handles whatever complete frames are buffered; a protocol error ends the session. */
  private process(): void {
    try {
      this.advance();
    } catch (e) {
      if (e instanceof ProtocolViolation) this.fatal({ code: "08P01", message: e.message });
      else
        this.fatal({
          code: "XX000",
          message: `internal error in the embedded server: ${(e as Error).message}`,
        });
    }
  }

  private advance(): void {
    while (this.phase !== "closed" && !this.terminating) {
      if (this.phase === "startup") {
        const taken = takeStartupFrame(this.buffered);
        if (taken === undefined) return;
        this.buffered = taken.rest;
        this.onStartupFrame(taken.frame);
        continue;
      }
      if (this.phase === "authenticating") return; // the role lookup resumes us
      const { frames, rest } = takeFrames(this.buffered);
      this.buffered = rest;
      if (frames.length === 0) return;
      for (const frame of frames) {
        if (this.phase === "sasl-initial" || this.phase === "sasl-final") {
          this.onSaslFrame(frame);
        } else if (this.phase === "ready") {
          if (frame[0] === TERMINATE) {
            this.terminating = true;
            break;
          }
          if (!SESSION_MESSAGE_TYPES.has(frame[0] ?? 0)) {
            throw new ProtocolViolation(`invalid frontend message type ${frame[0]}`);
          }
          this.pending.push(frame);
        }
        if ((this.phase as Phase) === "closed") return;
      }
      if (this.phase === "ready" || this.terminating) this.kick();
      if (this.terminating) return;
    }
  }

  private onStartupFrame(frame: Buffer): void {
    const packet = parseStartup(frame);
    switch (packet.kind) {
      case "ssl":
      case "gssenc":
        // No encryption on the backend port: the gateway in front of it terminates TLS.
        this.socket.write("N");
        return;
      case "cancel":
        // One backend, no separate process to interrupt; PostgreSQL sends no reply either way.
        this.phase = "closed";
        this.socket.end();
        return;
    }
    if (packet.major !== 3) {
      this.fatal({
        code: "0A000",
        message: `unsupported frontend protocol ${packet.major}.${packet.minor}: server supports 3.0`,
      });
      return;
    }
    const unsupported = [...packet.params.keys()].filter((k) => k.startsWith("_pq_."));
    if (packet.minor > 0 || unsupported.length > 0) this.socket.write(negotiateProtocolVersion(unsupported));
    const user = packet.params.get("user") ?? "";
    if (user === "") {
      this.fatal({ code: "28000", message: "no PostgreSQL user name specified in startup packet" });
      return;
    }
    this.user = user;
    this.applicationName = packet.params.get("application_name") ?? "";
    const database = packet.params.get("database") || user;
    if (database !== this.ctx.database) {
      this.fatal({
        code: "3D000",
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
          code: "XX000",
          message: `the embedded PostgreSQL server failed: ${(e as Error).message}`,
        });
      } else this.socket.destroy();
      return null;
    });
    if (role === null || this.phase !== "authenticating") return;
    if (role === undefined) {
      this.fatal({ code: "28000", message: `role "${this.user}" does not exist` });
      return;
    }
    if (!role.rolcanlogin) {
      this.fatal({ code: "28000", message: `role "${this.user}" is not permitted to log in` });
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
        code: "28000",
        message: `role "${this.user}" has a password that is not a SCRAM-SHA-256 verifier`,
        hint: "Set the password again with password_encryption = 'scram-sha-256' (the default).",
      });
      return;
    }
    this.passwordExpired = role.expired;
    this.scram = new ScramServerExchange(verifier, randomBytes(18).toString("base64"));
    this.phase = "sasl-initial";
    this.socket.write(authenticationSasl([SCRAM_SHA_256]));
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

  private onSaslFrame(frame: Buffer): void {
    const scram = this.scram;
    if (scram === undefined) throw new ProtocolViolation("unexpected SASL message");
    try {
      if (this.phase === "sasl-initial") {
        const { mechanism, data } = parseSaslInitialResponse(frame);
        if (mechanism !== SCRAM_SHA_256) {
          throw new ProtocolViolation(
            `client selected an invalid SASL authentication mechanism "${mechanism}"`,
          );
        }
        this.socket.write(authenticationSaslContinue(scram.first(data.toString("utf8"))));
        this.phase = "sasl-final";
        return;
      }
      const serverFinal = scram.final(parseSaslResponse(frame).toString("utf8"));
      if (this.passwordExpired) throw new ScramError("password expired", true);
      this.socket.write(authenticationSaslFinal(serverFinal));
      this.loggedIn();
    } catch (e) {
      if (!(e instanceof ScramError)) throw e;
      this.fatal(
        e.wrongPassword
          ? { code: "28P01", message: `password authentication failed for user "${this.user}"` }
          : { code: "08P01", message: e.message },
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
    out.push(backendKeyData(nextProcessId++, randomBytes(4).readInt32BE(0)), readyForQuery("I"));
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
        this.fatal({ code: "28000", message: `role "${e.user}" can no longer be used: ${e.reason}` });
      } else
        this.fatal({
          code: "XX000",
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
