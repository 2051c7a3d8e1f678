import { randomUUID } from "node:crypto";
import type pg from "pg";
import type { ChangeFeed, Invalidation } from "../../iam/repository.js";
import { ChangeHub, coalesce } from "../sql/change-hub.js";
import type { Row, SqlDriver, SqlTransaction } from "../sql/driver.js";
import { ChangeListener, type ChangeMessage } from "./listener.js";
import { toPositional } from "./placeholders.js";

/**
 * `pg` pool behind the async driver interface. Transactions run on one checked-out client at
 * READ COMMITTED; quota and conflict checks lock the parent row (`SELECT … FOR UPDATE`), which
 * serializes the writers that matter. Invalidations are sent with `pg_notify` inside the
 * transaction, so PostgreSQL delivers them exactly when (and only if) it commits.
 * @see https://www.postgresql.org/docs/current/sql-notify.html
 */
export class PostgresDriver implements SqlDriver {
  private readonly hub = new ChangeHub();
  private readonly origin = randomUUID();
  private readonly listener: ChangeListener;
  readonly changes: ChangeFeed;

  constructor(
    private readonly pool: pg.Pool,
    listenConfig: pg.ClientConfig,
    private readonly channel: string,
  ) {
    this.listener = new ChangeListener(listenConfig, channel, this.origin, this.hub);
    const listener = this.listener;
    this.changes = {
      subscribe: (l) => this.hub.subscribe(l),
      poll: () => undefined,
      get live() {
        return listener.live;
      },
    };
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  async all(sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return (await this.pool.query(toPositional(sql), [...params])).rows as Row[];
  }

  async get(sql: string, params: readonly unknown[] = []): Promise<Row | undefined> {
    return (await this.all(sql, params))[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await this.pool.query(toPositional(sql), [...params])).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const pending: Invalidation[] = [];
    const tx: SqlTransaction = {
      all: async (sql, params = []) => (await client.query(toPositional(sql), [...params])).rows as Row[],
      get: async (sql, params = []) =>
        (await client.query(toPositional(sql), [...params])).rows[0] as Row | undefined,
      run: async (sql, params = []) => (await client.query(toPositional(sql), [...params])).rowCount ?? 0,
      forUpdate: " FOR UPDATE",
      notify: (c) => pending.push(c),
    };
    let broken: Error | undefined;
    try {
      await client.query("BEGIN");
      const result = await fn(tx);
      const changes = coalesce(pending);
      for (const change of changes) {
        const msg: ChangeMessage = { origin: this.origin, change };
        await client.query("SELECT pg_notify($1, $2)", [this.channel, JSON.stringify(msg)]);
      }
      await client.query("COMMIT");
      for (const c of changes) this.hub.emit(c);
      return result;
    } catch (e) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      throw e;
    } finally {
      // A client whose rollback failed is in an unknown state: destroy it rather than reuse it.
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.listener.close();
    await this.pool.end();
  }
}
