import { isIP, connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { destroySelf } from "./connection.js";

/** Where a backend listens. */
export interface BackendAddress {
  readonly host: string;
  readonly port: number;
}

/** How to secure a connection to a backend (from its `backend.tls` and `caFile`: see `backendTls`). */
export interface BackendTls extends BackendAddress {
  /** verify-full: the chain must end at `ca` (else Node's bundled roots) and name `host`. */
  readonly verify: boolean;
  readonly ca?: Buffer | undefined;
}

/** A backend connection could not be opened or secured. The message names the backend and says why. */
export class BackendDialError extends Error {
  constructor(
    message: string,
    readonly reason: "unreachable" | "timeout" | "tls",
  ) {
    super(message);
    this.name = "BackendDialError";
  }
}

/**
 * The seam between the engines and the network, after cloud-sql-proxy's `Dialer`: every
 * connection the gateway opens to a backend (logins, pooled and transaction-pool connections,
 * cancel requests, MySQL version probes) comes from the listener context's dialer. Production
 * uses {@link tcpDialer}; tests pass dialers that script the backend's bytes or fail the way a
 * network does (test/helpers/dialers.ts).
 *
 * TLS is a second step, not part of `connect`: both protocols agree on it in band first
 * (PostgreSQL's SSLRequest, MySQL's SSL capability and SSLRequest packet).
 */
export interface Dialer {
  /**
   * A connected stream to `address`. Rejects with a {@link BackendDialError} (any other error
   * is worded as the backend being unreachable); when `signal` aborts (the connect timeout),
   * gives up and closes whatever it opened.
   */
  connect(address: BackendAddress, signal: AbortSignal): Promise<Socket>;
  /**
   * TLS over `socket` once the protocol has agreed to it, verified as `tls` says. Rejects
   * with a {@link BackendDialError} (`tls`); the caller closes `socket` then.
   */
  secure(socket: Socket, tls: BackendTls): Promise<Socket>;
}

/** The words for a backend that could not be reached: its address and the system's reason. */
export function unreachable(address: BackendAddress, err: Error): BackendDialError {
  return new BackendDialError(
    `backend ${address.host}:${address.port} is unreachable: ${err.message}`,
    "unreachable",
  );
}

/** TCP with Nagle off, and TLS per the backend's settings: what the gateway uses outside tests. */
export const tcpDialer: Dialer = {
  connect(address, signal) {
    return new Promise((resolve, reject) => {
      const socket = netConnect({ host: address.host, port: address.port, noDelay: true });
      const onAbort = () => {
        socket.destroy();
        reject(
          new BackendDialError(
            `connecting to backend ${address.host}:${address.port} was given up`,
            "timeout",
          ),
        );
      };
      signal.addEventListener("abort", onAbort, { once: true });
      const onError = (err: Error) => {
        signal.removeEventListener("abort", onAbort);
        reject(unreachable(address, err));
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        signal.removeEventListener("abort", onAbort);
        socket.off("error", onError);
        resolve(socket);
      });
    });
  },
  secure: startBackendTls,
};

/**
 * TLS over a backend connection: SNI with the host's name (never an address, RFC 6066 §3),
 * verified when asked against the host as configured, name or address. (`host` is what Node
 * checks the certificate against when there is no SNI name; without it Node checks "localhost".)
 */
export function startBackendTls(socket: Socket, tls: BackendTls): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const secure = tlsConnect({
      socket,
      host: tls.host,
      servername: isIP(tls.host) === 0 ? tls.host : undefined,
      rejectUnauthorized: tls.verify,
      ...(tls.ca ? { ca: tls.ca } : {}),
    });
    // For the connection's whole life: a reset while nobody reads it must close it, not crash.
    secure.on("error", destroySelf);
    const onError = (err: Error) =>
      reject(new BackendDialError(`TLS to backend ${tls.host}:${tls.port} failed: ${err.message}`, "tls"));
    secure.once("error", onError);
    secure.once("secureConnect", () => {
      secure.off("error", onError);
      resolve(secure as unknown as Socket);
    });
  });
}

/**
 * `work`, with a failure to reach the backend (a {@link BackendDialError}) worded by
 * `unavailable`, the caller's error for it; any other error as it is.
 */
export async function orUnavailable<T>(
  work: Promise<T>,
  unavailable: (message: string) => Error,
): Promise<T> {
  try {
    return await work;
  } catch (err) {
    throw err instanceof BackendDialError ? unavailable(err.message) : err;
  }
}

/**
 * Opens a connection to `address` through `dialer` within `timeoutMs`. The timeout is here,
 * not in each dialer: a dialer that never answers is given up on all the same (its signal
 * aborted, and a socket it hands over late closed). The socket returned keeps a listener for
 * 'error' for its whole life: a reset while nobody reads it (between login steps, or after a
 * refused login) must close it, not crash the process.
 */
export function dialBackend(dialer: Dialer, address: BackendAddress, timeoutMs: number): Promise<Socket> {
  const controller = new AbortController();
  return new Promise((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      controller.abort();
      reject(
        new BackendDialError(
          `backend ${address.host}:${address.port} did not accept a connection within ${timeoutMs} ms`,
          "timeout",
        ),
      );
    }, timeoutMs);
    dialer.connect(address, controller.signal).then(
      (socket) => {
        clearTimeout(timer);
        // Not a closure: it would keep this promise's scope (timer, resolvers) for the socket's life.
        socket.on("error", destroySelf);
        if (settled) socket.destroy();
        else resolve(socket);
        settled = true;
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (settled) return;
        settled = true;
        if (err instanceof BackendDialError) reject(err);
        else reject(unreachable(address, err instanceof Error ? err : new Error(String(err))));
      },
    );
  });
}
