// PostgreSQL cuts identifiers at NAMEDATALEN - 1 = 63 bytes without a word (issue 19,
// finding 11): two DB-user names that share their first 63 bytes would be one role. Refused in
// provisioning (a typed error saying what to do) and at the gateway login (the client sees the
// generic PAM failure, the auth log the cause). Against the machine's PostgreSQL.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { DbUserNameTooLong, postgresAccounts } from "../../src/engines/postgres/provision.js";
import { newDbPassword } from "../../src/instances/accounts.js";
import { pgClient, refusal } from "./clients.js";
import { MACHINE_PG, startTestGateway, type TestGateway } from "./fixture.js";

/** 63 bytes: the longest name PostgreSQL keeps whole. */
const PREFIX63 = `iamdb_gw_names_${"x".repeat(63 - 15)}`;
/** 64 bytes in ASCII; and 62 ASCII bytes plus a two-byte letter, 64 bytes in 63 characters. */
const LONG_ASCII = `${PREFIX63}A`;
const LONG_UTF8 = `${PREFIX63.slice(0, 62)}é`;

let gw: TestGateway;

async function roles(): Promise<string[]> {
  const c = new pg.Client({ ...MACHINE_PG, user: MACHINE_PG.adminUser });
  await c.connect();
  try {
    const r = await c.query<{ rolname: string }>(
      "select rolname from pg_roles where rolname like 'iamdb\\_gw\\_names\\_%' order by 1",
    );
    return r.rows.map((row) => row.rolname);
  } finally {
    await c.end();
  }
}

async function dropRoles(): Promise<void> {
  for (const r of await roles()) await postgresAccounts.drop(MACHINE_PG, r).catch(() => undefined);
}

before(async () => {
  assert.equal(Buffer.byteLength(PREFIX63), 63);
  assert.equal(Buffer.byteLength(LONG_UTF8), 64);
  await dropRoles();
  gw = await startTestGateway();
});

after(async () => {
  await gw?.close();
  await dropRoles();
});

describe("PostgreSQL names over 63 bytes", () => {
  it("provisioning refuses them with a typed error that says what to do, and creates nothing", async () => {
    for (const name of [LONG_ASCII, LONG_UTF8]) {
      for (const action of ["create", "enable", "rotate"] as const) {
        await assert.rejects(postgresAccounts[action](MACHINE_PG, name, newDbPassword()), (err: unknown) => {
          assert.ok(err instanceof DbUserNameTooLong, String(err));
          assert.match(err.message, /64 bytes.*63.*shorter name/);
          return true;
        });
      }
    }
    assert.deepEqual(await roles(), []);
    // 63 bytes is fine.
    await postgresAccounts.create(MACHINE_PG, PREFIX63, newDbPassword());
    assert.deepEqual(await roles(), [PREFIX63]);
  });

  it("the gateway refuses a login name over 63 bytes: PAM failure to the client, the cause in the auth log", async () => {
    // An account recorded before the check existed, for a name the backend would cut to PREFIX63.
    gw.accounts.put("pg1", LONG_ASCII, newDbPassword());
    const creds = await gw.userWithAccess("long-name-user", LONG_ASCII);
    const token = gw.token(LONG_ASCII, creds);
    const r = await refusal(pgClient(gw.port, LONG_ASCII, token, gw.caPem));
    assert.equal(r.code, "28000");
    assert.match(r.message, /PAM authentication failed for user/);
    const entry = gw.log().at(-1) as Record<string, unknown>;
    assert.equal(entry.cause, "db-user-name-too-long");
    assert.match(String(entry.detail), /64 bytes.*63/);
    assert.ok(!gw.logText().includes(token));
  });
});
