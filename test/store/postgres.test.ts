import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import pg from "pg";
import { SchemaTooNewError, StoreError } from "../../src/store/errors.js";
import { openPostgresStore } from "../../src/store/postgres/open.js";
import { conformanceSuite } from "./conformance.js";

/** The CI PostgreSQL: trust auth, database `test`. Each store gets its own schema, dropped at the end. */
const CONNECTION = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" } as const;
const RUN = `iamdb_test_${randomBytes(4).toString("hex")}`;
let counter = 0;
const schemas: string[] = [];

function newSchema(): string {
  const s = `${RUN}_${++counter}`;
  schemas.push(s);
  return s;
}

after(async () => {
  const client = new pg.Client(CONNECTION);
  await client.connect();
  for (const s of schemas) await client.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
  await client.end();
});

conformanceSuite("postgres", {
  async open() {
    const schema = newSchema();
    const opened: { close(): Promise<void> }[] = [];
    const open = async () => {
      const repo = await openPostgresStore({ ...CONNECTION, schema, maxConnections: 4 });
      opened.push(repo);
      return repo;
    };
    return {
      repo: await open(),
      second: open,
      dispose: async () => undefined,
    };
  },
});

describe("postgres store", () => {
  it("records migrations in its own schema, once, even when gateways start together", async () => {
    const schema = newSchema();
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStore({ ...CONNECTION, schema })));
    for (const s of stores) await s.close();
    const client = new pg.Client(CONNECTION);
    await client.connect();
    try {
      const rows = (
        await client.query(`SELECT version, name FROM "${schema}".schema_migrations ORDER BY version`)
      ).rows;
      assert.deepEqual(rows, [
        { version: 1, name: "iam model" },
        { version: 2, name: "session policy arns and session tags" },
        { version: 3, name: "trust policy principals bound to unique ids" },
      ]);
      await client.query(`INSERT INTO "${schema}".schema_migrations VALUES (99, 'future', 0)`);
    } finally {
      await client.end();
    }
    await assert.rejects(openPostgresStore({ ...CONNECTION, schema }), SchemaTooNewError);
  });

  it("rejects a schema name that is not a plain identifier", async () => {
    await assert.rejects(openPostgresStore({ ...CONNECTION, schema: 'x"; DROP TABLE y; --' }), StoreError);
  });

  it("stops caching while the LISTEN connection is down, and resumes after reconnecting", async () => {
    const schema = newSchema();
    const repo = await openPostgresStore({ ...CONNECTION, schema });
    try {
      assert.equal(repo.changes.live, true);
      let dropped = 0;
      repo.changes.subscribe((c) => {
        if (c.scope === "all") dropped++;
      });
      const admin = new pg.Client(CONNECTION);
      await admin.connect();
      await admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE pid <> pg_backend_pid() AND query ILIKE 'LISTEN "iamdb_${schema}"'`,
      );
      await admin.end();
      const start = Date.now();
      while (repo.changes.live || dropped === 0) {
        assert.ok(Date.now() - start < 2000, "listener loss not noticed");
        await new Promise((r) => setTimeout(r, 10));
      }
      while (!repo.changes.live) {
        assert.ok(Date.now() - start < 5000, "listener did not reconnect");
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(dropped >= 2, "caches are dropped on loss and again on reconnect");
    } finally {
      await repo.close();
    }
  });
});
