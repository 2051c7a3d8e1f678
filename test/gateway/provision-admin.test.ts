// The administrator session both engines provision through: a backend it cannot log in to
// says which settings to check; a statement the backend refuses comes back in its words.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withMysqlAdmin } from "../../src/engines/mysql/provision.js";
import { ProvisionError, withAdmin } from "../../src/engines/postgres/provision.js";
import { MACHINE_PG } from "./fixture.js";
import { MACHINE_MARIADB } from "./mysql-fixture.js";

const unreachable =
  /^cannot log in to the backend 127\.0\.0\.1:1 as \w+: .+; check the instance's backend settings \(host, port, adminUser, adminPassword\)$/;

describe("provisioning as the administrator", () => {
  for (const [engine, spec, run] of [
    ["PostgreSQL", MACHINE_PG, (s: typeof MACHINE_PG, sql: string) => withAdmin(s, (c) => c.query(sql))],
    [
      "MariaDB",
      MACHINE_MARIADB,
      (s: typeof MACHINE_PG, sql: string) => withMysqlAdmin(s, (c) => c.query(sql)),
    ],
  ] as const) {
    it(`${engine}: an unreachable backend names the settings to check`, async () => {
      await assert.rejects(run({ ...spec, port: 1 }, "select 1"), (err: Error) => {
        assert.ok(err instanceof ProvisionError);
        assert.match(err.message, unreachable);
        return true;
      });
    });

    it(`${engine}: a refused statement comes back in the backend's words`, async () => {
      await assert.rejects(run(spec, "select * from no_such_table_here"), (err: Error) => {
        assert.ok(err instanceof ProvisionError);
        assert.match(err.message, /^the backend refused: .*no_such_table_here/);
        return true;
      });
    });
  }
});
