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
