import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { httpServerOptions, limitConnections } from "../../api/http-limits.js";
import { Sessions } from "../../gateway/sessions.js";
import { log } from "../../log/logger.js";
import { ErrorCode, encodePacket, errPacket } from "../../wire/mysql/index.js";
import { errorResponse, FrontendParser, SqlState, sslResponse } from "../../wire/postgres/index.js";
import { type CredentialProvider, standardCredentials } from "../credentials.js";
import { TokenCache } from "../token-cache.js";
import { type ProxyConfig, ProxyConfigError, type ProxyEngine, type ProxyTargetConfig } from "./config.js";
import { ProxyMetrics } from "./metrics.js";
import { serveMysqlClient } from "./mysql.js";
import { asLoginError, servePostgresClient } from "./postgres.js";
import { type TargetContext, targetSecureContext } from "./target.js";

/** The proxy could not start: a port in use, a socket path taken, no credentials. The message says what to do. */
export class ProxyStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProxyStartError";
  }
}

export interface StartProxyOptions {
  /** Credentials for a target; default: the standard AWS chain with the target's profile (one provider per profile). */
  readonly credentials?: (target: ProxyTargetConfig) => CredentialProvider;
  /** Milliseconds since the epoch (token expiry); injected by tests. */
  readonly now?: () => number;
  /** Default true: process and event-loop metrics on /metrics (off in tests that start several proxies). */
  readonly processMetrics?: boolean;
  /** Sign a token for every target before listening, so missing credentials stop the start. Default true. */
  readonly signAtStart?: boolean;
}

export interface ProxyListener {
  readonly name: string;
  readonly engine: ProxyEngine;
  readonly host: string;
  readonly port: number;
  /** The Unix socket's path, when asked for. */
  readonly socketPath: string | undefined;
}

export interface RunningProxy {
  readonly listeners: readonly ProxyListener[];
  /** http://HOST:PORT of /healthz, /readyz, /metrics, when configured. */
  readonly opsUrl: string | undefined;
  readonly metrics: ProxyMetrics;
  readonly tokens: ReadonlyMap<string, TokenCache>;
  /** Open client connections. */
  readonly connections: number;
  /** Ready: listening, not draining, and a token can be had for every target. */
  ready(): Promise<{ ok: boolean; detail: string }>;
  /** Stops accepting, waits up to `drainTimeoutMs` for sessions to end, closes the rest. */
  stop(drainTimeoutMs?: number): Promise<void>;
}

/**
 * Refuses a client the proxy cannot take, with each protocol's "too many connections" (see
 * `PROXY_ENGINES`); the socket is closed after 5 s whatever the client does.
 */
function refuse(socket: Socket, engine: ProxyEngine, message: string): void {
  socket.on("error", () => socket.destroy());
  setTimeout(() => socket.destroy(), 5_000).unref();
  PROXY_ENGINES[engine].refuse(socket, message);
}

/** A MySQL client reads an ERR packet in place of the greeting. */
function refuseMysql(socket: Socket, message: string): void {
  socket.end(encodePacket(0, errPacket(ErrorCode.CON_COUNT, message)));
}

/**
 * A PostgreSQL client gets its SSLRequest declined and then the error, as PostgreSQL does it
 * (libpq reads an error during the SSL exchange as a failed exchange, not as the server's message).
 */
function refusePostgres(socket: Socket, message: string): void {
  const parser = new FrontendParser();
  const onData = (chunk: Buffer) => {
    for (let events = parser.push(chunk); events.length > 0; events = parser.push(Buffer.alloc(0))) {
      const first = events[0];
      if (
        first?.kind === "startup" &&
        (first.packet.kind === "SSLRequest" || first.packet.kind === "GSSENCRequest")
      ) {
        socket.write(sslResponse(false));
        parser.expectStartup();
        continue;
      }
      socket.off("data", onData);
      socket.end(errorResponse({ severity: "FATAL", code: SqlState.TooManyConnections, message }));
      return;
    }
  };
  socket.on("data", onData);
}

/** The proxy's side of each engine: how it serves a client, refuses one, and names its Unix socket. */
const PROXY_ENGINES: Readonly<
  Record<
    ProxyEngine,
    {
      serve(socket: Socket, ctx: TargetContext, onEnd: () => void): Promise<void>;
      refuse(socket: Socket, message: string): void;
      /** The file name its clients look for in a socket directory (libpq's, mysqld's). */
      unixSocketName(port: number): string;
    }
  >
> = {
  postgres: {
    serve: servePostgresClient,
    refuse: refusePostgres,
    unixSocketName: (port) => `.s.PGSQL.${port}`,
  },
  mysql: { serve: serveMysqlClient, refuse: refuseMysql, unixSocketName: (port) => `mysqld.${port}.sock` },
};

function listen(server: Server, where: { host: string; port: number } | { path: string }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(where, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/** Removes a Unix socket file left by a proxy that died; refuses one that something still listens on. */
async function clearStaleSocket(path: string): Promise<void> {
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const probe = netConnect({ path });
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
  if (alive) {
    throw new ProxyStartError(
      `${path} is in use by another process: stop it, or pick another --unix-socket-dir`,
    );
  }
  unlinkSync(path);
}

/**
 * `iamdb proxy`: local listeners that log in to their targets with auth tokens, so any
 * client (psql -w, GUI tools, pg_dump cron jobs, the mariadb CLI) connects with no
 * password. One token cache per target; one credential provider per AWS profile.
 */
export async function startProxy(
  config: ProxyConfig,
  options: StartProxyOptions = {},
): Promise<RunningProxy> {
  const providers = new Map<string, CredentialProvider>();
  const credentialsFor =
    options.credentials ??
    ((t: ProxyTargetConfig) => {
      const key = t.profile ?? "";
      let p = providers.get(key);
      if (p === undefined) {
        p = standardCredentials({ profile: t.profile });
        providers.set(key, p);
      }
      return p;
    });
  const names = config.targets.map(
    (t) => t.name ?? `${t.engine}:${t.target.host}:${t.target.port}${t.username ? `/${t.username}` : ""}`,
  );
  if (new Set(names).size !== names.length) {
    throw new ProxyConfigError('two targets have the same name: give each a distinct "name"');
  }
  const metrics = new ProxyMetrics(names, { processMetrics: options.processMetrics ?? true });
  const contexts: TargetContext[] = config.targets.map((t, i) => {
    const name = names[i] as string;
    if (t.region === undefined) {
      throw new ProxyConfigError(
        `target ${name}: no region: pass --region, set AWS_REGION, or set region in the profile`,
      );
    }
    let secureContext: TargetContext["secureContext"];
    try {
      secureContext = targetSecureContext(t.caFile);
    } catch (err) {
      throw new ProxyConfigError(`cannot read --ca-file ${t.caFile}: ${(err as Error).message}`);
    }
    return {
      config: t,
      name,
      region: t.region,
      secureContext,
      tlsSession: undefined,
      connectTimeoutMs: config.connectTimeoutMs,
      metrics,
      tokens: new TokenCache({
        hostname: t.tokenHost.host,
        port: t.tokenHost.port,
        username: t.username,
        region: t.region,
        credentials: credentialsFor(t),
        ...(options.now ? { now: options.now } : {}),
        onSign: (s) => metrics.signed(name, s.expiresAt),
      }),
    };
  });
  if (options.signAtStart ?? true) {
    for (const ctx of contexts) {
      try {
        await ctx.tokens.signed();
      } catch (err) {
        throw new ProxyStartError(`target ${ctx.name}: ${asLoginError(err).message}`);
      }
    }
  }

  const sessions = new Sessions();
  let open = 0;
  let draining = false;
  const servers: Server[] = [];
  const socketPaths: string[] = [];
  const listeners: ProxyListener[] = [];

  const accept = (ctx: TargetContext) => (socket: Socket) => {
    socket.setNoDelay(true);
    const engine = ctx.config.engine;
    if (draining || open >= config.maxConnections) {
      const reason = draining ? "draining" : "max-connections";
      metrics.refused(ctx.name, reason);
      refuse(
        socket,
        engine,
        draining
          ? "the iamdb proxy is shutting down"
          : `too many connections: the iamdb proxy allows ${config.maxConnections} at once (--max-connections)`,
      );
      log().warn({ target: ctx.name, reason }, "refused a client connection");
      return;
    }
    open++;
    metrics.accepted(ctx.name);
    let ended = false;
    const untrack = sessions.opened(() => socket.destroy());
    const onEnd = () => {
      if (ended) return;
      ended = true;
      open--;
      metrics.closed(ctx.name);
      untrack();
    };
    PROXY_ENGINES[engine].serve(socket, ctx, onEnd).catch((err: Error) => {
      log().error({ target: ctx.name, err: err.message }, "client connection failed");
      socket.destroy();
      onEnd();
    });
  };

  try {
    for (const ctx of contexts) {
      const t = ctx.config;
      const tcp = createServer({ pauseOnConnect: false }, accept(ctx));
      try {
        await listen(tcp, t.listen);
      } catch (err) {
        throw new ProxyStartError(
          `cannot listen on ${t.listen.host}:${t.listen.port} for ${ctx.name}: ${(err as Error).message}; pick another --listen port (or :0 for any free one)`,
        );
      }
      servers.push(tcp);
      const address = tcp.address();
      const port = typeof address === "object" && address ? address.port : t.listen.port;
      let socketPath: string | undefined;
      if (t.unixSocketDir !== undefined) {
        socketPath = join(t.unixSocketDir, PROXY_ENGINES[t.engine].unixSocketName(port));
        await clearStaleSocket(socketPath);
        const unix = createServer(accept(ctx));
        try {
          await listen(unix, { path: socketPath });
        } catch (err) {
          throw new ProxyStartError(
            `cannot listen on ${socketPath}: ${(err as Error).message}; check --unix-socket-dir`,
          );
        }
        // Whoever can connect logs in as the proxy's AWS identity: this user only.
        chmodSync(socketPath, 0o600);
        servers.push(unix);
        socketPaths.push(socketPath);
      }
      listeners.push({ name: ctx.name, engine: t.engine, host: t.listen.host, port, socketPath });
      log().info(
        {
          target: ctx.name,
          listen: `${t.listen.host}:${port}`,
          ...(socketPath ? { socket: socketPath } : {}),
          to: `${t.target.host}:${t.target.port}`,
          signedFor: `${t.tokenHost.host}:${t.tokenHost.port}`,
          user: t.username,
          region: ctx.region,
        },
        "iamdb proxy listening",
      );
    }
  } catch (err) {
    for (const s of servers) s.close();
    for (const p of socketPaths) if (existsSync(p)) unlinkSync(p);
    throw err;
  }

  const ready = async (): Promise<{ ok: boolean; detail: string }> => {
    if (draining) return { ok: false, detail: "draining" };
    const problems: string[] = [];
    for (const ctx of contexts) {
      try {
        await ctx.tokens.signed();
      } catch (err) {
        problems.push(`${ctx.name}: ${asLoginError(err).message}`);
      }
    }
    return problems.length === 0 ? { ok: true, detail: "ready" } : { ok: false, detail: problems.join("\n") };
  };

  let opsClose: (() => Promise<void>) | undefined;
  let opsUrl: string | undefined;
  if (config.ops !== undefined) {
    const limits = { maxConnections: 64, headersTimeoutMs: 5_000, requestTimeoutMs: 10_000 };
    const http = createHttpServer(httpServerOptions(limits), (req, res) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/metrics") {
        metrics.render().then(
          (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
          (err: Error) =>
            res.writeHead(500, { "content-type": "text/plain" }).end(`metrics unavailable: ${err.message}\n`),
        );
      } else if (path === "/healthz") {
        res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      } else if (path === "/readyz") {
        ready().then((r) =>
          res.writeHead(r.ok ? 200 : 503, { "content-type": "text/plain" }).end(`${r.detail}\n`),
        );
      } else {
        res
          .writeHead(404, { "content-type": "text/plain" })
          .end("not found: try /metrics, /healthz or /readyz\n");
      }
    });
    limitConnections(http, limits);
    try {
      await listen(http as unknown as Server, config.ops);
    } catch (err) {
      for (const s of servers) s.close();
      throw new ProxyStartError(
        `cannot listen on ${config.ops.host}:${config.ops.port} for --ops: ${(err as Error).message}`,
      );
    }
    const a = http.address();
    const host = config.ops.host.includes(":") ? `[${config.ops.host}]` : config.ops.host;
    opsUrl = `http://${host}:${typeof a === "object" && a ? a.port : config.ops.port}`;
    opsClose = () =>
      new Promise<void>((done) => {
        http.close(() => done());
        http.closeAllConnections();
      });
  }

  let stopped: Promise<void> | undefined;
  return {
    listeners,
    opsUrl,
    metrics,
    tokens: new Map(contexts.map((c) => [c.name, c.tokens])),
    get connections() {
      return open;
    },
    ready,
    stop(drainTimeoutMs = config.drainTimeoutMs) {
      stopped ??= (async () => {
        draining = true;
        // close() stops accepting at once; its callback waits for the open connections.
        const closed = Promise.all(servers.map((s) => new Promise<void>((done) => s.close(() => done()))));
        for (const p of socketPaths) if (existsSync(p)) unlinkSync(p);
        if (open > 0) log().info({ sessions: open, drainTimeoutMs }, "draining: waiting for sessions to end");
        await sessions.drain(drainTimeoutMs);
        await closed;
        await opsClose?.();
      })();
      return stopped;
    },
  };
}
