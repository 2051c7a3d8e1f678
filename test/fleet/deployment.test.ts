// Deployment state in the store: one DbiResourceId however many gateways start at once, the
// master-key check, the one-time import of an earlier data directory, and DB accounts that
// survive concurrent commands (security review finding 5) with their passwords working.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startIamdb } from "../../src/app/start.js";
import { parseConfig } from "../../src/config/load.js";
import { DbUserService } from "../../src/engines/db-users.js";
import type { ChangeFeed } from "../../src/iam/repository.js";
import { SecretBox } from "../../src/iam/secret-box.js";
import { DbAccountStore } from "../../src/instances/accounts.js";
import { checkMasterKey, openDeployment } from "../../src/instances/deployment.js";
import { StoreInstanceRegistry } from "../../src/instances/registry.js";
import type { DeploymentRepository } from "../../src/instances/repository.js";
import type { BackendSpec, DbInstance } from "../../src/instances/types.js";
import { MasterKeyError, StoreError } from "../../src/store/errors.js";
import { openPostgresStore } from "../../src/store/postgres/open.js";
import type { StoreRepository } from "../../src/store/sql/repository.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";

const ADMIN = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };
const SCHEMA = `iamdb_dep_${randomBytes(4).toString("hex")}`;
const BACKEND: BackendSpec = {
  host: "127.0.0.1",
  port: 5432,
  database: "test",
  tls: "disable",
  adminUser: "postgres",
};
const USERS = Array.from({ length: 12 }, (_, i) => `iamdb_dep_u${i}`);

const instance = (identifier: string): DbInstance => ({
  identifier,
  engine: "postgres",
  region: "us-east-1",
  dbiResourceId: "",
  listen: { host: "127.0.0.1", port: 0 },
  endpoints: ["localhost"],
  port: 5432,
  iamAuthEnabled: true,
  tags: [],
  backend: BACKEND,
  createdAt: new Date(),
});

const stores: StoreRepository[] = [];
const openPg = async () => {
  const s = await openPostgresStore({ ...ADMIN, schema: SCHEMA });
  stores.push(s);
  return s;
};

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(ADMIN);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function dropAll(): Promise<void> {
  await admin(async (c) => {
    await c.query(`DROP SCHEMA IF EXISTS "${SCHEMA}" CASCADE`);
    for (const u of USERS) await c.query(`DROP ROLE IF EXISTS ${u}`);
  });
}

before(dropAll);
after(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  await dropAll();
});

describe("deployment state in a shared PostgreSQL store", () => {
  it("gateways starting at once: exactly one DbiResourceId wins, and a change reaches the other's memory", async () => {
    const [a, b, c] = await Promise.all([openPg(), openPg(), openPg()]);
    const registries = await Promise.all(
      [a, b, c].map((s) =>
        StoreInstanceRegistry.open({
          repo: s,
          changes: s.changes,
          configured: [instance("pg1")],
          accountId: "000000000000",
        }),
      ),
    );
    const ids = new Set(registries.map((r) => r.get("pg1")?.dbiResourceId));
    assert.equal(ids.size, 1);
    assert.match([...ids][0] ?? "", /^db-[A-Z0-9]{26}$/);
    await registries[0]?.setIamAuth("pg1", false);
    const deadline = Date.now() + 5_000;
    while (registries[2]?.get("pg1")?.iamAuthEnabled !== false && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.equal(registries[2]?.get("pg1")?.iamAuthEnabled, false);
    for (const r of registries) r.close();
  });

  it("a gateway with another master key refuses to start, naming both fingerprints", async () => {
    const s = await openPg();
    await checkMasterKey(s, Buffer.alloc(32, 1), "test store");
    await checkMasterKey(s, Buffer.alloc(32, 1), "test store");
    await assert.rejects(checkMasterKey(s, Buffer.alloc(32, 2), "test store"), (e: Error) => {
      assert.ok(e instanceof MasterKeyError);
      assert.match(e.message, /another master key \(fingerprint [0-9a-f]{16}\).*IAMDB_MASTER_KEY/);
      return true;
    });
  });

  it("20+ concurrent db-user creates and rotates lose nothing: every account is stored and its password logs in", async () => {
    const s = await openPg();
    const secrets = new SecretBox(randomBytes(32));
    const registry = await StoreInstanceRegistry.open({
      repo: s,
      changes: s.changes,
      configured: [instance("pg1")],
      accountId: "000000000000",
    });
    const accounts = new DbAccountStore(s, s.changes, secrets);
    const service = new DbUserService(registry, accounts, () => BACKEND);
    try {
      await Promise.all(USERS.map((u) => service.run("pg1", "create", u)));
      // Two rotations of each account at once, plus a third: 36 concurrent commands in all.
      await Promise.all(
        USERS.flatMap((u) => [service.run("pg1", "rotate", u), service.run("pg1", "rotate", u)]),
      );
      assert.deepEqual((await accounts.list("pg1")).map((a) => a.username).sort(), [...USERS].sort());
      for (const u of USERS) {
        const password = await accounts.password("pg1", u);
        assert.ok(password);
        // The machine's PostgreSQL trusts every login, so check the stored password against the verifier instead.
        const verifier = await admin(
          async (c) =>
            (await c.query("SELECT rolpassword FROM pg_authid WHERE rolname = $1", [u])).rows[0]?.rolpassword,
        );
        assert.ok(
          await scramMatches(verifier as string, password),
          `the stored password of ${u} is the backend's`,
        );
      }
    } finally {
      for (const u of USERS) await service.run("pg1", "delete", u).catch(() => undefined);
      registry.close();
      accounts.close();
    }
  });
});

/** Whether `password` matches a SCRAM-SHA-256 verifier as PostgreSQL stores it. */
async function scramMatches(verifier: string, password: string): Promise<boolean> {
  const { createHash, createHmac, pbkdf2Sync } = await import("node:crypto");
  const m = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!m) return false;
  const salted = pbkdf2Sync(password, Buffer.from(m[2] as string, "base64"), Number(m[1]), 32, "sha256");
  const stored = createHash("sha256")
    .update(createHmac("sha256", salted).update("Client Key").digest())
    .digest();
  return stored.toString("base64") === m[3];
}

describe("upgrading a data directory of an earlier iamdb", () => {
  it("imports instances.json and db-accounts.json once, then never reads them again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-legacy-"));
    const store = openSqliteStore({ dataDir: dir });
    try {
      const masterKey = randomBytes(32);
      const secrets = new SecretBox(masterKey);
      const dbi = "db-ABCDEFGHIJKLMNOPQRSTUVWXY0";
      writeFileSync(
        join(dir, "instances.json"),
        JSON.stringify({
          pg1: {
            dbiResourceId: dbi,
            iamAuthEnabled: false,
            tags: [{ key: "env", value: "prod" }],
            createdAt: "2026-01-01T00:00:00.000Z",
          },
        }),
      );
      writeFileSync(
        join(dir, "db-accounts.json"),
        JSON.stringify({
          version: 1,
          accounts: [
            {
              instance: "pg1",
              username: "jane",
              createdAt: "2026-01-02T00:00:00.000Z",
              rotatedAt: "2026-01-03T00:00:00.000Z",
              sealedPassword: secrets.seal("s3cret", "iamdb:db-account:pg1/jane"),
            },
          ],
        }),
      );
      const open = () =>
        openDeployment({
          repo: store,
          changes: store.changes,
          secrets,
          masterKey,
          storeName: "test",
          dataDir: dir,
          configured: [instance("pg1")],
          accountId: "000000000000",
        });
      const first = await open();
      assert.deepEqual(first.imported, { instances: 1, accounts: 1 });
      const pg1 = first.registry.get("pg1");
      assert.equal(pg1?.dbiResourceId, dbi);
      assert.equal(pg1?.iamAuthEnabled, false);
      assert.deepEqual(pg1?.tags, [{ key: "env", value: "prod" }]);
      assert.equal(await first.accounts.password("pg1", "jane"), "s3cret");
      first.close();
      assert.ok(!existsSync(join(dir, "instances.json")) && existsSync(join(dir, "instances.json.imported")));
      assert.ok(
        !existsSync(join(dir, "db-accounts.json")) && existsSync(join(dir, "db-accounts.json.imported")),
      );
      const second = await open();
      assert.deepEqual(second.imported, { instances: 0, accounts: 0 });
      assert.equal(second.registry.get("pg1")?.dbiResourceId, dbi);
      second.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("a store that cannot be reached", () => {
  it("at start: a clear error naming the store, nothing left running", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-nostore-"));
    try {
      const config = parseConfig({
        dataDir: dir,
        store: { type: "postgres", host: "127.0.0.1", port: 1, user: "postgres", database: "test" },
        api: { port: 0 },
        ops: { port: 0 },
        instances: [
          {
            identifier: "pg1",
            listen: { port: 0 },
            port: 0,
            backend: { host: "127.0.0.1", port: 5432, database: "test", adminUser: "postgres" },
          },
        ],
      });
      await assert.rejects(startIamdb(config), (e: Error) => {
        assert.ok(e instanceof StoreError, String(e));
        assert.match(e.message, /PostgreSQL store 127\.0\.0\.1:1\/test .*check that it is running/);
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("while running, with the change feed down: the instance is read from the store, and a failed read fails closed", async () => {
    const s = await openPg();
    let live = true;
    const feed: ChangeFeed = {
      subscribe: (l) => s.changes.subscribe(l),
      poll: () => undefined,
      get live() {
        return live;
      },
    };
    let down = false;
    const repo: DeploymentRepository = new Proxy(s, {
      get(target, prop, receiver) {
        if (prop === "getInstanceState" && down)
          return async () => {
            throw new Error("connection refused");
          };
        return Reflect.get(target, prop, receiver);
      },
    });
    const registry = await StoreInstanceRegistry.open({
      repo,
      changes: feed,
      configured: [instance("pg9")],
      accountId: "000000000000",
    });
    try {
      // Another gateway switches IAM off while this one hears nothing: with the feed down, the store is read.
      live = false;
      await s.updateInstanceState("pg9", (x) => ({ ...x, iamAuthEnabled: false }));
      assert.equal((await registry.current("pg9"))?.iamAuthEnabled, false);
      down = true;
      await assert.rejects(registry.current("pg9"), /connection refused/);
    } finally {
      registry.close();
    }
  });
});
