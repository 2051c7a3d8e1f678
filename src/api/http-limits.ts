import type { Server, ServerOptions } from "node:http";

/** Bounds for an HTTP endpoint facing clients that may be slow, many, or hostile. */
export interface HttpLimits {
  /** Connections open at once; beyond, new ones are closed at once. */
  readonly maxConnections: number;
  /** Time for a request's headers to arrive, counted from the connection (or the previous request). */
  readonly headersTimeoutMs: number;
  /** Time for a whole request, headers and body, to arrive; then 408 and the connection closed. */
  readonly requestTimeoutMs: number;
}

/**
 * The `createServer` options that enforce `limits`. Node checks its header and request
 * deadlines every `connectionsCheckingInterval` (30 s by default, which let a 1-byte-per-5-s
 * body live far past any deadline): checked here at a tenth of the shorter one, at most
 * once a second.
 * @see https://nodejs.org/api/http.html#httpcreateserveroptions-requestlistener
 */
export function httpServerOptions(limits: HttpLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: Math.max(
      50,
      Math.min(1000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 10)),
    ),
  };
}

/**
 * The connection cap, and an admission check asked for every new connection (the process's
 * descriptor reserve): a connection beyond either is closed before a byte is read.
 */
export function limitConnections(server: Server, limits: HttpLimits, admit?: () => boolean): void {
  server.maxConnections = limits.maxConnections;
  if (admit) {
    server.on("connection", (socket) => {
      if (!admit()) socket.destroy();
    });
  }
  // A connection dropped over the cap is no error of the server's.
  server.on("drop", () => undefined);
}
