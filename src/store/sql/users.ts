import type { DeleteUserOutcome, UserRepository } from "../../iam/repository.js";
import type { SqlDriver } from "./driver.js";
import { encodeTags, nameKey, userFromRow } from "./rows.js";

const COLUMNS = "user_id, user_name, path, create_date, tags, boundary_policy_id";

export function userQueries(db: SqlDriver): UserRepository {
  return {
    insertUser: (u) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          `INSERT INTO users (user_id, user_name, name_key, path, create_date, tags, boundary_policy_id)
           VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name_key) DO NOTHING`,
          [
            u.userId,
            u.userName,
            nameKey(u.userName),
            u.path,
            u.createDate.getTime(),
            encodeTags(u.tags),
            u.permissionsBoundaryPolicyId ?? null,
          ],
        );
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),

    getUserByName: async (name) => {
      const r = await db.get(`SELECT ${COLUMNS} FROM users WHERE name_key = ?`, [nameKey(name)]);
      return r && userFromRow(r);
    },

    getUserById: async (id) => {
      const r = await db.get(`SELECT ${COLUMNS} FROM users WHERE user_id = ?`, [id]);
      return r && userFromRow(r);
    },

    listUsers: async () => (await db.all(`SELECT ${COLUMNS} FROM users ORDER BY name_key`)).map(userFromRow),

    updateUser: (userId, patch) =>
      db.transaction(async (tx) => {
        const row = await tx.get(`SELECT ${COLUMNS} FROM users WHERE user_id = ?${tx.forUpdate}`, [userId]);
        if (!row) return "missing";
        const cur = userFromRow(row);
        const name = patch.userName ?? cur.userName;
        if (nameKey(name) !== nameKey(cur.userName)) {
          const taken = await tx.get("SELECT 1 AS x FROM users WHERE name_key = ?", [nameKey(name)]);
          if (taken) return "exists";
        }
        const boundary =
          patch.permissionsBoundaryPolicyId === undefined
            ? (cur.permissionsBoundaryPolicyId ?? null)
            : patch.permissionsBoundaryPolicyId;
        await tx.run(
          "UPDATE users SET user_name = ?, name_key = ?, path = ?, tags = ?, boundary_policy_id = ? WHERE user_id = ?",
          [name, nameKey(name), patch.path ?? cur.path, encodeTags(patch.tags ?? cur.tags), boundary, userId],
        );
        tx.notify({ scope: "all" });
        return "ok";
      }),

    deleteUser: (userId) =>
      db.transaction(async (tx): Promise<DeleteUserOutcome> => {
        const row = await tx.get(`SELECT user_id FROM users WHERE user_id = ?${tx.forUpdate}`, [userId]);
        if (!row) return "missing";
        // The order of AWS's checks; each names the first thing to remove.
        // @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_users_remove.html#id_users_deleting_cli
        if (await tx.get("SELECT 1 AS x FROM access_keys WHERE user_id = ?", [userId])) return "accessKeys";
        if (
          await tx.get("SELECT 1 AS x FROM inline_policies WHERE owner_kind = 'user' AND owner_id = ?", [
            userId,
          ])
        )
          return "inlinePolicies";
        if (
          await tx.get("SELECT 1 AS x FROM policy_attachments WHERE owner_kind = 'user' AND owner_id = ?", [
            userId,
          ])
        )
          return "attachedPolicies";
        if (await tx.get("SELECT 1 AS x FROM group_members WHERE user_id = ?", [userId])) return "groups";
        await tx.run("DELETE FROM sessions WHERE subject_kind = 'user' AND subject_id = ?", [userId]);
        await tx.run("DELETE FROM users WHERE user_id = ?", [userId]);
        tx.notify({ scope: "all" });
        return "ok";
      }),
  };
}
