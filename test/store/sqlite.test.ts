import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { SchemaTooNewError } from "../../src/store/errors.js";
import { MIGRATIONS } from "../../src/store/sql/migrations.js";
import { migrateSqlite } from "../../src/store/sqlite/migrate.js";
import { DEFAULT_SQLITE_FILE, openSqliteStore } from "../../src/store/sqlite/open.js";
import { FakeClock, serviceOver, tempDir } from "../iam/fixtures.js";
import { conformanceSuite } from "./conformance.js";

conformanceSuite("sqlite", {
  async open() {
    const t = tempDir();
    return {
      repo: openSqliteStore({ dataDir: t.dir }),
      second: async () => openSqliteStore({ dataDir: t.dir }),
      dispose: async () => t.remove(),
    };
  },
});

describe("sqlite store", () => {
  it("uses WAL and keeps the database file private (0600)", async () => {
    const t = tempDir();
    try {
      const repo = openSqliteStore({ dataDir: t.dir });
      await repo.close();
      const db = new Database(join(t.dir, DEFAULT_SQLITE_FILE));
      assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
      db.close();
      assert.equal(statSync(join(t.dir, DEFAULT_SQLITE_FILE)).mode & 0o777, 0o600);
    } finally {
      t.remove();
    }
  });

  it("records migrations once in schema_migrations and refuses a newer schema", async () => {
    const t = tempDir();
    try {
      await openSqliteStore({ dataDir: t.dir }).close();
      await openSqliteStore({ dataDir: t.dir }).close();
      const file = join(t.dir, DEFAULT_SQLITE_FILE);
      const db = new Database(file);
      assert.deepEqual(db.prepare("SELECT version, name FROM schema_migrations ORDER BY version").all(), [
        { version: 1, name: "iam model" },
        { version: 2, name: "session policy arns and session tags" },
        { version: 3, name: "trust policy principals bound to unique ids" },
      ]);
      db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 0)").run();
      db.close();
      assert.throws(() => openSqliteStore({ dataDir: t.dir }), SchemaTooNewError);
    } finally {
      t.remove();
    }
  });

  it("upgrades a version-1 database: its sessions read back without policy ARNs or session tags", async () => {
    const t = tempDir();
    try {
      const v1 = new Database(join(t.dir, DEFAULT_SQLITE_FILE));
      assert.deepEqual(
        migrateSqlite(v1, () => new Date(0), MIGRATIONS.slice(0, 1)),
        [1],
      );
      v1.prepare(
        `INSERT INTO sessions (access_key_id, secret, session_token, subject_kind, subject_id, session_name,
           session_policy, create_date, expires_at) VALUES ('ASIAOLDSESSION000001', 's', 't', 'role', 'AROAX', 'old', '{}', 1, 2)`,
      ).run();
      v1.close();
      const repo = openSqliteStore({ dataDir: t.dir });
      const old = await repo.getSession("ASIAOLDSESSION000001");
      await repo.close();
      assert.equal(old?.sessionPolicy, "{}");
      assert.equal(old?.sessionPolicyArns, undefined);
      assert.equal(old?.sessionTags, undefined);
      assert.equal(old?.transitiveTagKeys, undefined);
    } finally {
      t.remove();
    }
  });

  it("keeps data across reopen", async () => {
    const t = tempDir();
    try {
      const clock = new FakeClock();
      const key = Buffer.alloc(32, 7);
      const a = serviceOver(openSqliteStore({ dataDir: t.dir }), clock, key);
      await a.createUser({ userName: "jane" });
      const k = await a.createAccessKey({ userName: "jane" });
      await a.close();
      const b = serviceOver(openSqliteStore({ dataDir: t.dir }), clock, key);
      assert.equal((await b.lookupCredential(k.accessKeyId))?.secretAccessKey, k.secretAccessKey);
      await b.close();
    } finally {
      t.remove();
    }
  });

  it("never writes a secret access key, session secret or session token in clear", async () => {
    const t = tempDir();
    try {
      const iam = serviceOver(openSqliteStore({ dataDir: t.dir }));
      await iam.createUser({ userName: "jane" });
      const k = await iam.createAccessKey({ userName: "jane" });
      const cred = await iam.lookupCredential(k.accessKeyId);
      assert.ok(cred);
      const s = await iam.getSessionToken({ caller: cred.principal });
      await iam.close();
      const needles = [k.secretAccessKey, s.credentials.secretAccessKey, s.credentials.sessionToken];
      // Every file SQLite may have written: the database, and any WAL or SHM left over.
      const files = readdirSync(t.dir).filter((f) => f.startsWith(DEFAULT_SQLITE_FILE));
      assert.ok(files.length > 0);
      for (const f of files) {
        const bytes = readFileSync(join(t.dir, f));
        for (const n of needles) {
          assert.equal(bytes.includes(Buffer.from(n, "utf8")), false, `${f} holds a secret in clear`);
        }
      }
      // The access key id itself is not secret and must be findable, proving we read real data.
      assert.ok(files.some((f) => readFileSync(join(t.dir, f)).includes(Buffer.from(k.accessKeyId))));
    } finally {
      t.remove();
    }
  });
});
