// The per-instance `pool` field: defaults, transaction mode's limits, and what it refuses.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ConfigError, parseConfig } from "../../src/config/load.js";

const instance = (extra: object, engine = "postgres") =>
  parseConfig({
    instances: [
      {
        identifier: "db-1",
        engine,
        listen: { port: 0 },
        backend: { host: "127.0.0.1", port: 5432, adminUser: "postgres" },
        ...extra,
      },
    ],
  }).instances[0];

describe("pool configuration", () => {
  it("is session mode when absent or said", () => {
    assert.equal(instance({})?.pool, undefined);
    assert.equal(instance({ pool: { mode: "session" } })?.pool, undefined);
  });

  it("transaction mode takes the issue's defaults (20 backends, RDS Proxy's 120 s borrow timeout, pgbouncer's 200 statements)", () => {
    assert.deepEqual(instance({ pool: { mode: "transaction" } })?.pool, {
      mode: "transaction",
      maxBackendConnections: 20,
      borrowTimeoutMs: 120_000,
      maxPreparedStatements: 200,
    });
    assert.deepEqual(
      instance({
        pool: {
          mode: "transaction",
          maxBackendConnections: 3,
          borrowTimeoutMs: 500,
          maxPreparedStatements: 10,
        },
      })?.pool,
      { mode: "transaction", maxBackendConnections: 3, borrowTimeoutMs: 500, maxPreparedStatements: 10 },
    );
  });

  const refused: Array<[string, object, RegExp, string?]> = [
    [
      "an unknown mode",
      { pool: { mode: "statement" } },
      /pool\.mode must be one of "session", "transaction"/,
    ],
    ["an unknown field", { pool: { mode: "transaction", size: 3 } }, /pool has an unknown field "size"/],
    [
      "tuning in session mode",
      { pool: { maxBackendConnections: 3 } },
      /pool\.maxBackendConnections applies to transaction mode only/,
    ],
    [
      "zero backends",
      { pool: { mode: "transaction", maxBackendConnections: 0 } },
      /maxBackendConnections must be a whole number from 1/,
    ],
    [
      "a fractional timeout",
      { pool: { mode: "transaction", borrowTimeoutMs: 1.5 } },
      /borrowTimeoutMs must be a whole number/,
    ],
    [
      "zero statements",
      { pool: { mode: "transaction", maxPreparedStatements: 0 } },
      /maxPreparedStatements must be a whole number from 1/,
    ],
    [
      "sessionIdentity",
      { pool: { mode: "transaction" }, sessionIdentity: true },
      /cannot be combined with sessionIdentity/,
    ],
    ["a MySQL instance", { pool: { mode: "transaction" } }, /is for PostgreSQL instances/, "mysql"],
    ["not an object", { pool: "transaction" }, /pool must be an object/],
  ];
  for (const [what, extra, message, engine] of refused) {
    it(`refuses ${what} with a message that says what to do`, () => {
      assert.throws(
        () => instance(extra, engine),
        (err: unknown) => err instanceof ConfigError && message.test(err.message),
      );
    });
  }

  it("refuses transaction mode over the embedded backend", () => {
    assert.throws(
      () =>
        parseConfig({
          instances: [
            { identifier: "db-1", listen: { port: 0 }, backend: "embedded", pool: { mode: "transaction" } },
          ],
        }),
      /needs a server backend/,
    );
  });
});
