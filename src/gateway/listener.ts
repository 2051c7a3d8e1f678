import { createServer, type Server, type Socket } from "node:net";
import { log } from "../log/logger.js";
import type { DescriptorWatch } from "./descriptors.js";
import type { Engine, ListenerContext } from "./engine.js";

export interface RunningListener {
  readonly host: string;
  readonly port: number;
  /** Stops accepting; sessions already relaying go on. */
  stopAccepting(): Promise<void>;
}

/**
 * Accepts connections for one instance and hands each to its engine, after the admission
 * caps: connections still in their login phase, in total and per source address (checklist
 * item 21: thousands of simultaneous handshakes must not exhaust the gateway). A connection
 * leaves the pending count when its socket closes or its session starts relaying.
 */
export function startListener(
  engine: Engine,
  shared: Omit<ListenerContext, "relaying">,
  host: string,
  port: number,
  descriptors?: DescriptorWatch,
): Promise<RunningListener> {
  let pending = 0;
  const perSource = new Map<string, number>();
  /** How each connection still counted as pending leaves the count. */
  const releases = new WeakMap<Socket, () => void>();
  const ctx: ListenerContext = { ...shared, relaying: (socket) => releases.get(socket)?.() };
  const label = `gateway listener ${ctx.instance().identifier}`;
  const server: Server = createServer({ noDelay: true }, (socket: Socket) => {
    if (descriptors && !descriptors.admitsGateway(label)) {
      engine.refuse(socket, ctx, "out-of-descriptors");
      return;
    }
    const source = socket.remoteAddress ?? "unknown";
    const fromSource = perSource.get(source) ?? 0;
    if (pending >= ctx.limits.maxPendingLogins || fromSource >= ctx.limits.maxPendingLoginsPerSource) {
      engine.refuse(socket, ctx, "throttled");
      return;
    }
    pending++;
    perSource.set(source, fromSource + 1);
    log().trace({ listener: label, client: source, clientPort: socket.remotePort }, "connection accepted");
    let counted = true;
    const release = () => {
      if (!counted) return;
      counted = false;
      socket.off("close", release);
      releases.delete(socket);
      pending--;
      const n = (perSource.get(source) ?? 1) - 1;
      if (n <= 0) perSource.delete(source);
      else perSource.set(source, n);
    };
    socket.once("close", release);
    releases.set(socket, release);
    engine.handle(socket, ctx);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host, port }, () => {
      server.off("error", reject);
      // An accept that fails (EMFILE / ENFILE) is an 'error' of the server: said and counted, never a crash.
      server.on("error", (err: NodeJS.ErrnoException) => {
        if (descriptors) descriptors.acceptFailed(label, err);
        else log().warn({ component: "listener", err }, `${label}: ${err.message}`);
      });
      const address = server.address();
      const actual = typeof address === "object" && address ? address.port : port;
      resolve({
        host,
        port: actual,
        // close() stops accepting at once; its callback waits for every connection, which is the drain's job.
        stopAccepting: async () => {
          server.close();
        },
      });
    });
  });
}
