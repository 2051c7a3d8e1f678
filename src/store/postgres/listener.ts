import pg from "pg";
import type { Invalidation } from "../../iam/repository.js";
import { log } from "../../log/logger.js";
import type { ChangeHub } from "../sql/change-hub.js";

/** What travels in a NOTIFY payload: the sender (to skip our own echo) and the change. */
export interface ChangeMessage {
  readonly origin: string;
  readonly change: Invalidation;
}

/**
 * Holds one dedicated connection in LISTEN on the store's channel and forwards other processes'
 * changes to the local hub. While that connection is down nothing guarantees we hear of changes,
 * so `live` turns false (callers stop caching), everything cached is dropped, and it reconnects
 * with backoff; once listening again it drops everything once more, since changes may have been
 * missed in the gap.
 * @see https://www.postgresql.org/docs/current/sql-listen.html
 * @see https://www.postgresql.org/docs/current/sql-notify.html
 */
export class ChangeListener {
  private client: pg.Client | undefined;
  private closed = false;
  private retryMs = 100;
  private timer: NodeJS.Timeout | undefined;
  /** Failed reconnection attempts since the connection was lost (the first is a warning, the rest debug). */
  private failedReconnects = 0;
  private lostAt: number | undefined;
  live = false;

  constructor(
    private readonly config: pg.ClientConfig,
    private readonly channel: string,
    private readonly origin: string,
    private readonly hub: ChangeHub,
  ) {}

  /** Resolves once LISTEN is in effect; rejects if the first connection fails. */
  async start(): Promise<void> {
    await this.connect();
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    client.on("error", (err) => this.lost(client, err));
    client.on("end", () => this.lost(client));
    client.on("notification", (msg) => this.onNotification(msg.payload));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.channel}"`);
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
    this.client = client;
    this.retryMs = 100;
    this.live = true;
    this.hub.emit({ scope: "all" });
    if (this.lostAt !== undefined) {
      log().info(
        { component: "store", channel: this.channel, downMs: Math.round(performance.now() - this.lostAt) },
        "store change listener reconnected; caching is on again",
      );
      this.lostAt = undefined;
      this.failedReconnects = 0;
    }
  }

  private onNotification(payload: string | undefined): void {
    if (payload === undefined) return;
    let msg: ChangeMessage;
    try {
      msg = JSON.parse(payload) as ChangeMessage;
    } catch {
      // Not ours or garbled: the safe reading is "something changed".
      this.hub.emit({ scope: "all" });
      return;
    }
    if (msg.origin !== this.origin) this.hub.emit(msg.change);
  }

  private lost(client: pg.Client, err?: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    if (!this.closed) {
      this.lostAt = performance.now();
      log().warn(
        { component: "store", channel: this.channel, err },
        "store change listener lost its PostgreSQL connection; nothing is cached until it reconnects (check that the store's PostgreSQL is up and reachable)",
      );
    }
    this.live = false;
    this.hub.emit({ scope: "all" });
    client.end().catch(() => undefined);
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closed || this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.closed) return;
      this.connect().catch((err: Error) => {
        this.failedReconnects++;
        log()[this.failedReconnects === 1 ? "warn" : "debug"](
          { component: "store", channel: this.channel, err, attempt: this.failedReconnects },
          `store change listener could not reconnect; retrying every ${Math.min(this.retryMs * 2, 5000)} ms at most`,
        );
        this.retryMs = Math.min(this.retryMs * 2, 5000);
        this.scheduleReconnect();
      });
    }, this.retryMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    const c = this.client;
    this.client = undefined;
    this.live = false;
    if (c) await c.end().catch(() => undefined);
  }
}
