/**
 * Trust policies saved before iamdb bound principals to unique ids: bound at their first use,
 * then a principal deleted and re-created under the same name is no longer trusted.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { AccessDeniedError } from "../../src/iam/errors.js";
import type { Principal } from "../../src/iam/principal.js";
import { DEFAULT_SQLITE_FILE } from "../../src/store/sqlite/open.js";
import { ACCOUNT, sqliteService, trust } from "./fixtures.js";

describe("trust policies saved before principals were bound", () => {
  it("are bound at their first AssumeRole, and from then on match by unique id", async () => {
    const { iam, dir, dispose } = sqliteService();
    try {
      const jane = await iam.createUser({ userName: "jane" });
      await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: trust(jane.arn) });
      // As a database written by an earlier iamdb holds it.
      const db = new Database(join(dir, DEFAULT_SQLITE_FILE));
      db.prepare("UPDATE roles SET trust_principal_ids = NULL").run();
      const column = () =>
        (db.prepare("SELECT trust_principal_ids AS ids FROM roles").get() as { ids: string | null }).ids;
      assert.equal(column(), null);
      assert.equal((await iam.getRole({ roleName: "dba" })).assumeRolePolicyDocument, trust(jane.arn));

      const caller = (u: { userId: string; userName: string; arn: string }): Principal => ({
        type: "user",
        arn: u.arn,
        userId: u.userId,
        userName: u.userName,
      });
      const roleArn = `arn:aws:iam::${ACCOUNT}:role/dba`;
      await iam.assumeRole({ caller: caller(jane), roleArn, roleSessionName: "first" });
      assert.deepEqual(JSON.parse(column() ?? "null"), { [jane.arn]: jane.userId });

      await iam.deleteUser({ userName: "jane" });
      const impostor = await iam.createUser({ userName: "jane" });
      await assert.rejects(
        iam.assumeRole({ caller: caller(impostor), roleArn, roleSessionName: "second" }),
        AccessDeniedError,
      );
      db.close();
    } finally {
      await dispose();
    }
  });
});
