import type { ChangeFeed, Invalidation } from "../../iam/repository.js";

/** A row as the driver returns it: SQLite gives numbers for integers, PostgreSQL strings for BIGINT. */
export type Row = Record<string, unknown>;

/**
 * The few operations the shared SQL repository needs. SQL is written once with `?`
 * placeholders and portable syntax (`ON CONFLICT`, `RETURNING`); each driver adapts it.
 */
export interface SqlExecutor {
  all(sql: string, params?: readonly unknown[]): Promise<Row[]>;
  get(sql: string, params?: readonly unknown[]): Promise<Row | undefined>;
  /** Returns the number of rows changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

export interface SqlTransaction extends SqlExecutor {
  /** Appended to a SELECT that must lock the rows it reads until commit ("" where the whole database is locked). */
  readonly forUpdate: string;
  /** Queues an invalidation, published only if the transaction commits. */
  notify(change: Invalidation): void;
}

export interface SqlDriver extends SqlExecutor {
  /** Runs `fn` in one transaction; rolls back if it throws. Serializable with respect to other writers of the same rows. */
  transaction<T>(fn: (tx: SqlTransaction) => Promise<T>): Promise<T>;
  readonly changes: ChangeFeed;
  close(): Promise<void>;
}
