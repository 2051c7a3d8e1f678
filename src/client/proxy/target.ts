import { readFileSync } from "node:fs";
import type { Socket } from "node:net";
import {
  checkServerIdentity,
  createSecureContext,
  type PeerCertificate,
  type SecureContext,
  connect as tlsConnect,
} from "node:tls";
import { connectBackendTcp } from "../../gateway/backend-socket.js";
import type { TokenCache } from "../token-cache.js";
import type { HostPort, ProxyTargetConfig } from "./config.js";
import { isIpAddress } from "./config.js";
import type { ProxyMetrics } from "./metrics.js";

/**
 * Logging in to the target failed. `kind`: `unavailable` (TCP, TLS, timeout), `refused` (the
 * server refused the token), `protocol` (the server is not an IAM endpoint of this engine),
 * `credentials` (no token could be signed). The message says what to do; it never holds a
 * token or secret.
 */
export class TargetLoginError extends Error {
  constructor(
    message: string,
    readonly kind: "unavailable" | "refused" | "protocol" | "credentials",
    /** The server's own words when it refused (PostgreSQL ErrorResponse message / MySQL ERR message). */
    readonly serverMessage?: string,
    /** PostgreSQL SQLSTATE or MySQL error number of the server's refusal. */
    readonly serverCode?: string | number,
  ) {
    super(message);
    this.name = "TargetLoginError";
  }
}

/** Everything a connection handler needs about its target, resolved once at start-up. */
export interface TargetContext {
  readonly config: ProxyTargetConfig;
  /** Built once: the CA parsed per connection would cost more than the handshake. */
  readonly secureContext: SecureContext;
  /** The last TLS session the target issued, resumed by the next connection (an abbreviated handshake). */
  tlsSession: Buffer | undefined;
  /** Label for logs and metrics. */
  readonly name: string;
  readonly region: string;
  readonly tokens: TokenCache;
  readonly metrics: ProxyMetrics;
  readonly connectTimeoutMs: number;
}

/** The hint for a refused token: which permission, which account, where to look. */
export function refusedHint(ctx: TargetContext, accessKeyId: string | undefined): string {
  const { username } = ctx.config;
  const key = accessKeyId ? ` (access key ${accessKeyId})` : "";
  return `token refused by the server — check that your AWS identity${key} may rds-db:connect to arn:aws:rds-db:${ctx.region}:<account>:dbuser:<DbiResourceId>/${username}, that ${username} is an IAM DB user (PostgreSQL: granted rds_iam; iamdb: iamdb db-user create), that the instance has IAM authentication enabled, and that the token is signed for the endpoint's real name and port (--token-host, now ${ctx.config.tokenHost.host}:${ctx.config.tokenHost.port})`;
}

/** Opens TCP to the target within the connect timeout. */
export function connectTarget(ctx: TargetContext): Promise<Socket> {
  const { host, port } = ctx.config.target;
  return connectBackendTcp(
    host,
    port,
    ctx.connectTimeoutMs,
    (m) =>
      new TargetLoginError(
        `${m.replace(/^backend/, "target")}: check --target (and that a port-forward or tunnel to it is up)`,
        "unavailable",
      ),
  );
}

/**
 * TLS over `socket` with full verification: the chain must end at `ca` (else Node's
 * bundled roots) and the certificate must name the endpoint's real name (`tokenHost`),
 * which is the name the token is signed for, even when `socket` goes to a forward.
 */
export function startTargetTls(socket: Socket, ctx: TargetContext): Promise<Socket> {
  const name: HostPort = ctx.config.tokenHost;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      secure.destroy();
      reject(
        new TargetLoginError(
          `TLS with ${name.host} took longer than ${ctx.connectTimeoutMs} ms`,
          "unavailable",
        ),
      );
    }, ctx.connectTimeoutMs);
    const secure = tlsConnect({
      socket,
      ...(isIpAddress(name.host) ? {} : { servername: name.host }),
      secureContext: ctx.secureContext,
      ...(ctx.tlsSession ? { session: ctx.tlsSession } : {}),
      rejectUnauthorized: true,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(name.host, cert),
    });
    // Sessions come only from handshakes that verified the chain and the name above.
    secure.on("session", (session: Buffer) => {
      ctx.tlsSession = session;
    });
    const onError = (err: Error) => {
      clearTimeout(timer);
      secure.destroy();
      socket.destroy();
      reject(
        new TargetLoginError(
          `TLS to ${name.host} failed: ${err.message}; pass --ca-file with the CA that signed the server's certificate (iamdb: its tls/ca.pem; RDS: the global bundle), and --token-host with the endpoint's real name when connecting through a forward`,
          "unavailable",
        ),
      );
    };
    secure.once("error", onError);
    secure.once("secureConnect", () => {
      clearTimeout(timer);
      ctx.metrics.tls(ctx.name, secure.isSessionReused());
      secure.off("error", onError);
      secure.on("error", () => secure.destroy());
      resolve(secure as unknown as Socket);
    });
  });
}

/** The client TLS context of a target: its CA bundle, else Node's bundled roots. */
export function targetSecureContext(caFile: string | undefined): SecureContext {
  return createSecureContext(caFile === undefined ? {} : { ca: readFileSync(caFile) });
}

/** Bytes still queued when a session ends get this long to be flushed. */
const FLUSH_MS = 2_000;

/** Closes `s`, after what is queued for it has been written (a Terminate, an error packet). */
function closeSoon(s: Socket): void {
  if (s.destroyed) return;
  if (s.writableLength === 0) {
    s.destroy();
    return;
  }
  s.end();
  setTimeout(() => s.destroy(), FLUSH_MS).unref();
}

/**
 * Copies bytes both ways, chunk by chunk, with backpressure. A half-close is passed on (the
 * TLS side sends close_notify); when either side closes or fails, both are closed (queued
 * bytes flushed first) and `onEnd` runs once. Returns a function that ends the session.
 */
export function relay(client: Socket, server: Socket, onEnd: () => void): () => void {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    closeSoon(client);
    closeSoon(server);
    onEnd();
  };
  const pipe = (from: Socket, to: Socket) => {
    from.on("data", (chunk: Buffer) => {
      if (!to.write(chunk)) {
        from.pause();
        to.once("drain", () => from.resume());
      }
    });
    from.on("end", () => {
      if (!to.destroyed) to.end();
    });
    from.on("close", end);
    from.on("error", end);
  };
  pipe(client, server);
  pipe(server, client);
  client.resume();
  server.resume();
  return end;
}
