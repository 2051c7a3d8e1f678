import { readdirSync, readFileSync } from "node:fs";
import { log } from "../log/logger.js";

/** The soft RLIMIT_NOFILE from /proc/self/limits (Linux); Infinity when unlimited or unknown. */
export function openFileLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = line?.slice("Max open files".length).trim().split(/\s+/)[0];
    const n = Number(soft);
    return Number.isInteger(n) && n > 0 ? n : Number.POSITIVE_INFINITY;
  } catch {
    return Number.POSITIVE_INFINITY;
  }
}

/** Descriptors open in this process (/proc/self/fd, Linux); undefined where that cannot be read. */
export function openFileCount(): number | undefined {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return undefined;
  }
}

export interface DescriptorWatchOptions {
  /** Descriptors the admin API and ops endpoint leave to the gateway listeners. */
  readonly reserve: number;
  /** Where the operator hears of exhaustion (the message, no newline); the operational log (warn) by default. */
  readonly log?: (message: string) => void;
  /** Counts connections a listener could not take. */
  readonly onAcceptFailed?: () => void;
  readonly limit?: number;
  readonly count?: () => number | undefined;
  /** How stale a count may be. Default 100 ms. */
  readonly sampleMs?: number;
}

/**
 * Keeps a reserve of file descriptors for the gateway listeners and says when a listener
 * cannot accept (issue 19: ~20,000 half-sent admin-API requests took every descriptor, after
 * which gateway logins failed with nothing in any log). The admin API and the ops endpoint
 * take a new connection only while more than `reserve` descriptors remain; the gateway
 * listeners go on until `GATEWAY_FLOOR` remain, then refuse in their protocol's words (one
 * descriptor per refusal, briefly). Below that the OS accept fails (libuv accepts and closes
 * such connections itself, without telling Node): the watch still notices from the count,
 * and every failure is counted and said on stderr, at most once per `complainEveryMs`.
 */
export class DescriptorWatch {
  /** Descriptors the gateway keeps for refusing politely, and for a backend connection per login. */
  static readonly GATEWAY_FLOOR = 16;
  readonly limit: number;
  readonly #count: () => number | undefined;
  readonly #sampleMs: number;
  readonly #log: (line: string) => void;
  #sampledAt = Number.NEGATIVE_INFINITY;
  #open: number | undefined;
  /** Connections admitted since the last count. */
  #admitted = 0;
  #complainedAt = Number.NEGATIVE_INFINITY;
  #failed = 0;
  readonly complainEveryMs = 10_000;

  constructor(private readonly options: DescriptorWatchOptions) {
    this.limit = options.limit ?? openFileLimit();
    this.#count = options.count ?? openFileCount;
    this.#sampleMs = options.sampleMs ?? 100;
    this.#log = options.log ?? ((message) => log().warn({ component: "descriptors" }, message));
  }

  /**
   * Descriptors still free (Infinity when they cannot be counted): the last count, less the
   * connections admitted since. Counted again when the count is stale, and at every call once
   * few are left (a burst of accepts must not overshoot the reserve on a stale count).
   */
  remaining(): number {
    if (this.limit === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
    const now = performance.now();
    const estimate = this.#open === undefined ? undefined : this.limit - this.#open - this.#admitted;
    const close =
      estimate !== undefined && estimate <= 2 * (this.options.reserve + DescriptorWatch.GATEWAY_FLOOR);
    if (now - this.#sampledAt >= this.#sampleMs || (close && this.#admitted > 0)) {
      this.#sampledAt = now;
      this.#open = this.#count();
      this.#admitted = 0;
    }
    return this.#open === undefined ? Number.POSITIVE_INFINITY : this.limit - this.#open - this.#admitted;
  }

  /** Whether the admin API or ops endpoint may take a new connection (counted and said when not). */
  admitsAuxiliary(server: string): boolean {
    const left = this.remaining();
    if (left > this.options.reserve) {
      this.#admitted++;
      return true;
    }
    this.#refused(
      server,
      left,
      `fewer than ${this.options.reserve} descriptors are left, kept for gateway logins`,
    );
    return false;
  }

  /** Whether a gateway listener may take a new connection (counted and said when not). */
  admitsGateway(listener: string): boolean {
    const left = this.remaining();
    if (left > DescriptorWatch.GATEWAY_FLOOR) {
      this.#admitted++;
      return true;
    }
    this.#refused(listener, left, "the process is out of file descriptors");
    return false;
  }

  /** A listener's accept failed (EMFILE / ENFILE from the OS). */
  acceptFailed(listener: string, err: NodeJS.ErrnoException): void {
    this.#refused(listener, this.remaining(), `accept failed: ${err.code ?? err.message}`);
  }

  #refused(where: string, left: number, why: string): void {
    this.#failed++;
    this.options.onAcceptFailed?.();
    const now = performance.now();
    if (now - this.#complainedAt < this.complainEveryMs) return;
    this.#complainedAt = now;
    const open = Number.isFinite(left) ? `${this.limit - left} of ${this.limit} descriptors open` : "";
    this.#log(
      `${where} refused a connection: ${why} (${open}; ${this.#failed} refused since the last report). Raise the open-file limit (ulimit -n, systemd LimitNOFILE=) or lower api.maxConnections / ops.maxConnections / gateway.maxPendingLogins.`,
    );
    this.#failed = 0;
  }
}
