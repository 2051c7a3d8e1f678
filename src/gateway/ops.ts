import { createServer, type Server } from "node:http";
import { type HttpLimits, httpServerOptions, limitConnections } from "../api/http-limits.js";
import { log } from "../log/logger.js";
import type { GatewayMetrics } from "./metrics.js";

/** What `iamdb up` uses unless configured (config.ops): a scraper needs few connections. */
export const DEFAULT_OPS_LIMITS: HttpLimits = {
  maxConnections: 64,
  headersTimeoutMs: 5_000,
  requestTimeoutMs: 10_000,
};

export interface OpsServer {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * /metrics (Prometheus text, from the metrics' prom-client registry), /healthz (the process is up) and /readyz (every listener is
 * accepting and the gateway is not draining) on a port of their own, unauthenticated, so a
 * scraper or orchestrator needs no AWS credentials.
 */
export function startOpsServer(
  metrics: GatewayMetrics,
  ready: () => { ok: boolean; detail: string },
  host: string,
  port: number,
  limits: HttpLimits = DEFAULT_OPS_LIMITS,
  admitConnection?: () => boolean,
): Promise<OpsServer> {
  const server: Server = createServer(httpServerOptions(limits), (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (path === "/metrics") {
      metrics.render().then(
        (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
        (err: Error) => {
          // A collector failed (prom-client's process metrics read /proc): say so to the scraper.
          log().error({ err }, "/metrics could not be collected");
          res.writeHead(500, { "content-type": "text/plain" }).end(`metrics unavailable: ${err.message}\n`);
        },
      );
    } else if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const r = ready();
      res.writeHead(r.ok ? 200 : 503, { "content-type": "text/plain" }).end(`${r.detail}\n`);
    } else {
      res
        .writeHead(404, { "content-type": "text/plain" })
        .end("not found: try /metrics, /healthz or /readyz\n");
    }
  });
  server.keepAliveTimeout = 5000;
  limitConnections(server, limits, admitConnection);
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      const address = server.address();
      const actual = typeof address === "object" && address ? address.port : port;
      const shownHost = host.includes(":") ? `[${host}]` : host;
      resolve({
        url: `http://${shownHost}:${actual}`,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
