import { type Dialer, dialBackend, tcpDialer } from "../../gateway/dialer.js";
import type { BackendSpec, DbEngine } from "../../instances/types.js";
import { PacketParser, parseErrPacket, parseServerHandshake } from "../../wire/mysql/index.js";

/** Appended to the backend's version: a client (or its operator) can tell it talks through iamdb. */
export const VERSION_SUFFIX = "-iamdb";

/**
 * What the handshake announces before the backend has ever been reached. MariaDB before 11
 * prefixes its version with "5.5.5-" (for old replication clients); clients read "MariaDB"
 * in it to pick MariaDB behaviour.
 */
export function fallbackVersion(engine: DbEngine): string {
  return engine === "mariadb" ? `5.5.5-10.6.0-MariaDB${VERSION_SUFFIX}` : `8.0.36${VERSION_SUFFIX}`;
}

/** The backend's version as its own greeting says it (prefix included), with our suffix. */
export function announcedVersion(backendVersion: string): string {
  return backendVersion.endsWith(VERSION_SUFFIX) ? backendVersion : `${backendVersion}${VERSION_SUFFIX}`;
}

/**
 * Connects to the backend through `dialer` and reads its greeting (HandshakeV10, sent before any
 * authentication) for the server version, then hangs up. Rejects when the backend cannot
 * be reached in time or greets with an error (too many connections, host blocked).
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html
 */
export async function readBackendVersion(
  spec: BackendSpec,
  timeoutMs: number,
  dialer: Dialer = tcpDialer,
): Promise<string> {
  const socket = await dialBackend(dialer, spec, timeoutMs);
  try {
    return await new Promise<string>((resolve, reject) => {
      const parser = new PacketParser(64 * 1024);
      const timer = setTimeout(
        () => reject(new Error(`backend ${spec.host}:${spec.port} sent no greeting within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const done = (fn: () => void) => {
        clearTimeout(timer);
        try {
          fn();
        } catch (err) {
          reject(err);
        }
      };
      socket.on("data", (chunk: Buffer) => {
        for (const e of parser.push(chunk)) {
          if (e.kind === "error") return done(() => reject(new Error(`backend greeting: ${e.message}`)));
          return done(() => {
            if (e.payload[0] === 0xff)
              throw new Error(`backend refused: ${parseErrPacket(e.payload).message}`);
            resolve(parseServerHandshake(e.payload).serverVersion);
          });
        }
      });
      socket.once("close", () => done(() => reject(new Error("backend closed before its greeting"))));
    });
  } finally {
    socket.destroy();
  }
}

/**
 * The version each instance's handshake announces: the backend's own, so that clients which
 * choose features by version (MariaDB vs MySQL, 10.6 vs 10.11) choose right, as RDS Proxy
 * announces its target's. The handshake goes out before any backend connection, so the
 * version is learnt once — by reading the backend's greeting when the first client arrives,
 * waited for only briefly — and refreshed by every backend login (a backend upgraded under a
 * running gateway). Until it is known, the handshake announces {@link fallbackVersion}.
 */
export class ServerVersions {
  readonly #known = new Map<string, string>();
  readonly #probing = new Map<string, Promise<void>>();

  constructor(private readonly read: typeof readBackendVersion = readBackendVersion) {}

  /**
   * The version to announce to a client of `instance`. While none is known, reads the
   * backend's greeting (one probe at a time per instance), waiting at most `waitMs` for it;
   * a backend that is down or slow costs the client no more than that.
   */
  async forGreeting(
    instance: { identifier: string; engine: DbEngine; backend: BackendSpec },
    waitMs: number,
    probeTimeoutMs: number,
    dialer: Dialer = tcpDialer,
  ): Promise<string> {
    const known = this.#known.get(instance.identifier);
    if (known !== undefined) return known;
    let probe = this.#probing.get(instance.identifier);
    if (probe === undefined) {
      probe = this.read(instance.backend, probeTimeoutMs, dialer)
        .then((v) => this.learned(instance.identifier, v))
        // Unreachable now: the fallback is announced, and a later client probes again.
        .catch(() => undefined)
        .finally(() => this.#probing.delete(instance.identifier));
      this.#probing.set(instance.identifier, probe);
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([probe, new Promise((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
    return this.#known.get(instance.identifier) ?? fallbackVersion(instance.engine);
  }

  /** A backend greeting seen (by a probe or a login): what this instance announces from now on. */
  learned(identifier: string, backendVersion: string): void {
    this.#known.set(identifier, announcedVersion(backendVersion));
  }
}
