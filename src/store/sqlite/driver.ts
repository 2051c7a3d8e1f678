import type { Database, Statement } from "better-sqlite3";
import type { ChangeFeed, Invalidation } from "../../iam/repository.js";
import { ChangeHub, coalesce } from "../sql/change-hub.js";
import type { Row, SqlDriver, SqlTransaction } from "../sql/driver.js";

/**
 * better-sqlite3 behind the async driver interface. The connection is synchronous, but an async
 * transaction body yields between statements; a statement issued by another caller in that gap
 * would land inside our open transaction (and could be rolled back with it, or read uncommitted
 * rows into a cache). So transactions are queued one at a time, and plain statements run at once
 * only when no transaction is open, otherwise they wait their turn.
 */
export class SqliteDriver implements SqlDriver {
  private readonly statements = new Map<string, Statement>();
  private readonly hub = new ChangeHub();
  private queue: Promise<unknown> = Promise.resolve();
  private inTransaction = false;
  private dataVersion: number;
  private readonly dataVersionStmt: Statement;
  readonly changes: ChangeFeed;

  constructor(private readonly db: Database) {
    this.dataVersionStmt = db.prepare("PRAGMA data_version").pluck();
    this.dataVersion = Number(this.dataVersionStmt.get());
    this.changes = {
      subscribe: (l) => this.hub.subscribe(l),
      poll: () => this.pollDataVersion(),
      live: true,
    };
  }

  /**
   * `PRAGMA data_version` changes when another connection (another process) commits; our own
   * commits are announced directly. Costs about a microsecond, so caches call it on every read.
   * @see https://www.sqlite.org/pragma.html#pragma_data_version
   */
  private pollDataVersion(): void {
    const v = Number(this.dataVersionStmt.get());
    if (v !== this.dataVersion) {
      this.dataVersion = v;
      this.hub.emit({ scope: "all" });
    }
  }

  private prepare(sql: string): Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private now<T>(fn: () => T): Promise<T> {
    if (!this.inTransaction) {
      try {
        return Promise.resolve(fn());
      } catch (e) {
        return Promise.reject(e);
      }
    }
    return this.enqueue(async () => fn());
  }

  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.queue.then(fn);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private direct = {
    all: (sql: string, params: readonly unknown[] = []) => this.prepare(sql).all(...params) as Row[],
    get: (sql: string, params: readonly unknown[] = []) =>
      this.prepare(sql).get(...params) as Row | undefined,
    run: (sql: string, params: readonly unknown[] = []) => this.prepare(sql).run(...params).changes,
  };

  all(sql: string, params?: readonly unknown[]): Promise<Row[]> {
    return this.now(() => this.direct.all(sql, params));
  }

  get(sql: string, params?: readonly unknown[]): Promise<Row | undefined> {
    return this.now(() => this.direct.get(sql, params));
  }

  run(sql: string, params?: readonly unknown[]): Promise<number> {
    return this.now(() => this.direct.run(sql, params));
  }

  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      const pending: Invalidation[] = [];
      const d = this.direct;
      const tx: SqlTransaction = {
        all: async (sql, params) => d.all(sql, params),
        get: async (sql, params) => d.get(sql, params),
        run: async (sql, params) => d.run(sql, params),
        // BEGIN IMMEDIATE takes the database write lock up front: nothing to lock row by row.
        forUpdate: "",
        notify: (c) => pending.push(c),
      };
      this.db.exec("BEGIN IMMEDIATE");
      this.inTransaction = true;
      try {
        const result = await fn(tx);
        this.db.exec("COMMIT");
        for (const c of coalesce(pending)) this.hub.emit(c);
        return result;
      } catch (e) {
        if (this.db.inTransaction) this.db.exec("ROLLBACK");
        throw e;
      } finally {
        this.inTransaction = false;
      }
    });
  }

  async close(): Promise<void> {
    await this.queue;
    this.db.close();
  }
}
