import type { AttachedDocument, InlinePolicyRecord } from "../../iam/records.js";
import type { PolicyGraphRepository } from "../../iam/repository.js";
import type { Row, SqlDriver } from "./driver.js";
import { groupFromRow, POLICY_COLUMNS, policyFromRow, roleFromRow, str, userFromRow } from "./rows.js";

/** Owners whose policies apply to a user: the user and its groups. */
const USER_OWNERS = `((o.owner_kind = 'user' AND o.owner_id = ?)
  OR (o.owner_kind = 'group' AND o.owner_id IN (SELECT group_id FROM group_members WHERE user_id = ?)))`;

const ATTACHED = `SELECT o.owner_kind, o.owner_id, v.document, ${POLICY_COLUMNS}
  FROM policy_attachments o
  JOIN managed_policies p ON p.policy_id = o.policy_id
  JOIN policy_versions v ON v.policy_id = p.policy_id AND v.version_id = p.default_version_id`;

const BOUNDARY = `SELECT v.document, ${POLICY_COLUMNS}
  FROM managed_policies p
  JOIN policy_versions v ON v.policy_id = p.policy_id AND v.version_id = p.default_version_id
  WHERE p.policy_id = ?`;

const inlineOf = (r: Row): InlinePolicyRecord => ({
  policyName: str(r, "policy_name"),
  document: str(r, "document"),
});
const attachedOf = (r: Row): AttachedDocument => ({ policy: policyFromRow(r), document: str(r, "document") });

/**
 * Reads everything that decides a principal's permissions in a handful of indexed queries;
 * this runs on every cache miss of the authorization path.
 */
export function graphQueries(db: SqlDriver): PolicyGraphRepository {
  async function boundary(policyId: string | undefined): Promise<AttachedDocument | undefined> {
    if (policyId === undefined) return undefined;
    const r = await db.get(BOUNDARY, [policyId]);
    return r && attachedOf(r);
  }

  return {
    loadUserPolicyGraph: async (userId) => {
      const u = await db.get(
        "SELECT user_id, user_name, path, create_date, tags, boundary_policy_id FROM users WHERE user_id = ?",
        [userId],
      );
      if (!u) return undefined;
      const user = userFromRow(u);
      const groups = (
        await db.all(
          `SELECT g.group_id, g.group_name, g.path, g.create_date FROM group_members m
           JOIN iam_groups g ON g.group_id = m.group_id WHERE m.user_id = ? ORDER BY g.name_key`,
          [userId],
        )
      ).map(groupFromRow);
      const inline = await db.all(
        `SELECT o.owner_kind, o.owner_id, o.policy_name, o.document FROM inline_policies o
         WHERE ${USER_OWNERS} ORDER BY o.name_key`,
        [userId, userId],
      );
      const attached = await db.all(`${ATTACHED} WHERE ${USER_OWNERS} ORDER BY p.name_key`, [userId, userId]);
      const of = (rows: Row[], kind: string, id: string) =>
        rows.filter((r) => r.owner_kind === kind && r.owner_id === id);
      return {
        user,
        inline: of(inline, "user", userId).map(inlineOf),
        attached: of(attached, "user", userId).map(attachedOf),
        groups: groups.map((group) => ({
          group,
          inline: of(inline, "group", group.groupId).map(inlineOf),
          attached: of(attached, "group", group.groupId).map(attachedOf),
        })),
        boundary: await boundary(user.permissionsBoundaryPolicyId),
      };
    },

    loadRolePolicyGraph: async (roleId) => {
      const r = await db.get(
        `SELECT role_id, role_name, path, create_date, trust_policy, description, max_session_duration, tags,
           boundary_policy_id FROM roles WHERE role_id = ?`,
        [roleId],
      );
      if (!r) return undefined;
      const role = roleFromRow(r);
      const inline = await db.all(
        `SELECT policy_name, document FROM inline_policies WHERE owner_kind = 'role' AND owner_id = ? ORDER BY name_key`,
        [roleId],
      );
      const attached = await db.all(
        `${ATTACHED} WHERE o.owner_kind = 'role' AND o.owner_id = ? ORDER BY p.name_key`,
        [roleId],
      );
      return {
        role,
        inline: inline.map(inlineOf),
        attached: attached.map(attachedOf),
        boundary: await boundary(role.permissionsBoundaryPolicyId),
      };
    },
  };
}
