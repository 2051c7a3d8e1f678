import { readFileSync, statSync } from "node:fs";
import type { Socket } from "node:net";
import type { BackendSpec } from "../instances/types.js";
import { type BackendTls, dialBackend, orUnavailable, tcpDialer } from "./dialer.js";

/**
 * Opens the TCP connection to a backend within `timeoutMs` with the production dialer, its
 * failure worded by `unavailable` (for `iamdb proxy`'s targets; the gateway's engines dial
 * through their listener context's dialer). The socket keeps a listener for 'error' for its
 * whole life: a reset while nobody reads it must close it, not crash the process.
 */
export function connectBackendTcp(
  host: string,
  port: number,
  timeoutMs: number,
  unavailable: (message: string) => Error,
): Promise<Socket> {
  return orUnavailable(dialBackend(tcpDialer, { host, port }, timeoutMs), unavailable);
}

const caFiles = new Map<string, { mtimeMs: number; size: number; pem: Buffer }>();

/**
 * A backend's CA file, read once and again only when it changes (its modification time or
 * size), not at every backend TLS connection. A file that cannot be read throws, as reading
 * it would.
 */
export function backendCa(file: string): Buffer {
  const st = statSync(file);
  const cached = caFiles.get(file);
  if (cached && cached.mtimeMs === st.mtimeMs && cached.size === st.size) return cached.pem;
  const pem = readFileSync(file);
  caFiles.set(file, { mtimeMs: st.mtimeMs, size: st.size, pem });
  return pem;
}

/** How to secure a connection to `spec` (its CA file read through {@link backendCa}, so it may throw). */
export function backendTls(spec: BackendSpec): BackendTls {
  return {
    host: spec.host,
    port: spec.port,
    verify: spec.tls === "verify-full",
    ca: spec.caFile ? backendCa(spec.caFile) : undefined,
  };
}
