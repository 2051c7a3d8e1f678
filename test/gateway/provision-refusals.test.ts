// db-user refuses to hand the backend's administrator to IAM, and hands a superuser over only
// with --allow-superuser (AllowSuperuser=true), on the machine's PostgreSQL and MariaDB.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import mysql from "mysql2/promise";
import pg from "pg";
import { AdminUserRefused, DbUserService } from "../../src/engines/db-users.js";
import { mysqlAccounts } from "../../src/engines/mysql/provision.js";
import { ProvisionError, postgresAccounts } from "../../src/engines/postgres/provision.js";
import type { DbAccountStore } from "../../src/instances/accounts.js";
import { MemoryInstanceRegistry } from "../../src/instances/memory.js";
import { instance } from "../api/helpers.js";
import { MACHINE_PG } from "./fixture.js";
import { MACHINE_MARIADB } from "./mysql-fixture.js";

const SUFFIX = `${process.pid}_${Date.now() % 100000}`;
const PG_SU = `iamdb_dr_su_${SUFFIX}`;
const PG_PLAIN = `iamdb_dr_plain_${SUFFIX}`;
const MY_SUPER = `iamdb_dr_super_${SUFFIX}`;
const MY_ALL = `iamdb_dr_all_${SUFFIX}`;
const MY_PLAIN = `iamdb_dr_plain_${SUFFIX}`;

async function pgAdmin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "postgres" });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function myAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
  const c = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", password: "" });
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

after(async () => {
  await pgAdmin(async (c) => {
    for (const r of [PG_SU, PG_PLAIN]) await c.query(`DROP ROLE IF EXISTS ${c.escapeIdentifier(r)}`);
  });
  await myAdmin(async (c) => {
    for (const u of [MY_SUPER, MY_ALL, MY_PLAIN]) await c.query("DROP USER IF EXISTS ?@'%'", [u]);
  });
});

const refusedSuperuser = (err: unknown) => {
  assert.ok(err instanceof ProvisionError, String(err));
  assert.match(err.message, /--allow-superuser/);
  assert.match(err.message, /full control of the backend/);
  return true;
};

describe("db-user and the backend administrator", () => {
  const registry = new MemoryInstanceRegistry(
    [
      instance("pgi", { backend: MACHINE_PG }),
      instance("myi", { engine: "mariadb", backend: MACHINE_MARIADB }),
    ],
    { accountId: "123456789012" },
  );
  // The refusal comes before any account is read or written.
  const service = new DbUserService(registry, {} as DbAccountStore, (id) => registry.get(id)?.backend);

  for (const [id, admin] of [
    ["pgi", "postgres"],
    ["myi", "root"],
  ] as const) {
    for (const action of ["create", "enable", "rotate", "delete"] as const) {
      it(`${id}: db-user ${action} of the administrator "${admin}" is refused and says why`, () => {
        assert.throws(
          () => service.run(id, action, admin),
          (err: Error) => {
            assert.ok(err instanceof AdminUserRefused);
            assert.match(err.message, new RegExp(`"${admin}" is the backend administrator of ${id}`));
            assert.match(err.message, /lock iamdb out of the backend: use another DB user/);
            return true;
          },
        );
      });
    }
  }

  it("the administrator still logs in afterwards (nothing was changed)", async () => {
    assert.equal(
      await pgAdmin(async (c) => (await c.query("select current_user as u")).rows[0].u),
      "postgres",
    );
  });
});

describe("db-user enable of a PostgreSQL SUPERUSER", () => {
  it("is refused without allowSuperuser, names the flag, and leaves the role untouched", async () => {
    await pgAdmin((c) =>
      c.query(`CREATE ROLE ${c.escapeIdentifier(PG_SU)} SUPERUSER LOGIN PASSWORD 'old-pw'`),
    );
    await assert.rejects(postgresAccounts.enable(MACHINE_PG, PG_SU, "new-pw-1"), refusedSuperuser);
    assert.deepEqual(await postgresAccounts.members(MACHINE_PG).then((m) => m.includes(PG_SU)), false);
    // create on the existing superuser points at enable and says it will need the flag.
    await assert.rejects(
      postgresAccounts.create(MACHINE_PG, PG_SU, "x"),
      /run db-user enable instead \(it is a SUPERUSER: enable refuses it without --allow-superuser\)/,
    );
  });

  it("is handed to IAM with allowSuperuser", async () => {
    await postgresAccounts.enable(MACHINE_PG, PG_SU, "new-pw-2", { allowSuperuser: true });
    assert.ok((await postgresAccounts.members(MACHINE_PG)).includes(PG_SU));
  });

  it("a role without SUPERUSER is enabled without the flag", async () => {
    await pgAdmin((c) => c.query(`CREATE ROLE ${c.escapeIdentifier(PG_PLAIN)} LOGIN`));
    await postgresAccounts.enable(MACHINE_PG, PG_PLAIN, "pw-3");
    assert.ok((await postgresAccounts.members(MACHINE_PG)).includes(PG_PLAIN));
  });
});

describe("db-user enable of a MariaDB superuser", () => {
  it("SUPER is refused without allowSuperuser and the account keeps its password", async () => {
    await myAdmin(async (c) => {
      await c.query("CREATE USER ?@'%' IDENTIFIED BY 'old-pw'", [MY_SUPER]);
      await c.query("GRANT SUPER ON *.* TO ?@'%'", [MY_SUPER]);
    });
    await assert.rejects(mysqlAccounts.enable(MACHINE_MARIADB, MY_SUPER, "new-pw-1"), (err) => {
      refusedSuperuser(err);
      assert.match((err as Error).message, /SUPER privilege/);
      return true;
    });
    const still = await mysql.createConnection({
      host: "127.0.0.1",
      port: 3306,
      user: MY_SUPER,
      password: "old-pw",
    });
    await still.end();
    await assert.rejects(
      mysqlAccounts.create(MACHINE_MARIADB, MY_SUPER, "x"),
      /enable refuses it without --allow-superuser/,
    );
  });

  it("ALL PRIVILEGES ON *.* is refused without allowSuperuser", async () => {
    await myAdmin(async (c) => {
      await c.query("CREATE USER ?@'%' IDENTIFIED BY 'old-pw'", [MY_ALL]);
      await c.query("GRANT ALL PRIVILEGES ON *.* TO ?@'%'", [MY_ALL]);
    });
    await assert.rejects(mysqlAccounts.enable(MACHINE_MARIADB, MY_ALL, "new-pw-1"), refusedSuperuser);
  });

  it("with allowSuperuser the superuser is handed over (its new password logs in)", async () => {
    await mysqlAccounts.enable(MACHINE_MARIADB, MY_SUPER, "new-pw-2", { allowSuperuser: true });
    const c = await mysql.createConnection({
      host: "127.0.0.1",
      port: 3306,
      user: MY_SUPER,
      password: "new-pw-2",
    });
    await c.end();
  });

  it("an account without SUPER or ALL PRIVILEGES is enabled without the flag", async () => {
    await myAdmin(async (c) => {
      await c.query("CREATE USER ?@'%' IDENTIFIED BY 'old-pw'", [MY_PLAIN]);
      await c.query("GRANT SELECT ON test.* TO ?@'%'", [MY_PLAIN]);
    });
    await mysqlAccounts.enable(MACHINE_MARIADB, MY_PLAIN, "pw-3");
  });
});
