import { readFileSync, statSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { destroySelf } from "./connection.js";

/**
 * Opens the TCP connection to a backend within `timeoutMs`, for every engine. The socket
 * keeps a listener for 'error' for its whole life: a reset while nobody reads it (between
 * login steps, or after a refused login) must close it, not crash the process.
 */
export function connectBackendTcp(
  host: string,
  port: number,
  timeoutMs: number,
  unavailable: (message: string) => Error,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(unavailable(`backend ${host}:${port} did not accept a connection within ${timeoutMs} ms`));
    }, timeoutMs);
    const onError = (err: Error) => {
      clearTimeout(timer);
      reject(unavailable(`backend ${host}:${port} is unreachable: ${err.message}`));
    };
    socket.once("error", onError);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.off("error", onError);
      // Not a closure: it would keep this promise's scope (timer, resolvers) for the socket's life.
      socket.on("error", destroySelf);
      resolve(socket);
    });
  });
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
