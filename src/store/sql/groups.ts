import type { GroupRepository } from "../../iam/repository.js";
import type { SqlDriver } from "./driver.js";
import { groupFromRow, nameKey, userFromRow } from "./rows.js";

const COLUMNS = "group_id, group_name, path, create_date";

export function groupQueries(db: SqlDriver): GroupRepository {
  return {
    insertGroup: (g) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          `INSERT INTO iam_groups (group_id, group_name, name_key, path, create_date)
           VALUES (?, ?, ?, ?, ?) ON CONFLICT (name_key) DO NOTHING`,
          [g.groupId, g.groupName, nameKey(g.groupName), g.path, g.createDate.getTime()],
        );
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),

    getGroupByName: async (name) => {
      const r = await db.get(`SELECT ${COLUMNS} FROM iam_groups WHERE name_key = ?`, [nameKey(name)]);
      return r && groupFromRow(r);
    },

    listGroups: async () =>
      (await db.all(`SELECT ${COLUMNS} FROM iam_groups ORDER BY name_key`)).map(groupFromRow),

    updateGroup: (groupId, patch) =>
      db.transaction(async (tx) => {
        const row = await tx.get(`SELECT ${COLUMNS} FROM iam_groups WHERE group_id = ?${tx.forUpdate}`, [
          groupId,
        ]);
        if (!row) return "missing";
        const cur = groupFromRow(row);
        const name = patch.groupName ?? cur.groupName;
        if (nameKey(name) !== nameKey(cur.groupName)) {
          if (await tx.get("SELECT 1 AS x FROM iam_groups WHERE name_key = ?", [nameKey(name)]))
            return "exists";
        }
        await tx.run("UPDATE iam_groups SET group_name = ?, name_key = ?, path = ? WHERE group_id = ?", [
          name,
          nameKey(name),
          patch.path ?? cur.path,
          groupId,
        ]);
        tx.notify({ scope: "all" });
        return "ok";
      }),

    deleteGroup: (groupId) =>
      db.transaction(async (tx) => {
        const row = await tx.get(`SELECT group_id FROM iam_groups WHERE group_id = ?${tx.forUpdate}`, [
          groupId,
        ]);
        if (!row) return "missing";
        if (await tx.get("SELECT 1 AS x FROM group_members WHERE group_id = ?", [groupId])) return "members";
        if (
          await tx.get("SELECT 1 AS x FROM inline_policies WHERE owner_kind = 'group' AND owner_id = ?", [
            groupId,
          ])
        )
          return "inlinePolicies";
        if (
          await tx.get("SELECT 1 AS x FROM policy_attachments WHERE owner_kind = 'group' AND owner_id = ?", [
            groupId,
          ])
        )
          return "attachedPolicies";
        await tx.run("DELETE FROM iam_groups WHERE group_id = ?", [groupId]);
        tx.notify({ scope: "all" });
        return "ok";
      }),

    addUserToGroup: (groupId, userId, maxGroupsPerUser) =>
      db.transaction(async (tx) => {
        // Lock both parents so a concurrent DeleteUser / DeleteGroup cannot slip past its conflict check.
        const user = await tx.get(`SELECT user_id FROM users WHERE user_id = ?${tx.forUpdate}`, [userId]);
        const group = await tx.get(`SELECT group_id FROM iam_groups WHERE group_id = ?${tx.forUpdate}`, [
          groupId,
        ]);
        if (!user || !group) return "missing";
        if (
          await tx.get("SELECT 1 AS x FROM group_members WHERE group_id = ? AND user_id = ?", [
            groupId,
            userId,
          ])
        )
          return "ok";
        const count = await tx.get("SELECT COUNT(*) AS n FROM group_members WHERE user_id = ?", [userId]);
        if (Number(count?.n ?? 0) >= maxGroupsPerUser) return "limit";
        await tx.run("INSERT INTO group_members (group_id, user_id) VALUES (?, ?)", [groupId, userId]);
        tx.notify({ scope: "all" });
        return "ok";
      }),

    removeUserFromGroup: (groupId, userId) =>
      db.transaction(async (tx) => {
        const n = await tx.run("DELETE FROM group_members WHERE group_id = ? AND user_id = ?", [
          groupId,
          userId,
        ]);
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),

    listGroupMembers: async (groupId) =>
      (
        await db.all(
          `SELECT u.user_id, u.user_name, u.path, u.create_date, u.tags, u.boundary_policy_id
           FROM group_members m JOIN users u ON u.user_id = m.user_id
           WHERE m.group_id = ? ORDER BY u.name_key`,
          [groupId],
        )
      ).map(userFromRow),

    listGroupsForUser: async (userId) =>
      (
        await db.all(
          `SELECT g.group_id, g.group_name, g.path, g.create_date
           FROM group_members m JOIN iam_groups g ON g.group_id = m.group_id
           WHERE m.user_id = ? ORDER BY g.name_key`,
          [userId],
        )
      ).map(groupFromRow),
  };
}
