import type { Socket } from "node:net";
import { BackendLoginError, backendLogin } from "../../engines/postgres/backend-login.js";
import { ConnectionClosed, EventQueue } from "../../gateway/queue.js";
import { log } from "../../log/logger.js";
import {
  authenticationOk,
  type BackendMessage,
  backendKeyData,
  cancelRequest,
  errorResponse,
  type FrontendEvent,
  FrontendParser,
  negotiateProtocolVersion,
  readyForQuery,
  SqlState,
  sslRequest,
  sslResponse,
} from "../../wire/postgres/index.js";
import { NoCredentialsError } from "../credentials.js";
import { CredentialsExpiredError } from "../token-cache.js";
import {
  connectTarget,
  refusedHint,
  relay,
  startTargetTls,
  type TargetContext,
  TargetLoginError,
} from "./target.js";

/** SQLSTATEs of a refused password: invalid_authorization_specification, invalid_password. */
const AUTH_REFUSED = new Set<string>([SqlState.InvalidAuthorizationSpecification, SqlState.InvalidPassword]);

/**
 * A local PostgreSQL client of `iamdb proxy`. The exchange:
 *
 * ```
 * local client                   iamdb proxy                         target (iamdb gateway, RDS)
 *   -> SSLRequest                 <- 'N' (loopback: no TLS locally)
 *   -> StartupMessage             user := --username
 *                                 -> TCP, SSLRequest, TLS (verify-full against --ca-file,
 *                                    name = --token-host), StartupMessage
 *                                 <- AuthenticationCleartextPassword
 *                                 -> the token (cached; signed when due)
 *                                 <- AuthenticationOk, ParameterStatus…, BackendKeyData, ReadyForQuery
 *   <- AuthenticationOk, then those messages (no password ever asked of the client)
 *   <=> bytes relayed both ways
 * ```
 * A refused token is retried once with a newly signed one (fresh credentials); a second
 * refusal reaches the client as the server's FATAL with a hint saying what to check.
 * CancelRequests are forwarded to the target over TLS, keys unchanged.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export async function servePostgresClient(
  client: Socket,
  ctx: TargetContext,
  onEnd: () => void,
): Promise<void> {
  const parser = new FrontendParser();
  const queue = new EventQueue<FrontendEvent>();
  let target: Socket | undefined;
  const onData = (chunk: Buffer) => queue.push(parser.push(chunk));
  const onGone = () => {
    queue.fail(new ConnectionClosed("the client closed the connection"));
    target?.destroy();
  };
  client.on("data", onData);
  client.on("close", onGone);
  client.on("error", onGone);
  const detach = () => {
    client.off("data", onData);
    client.off("close", onGone);
    client.off("error", onGone);
  };
  const fatal = (code: string, message: string, extra: { detail?: string; hint?: string } = {}) => {
    detach();
    client.end(errorResponse({ severity: "FATAL", code, message, ...extra }));
    setTimeout(() => client.destroy(), 2_000).unref();
    onEnd();
  };
  const started = performance.now();
  let parameters: Record<string, string>;
  try {
    for (;;) {
      const event = await queue.next();
      if (event.kind === "error") return fatal(event.code, event.message);
      if (event.kind === "message") return fatal(SqlState.ProtocolViolation, "expected a startup message");
      const packet = event.packet;
      if (packet.kind === "SSLRequest" || packet.kind === "GSSENCRequest") {
        // Loopback or a Unix socket: the proxy offers no TLS on its side; sslmode=prefer carries on.
        client.write(sslResponse(false));
        parser.expectStartup();
        queue.push(parser.push(Buffer.alloc(0)));
        continue;
      }
      if (packet.kind === "CancelRequest") {
        detach();
        client.destroy();
        forwardCancel(ctx, packet.processId, packet.secretKey);
        onEnd();
        return;
      }
      if (packet.kind === "PeerCancelRequest")
        return fatal(SqlState.ProtocolViolation, "unsupported request");
      parameters = { ...packet.parameters };
      break;
    }
  } catch (err) {
    if (err instanceof ConnectionClosed) {
      detach();
      client.destroy();
      onEnd();
      return;
    }
    throw err;
  }
  const asked = parameters.user;
  parameters.user = ctx.config.username;
  if (parameters.database === undefined && ctx.config.database !== undefined) {
    parameters.database = ctx.config.database;
  }
  if (asked !== undefined && asked !== ctx.config.username) {
    log().debug(
      { target: ctx.name, asked, user: ctx.config.username },
      "client asked for another user; the proxy logs in as its own",
    );
  }
  let session: Awaited<ReturnType<typeof backendLogin>>;
  try {
    session = await loginWithRetry(ctx, parameters, (s) => {
      target = s;
    });
  } catch (err) {
    const e = recordLoginFailure(ctx, err, started, client);
    if (e === undefined) {
      detach();
      onEnd();
      return;
    }
    if (e.kind === "refused") {
      return fatal(
        String(e.serverCode ?? SqlState.InvalidAuthorizationSpecification),
        e.serverMessage ?? "authentication failed",
        {
          hint: `iamdb proxy: ${e.message}`,
        },
      );
    }
    return fatal(
      e.kind === "credentials" ? SqlState.InvalidAuthorizationSpecification : SqlState.ConnectionFailure,
      `iamdb proxy: ${e.message}`,
    );
  }
  ctx.metrics.login(ctx.name, "success", (performance.now() - started) / 1000);
  if (client.destroyed) {
    session.socket.destroy();
    detach();
    onEnd();
    return;
  }
  // What the client sent after its startup message (nothing, for libpq): a password is
  // dropped (none was asked for), anything else goes on to the server.
  const early: Buffer[] = [];
  for (;;) {
    const pending = queue.size > 0 ? await queue.next() : undefined;
    if (pending === undefined) break;
    if (pending.kind === "message" && pending.type !== "p") early.push(frame(pending.type, pending.body));
  }
  detach();
  client.write(Buffer.concat([authenticationOk(), ...session.startup.map(reencode)]));
  if (early.length > 0) session.socket.write(Buffer.concat(early));
  if (session.remainder.length > 0) client.write(session.remainder);
  relay(client, session.socket, onEnd);
}

function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 1, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** A login message from the server, as bytes for the client. */
function reencode(m: BackendMessage): Buffer {
  switch (m.kind) {
    case "ParameterStatus":
    case "NoticeResponse":
    case "Other":
      return m.raw;
    case "BackendKeyData":
      return backendKeyData(m.processId, m.secretKey);
    case "ReadyForQuery":
      return readyForQuery(m.status);
    case "NegotiateProtocolVersion":
      return negotiateProtocolVersion(m.newestMinor, m.unrecognized);
    default:
      // Authentication messages and errors never reach here (backendLogin consumes or throws them).
      return Buffer.alloc(0);
  }
}

/** Opens a verified TLS connection to the target, as libpq's sslmode=verify-full. */
async function openTarget(ctx: TargetContext): Promise<Socket> {
  const socket = await connectTarget(ctx);
  try {
    socket.write(sslRequest());
    const answer = await readByte(socket, ctx);
    if (answer !== 0x53 /* S */) {
      throw new TargetLoginError(
        `${ctx.config.target.host}:${ctx.config.target.port} does not offer TLS; an IAM endpoint always does: check --target`,
        "protocol",
      );
    }
    return await startTargetTls(socket, ctx);
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function readByte(socket: Socket, ctx: TargetContext): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => done(new TargetLoginError("the target did not answer the SSL request", "unavailable")),
      ctx.connectTimeoutMs,
    );
    const onData = (chunk: Buffer) => {
      if (chunk.length > 1) {
        // Bytes after the one-byte answer, before TLS: the CVE-2021-23214 class of injection.
        return done(
          new TargetLoginError(
            "the target sent data after its SSL answer, before TLS; refusing it",
            "protocol",
          ),
        );
      }
      done(undefined, chunk[0] as number);
    };
    const onEnd = () =>
      done(
        new TargetLoginError("the target closed the connection during the SSL negotiation", "unavailable"),
      );
    const done = (err: Error | undefined, value?: number) => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onEnd);
      socket.pause();
      if (err) reject(err);
      else resolve(value as number);
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("close", onEnd);
  });
}

async function loginOnce(
  ctx: TargetContext,
  parameters: Record<string, string>,
  opened: (s: Socket) => void,
): Promise<Awaited<ReturnType<typeof backendLogin>>> {
  const token = await ctx.tokens.token();
  const socket = await openTarget(ctx);
  opened(socket);
  return backendLogin(socket, parameters, token, ctx.connectTimeoutMs);
}

/** Logs in; a refused token is retried once with a newly signed one. */
async function loginWithRetry(
  ctx: TargetContext,
  parameters: Record<string, string>,
  opened: (s: Socket) => void,
): Promise<Awaited<ReturnType<typeof backendLogin>>> {
  try {
    return await loginOnce(ctx, parameters, opened);
  } catch (err) {
    if (
      !(err instanceof BackendLoginError && err.kind === "refused" && AUTH_REFUSED.has(err.fields?.C ?? ""))
    ) {
      throw err;
    }
    ctx.metrics.retried(ctx.name);
    ctx.tokens.invalidate();
    return loginOnce(ctx, parameters, opened);
  }
}

/**
 * A failed target login counted and logged; undefined when the client has gone meanwhile
 * (counted as client-closed: there is nobody to tell).
 */
export function recordLoginFailure(
  ctx: TargetContext,
  err: unknown,
  started: number,
  client: Socket,
): TargetLoginError | undefined {
  const e = asLoginError(err, ctx);
  if (client.destroyed) {
    ctx.metrics.login(ctx.name, "client-closed");
    return undefined;
  }
  ctx.metrics.login(ctx.name, e.kind, (performance.now() - started) / 1000);
  log().warn({ target: ctx.name, kind: e.kind, user: ctx.config.username }, e.message);
  return e;
}

/** Any failure of a login, as a {@link TargetLoginError} whose message says what to do. */
export function asLoginError(err: unknown, ctx?: TargetContext): TargetLoginError {
  if (err instanceof TargetLoginError) return err;
  if (err instanceof NoCredentialsError || err instanceof CredentialsExpiredError) {
    return new TargetLoginError(err.message, "credentials");
  }
  if (err instanceof BackendLoginError) {
    if (err.kind === "refused") {
      const code = err.fields?.C;
      const serverMessage = err.fields?.M ?? err.message;
      if (code !== undefined && AUTH_REFUSED.has(code) && ctx) {
        return new TargetLoginError(
          refusedHint(ctx, ctx.tokens.peek()?.accessKeyId),
          "refused",
          serverMessage,
          code,
        );
      }
      // The server's own refusal of the session (no such database, too many connections): its words.
      return new TargetLoginError(serverMessage, "refused", serverMessage, code);
    }
    return new TargetLoginError(
      `${err.message.replace(/\bbackend\b/g, "target")}`,
      err.kind === "unavailable" ? "unavailable" : "protocol",
    );
  }
  return new TargetLoginError(
    `login to the target failed: ${(err as Error)?.message ?? String(err)}`,
    "protocol",
  );
}

/** A CancelRequest goes to the target on a TLS connection of its own, keys as the target issued them. */
function forwardCancel(ctx: TargetContext, processId: number, secretKey: Buffer): void {
  openTarget(ctx)
    .then((s) => {
      s.end(cancelRequest(processId, secretKey));
      setTimeout(() => s.destroy(), ctx.connectTimeoutMs).unref();
    })
    .catch((err: Error) => {
      log().debug({ target: ctx.name, err: err.message }, "could not forward a cancel request");
    });
}
