import type { RoleRepository } from "../../iam/repository.js";
import type { SqlDriver } from "./driver.js";
import { encodeTags, nameKey, roleFromRow } from "./rows.js";

const COLUMNS =
  "role_id, role_name, path, create_date, trust_policy, trust_principal_ids, description, max_session_duration, tags, boundary_policy_id";

const encodeIds = (ids: Readonly<Record<string, string>> | undefined): string | null =>
  ids === undefined ? null : JSON.stringify(ids);

export function roleQueries(db: SqlDriver): RoleRepository {
  return {
    insertRole: (r) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          `INSERT INTO roles (role_id, role_name, name_key, path, create_date, trust_policy, trust_principal_ids,
             description, max_session_duration, tags, boundary_policy_id)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name_key) DO NOTHING`,
          [
            r.roleId,
            r.roleName,
            nameKey(r.roleName),
            r.path,
            r.createDate.getTime(),
            r.assumeRolePolicyDocument,
            encodeIds(r.trustPrincipalIds),
            r.description ?? null,
            r.maxSessionDuration,
            encodeTags(r.tags),
            r.permissionsBoundaryPolicyId ?? null,
          ],
        );
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),

    getRoleByName: async (name) => {
      const r = await db.get(`SELECT ${COLUMNS} FROM roles WHERE name_key = ?`, [nameKey(name)]);
      return r && roleFromRow(r);
    },

    getRoleById: async (id) => {
      const r = await db.get(`SELECT ${COLUMNS} FROM roles WHERE role_id = ?`, [id]);
      return r && roleFromRow(r);
    },

    listRoles: async () => (await db.all(`SELECT ${COLUMNS} FROM roles ORDER BY name_key`)).map(roleFromRow),

    updateRole: (roleId, patch) =>
      db.transaction(async (tx) => {
        const row = await tx.get(`SELECT ${COLUMNS} FROM roles WHERE role_id = ?${tx.forUpdate}`, [roleId]);
        if (!row) return false;
        const cur = roleFromRow(row);
        const boundary =
          patch.permissionsBoundaryPolicyId === undefined
            ? (cur.permissionsBoundaryPolicyId ?? null)
            : patch.permissionsBoundaryPolicyId;
        await tx.run(
          `UPDATE roles SET trust_policy = ?, trust_principal_ids = ?, description = ?, max_session_duration = ?,
             tags = ?, boundary_policy_id = ? WHERE role_id = ?`,
          [
            patch.assumeRolePolicyDocument ?? cur.assumeRolePolicyDocument,
            encodeIds(patch.trustPrincipalIds ?? cur.trustPrincipalIds),
            patch.description ?? cur.description ?? null,
            patch.maxSessionDuration ?? cur.maxSessionDuration,
            encodeTags(patch.tags ?? cur.tags),
            boundary,
            roleId,
          ],
        );
        tx.notify({ scope: "all" });
        return true;
      }),

    deleteRole: (roleId) =>
      db.transaction(async (tx) => {
        const row = await tx.get(`SELECT role_id FROM roles WHERE role_id = ?${tx.forUpdate}`, [roleId]);
        if (!row) return "missing";
        // @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage_delete.html
        if (
          await tx.get("SELECT 1 AS x FROM inline_policies WHERE owner_kind = 'role' AND owner_id = ?", [
            roleId,
          ])
        )
          return "inlinePolicies";
        if (
          await tx.get("SELECT 1 AS x FROM policy_attachments WHERE owner_kind = 'role' AND owner_id = ?", [
            roleId,
          ])
        )
          return "attachedPolicies";
        // A deleted role's sessions stop working at once, as in AWS, where they can no longer be authorized.
        await tx.run("DELETE FROM sessions WHERE subject_kind = 'role' AND subject_id = ?", [roleId]);
        await tx.run("DELETE FROM roles WHERE role_id = ?", [roleId]);
        tx.notify({ scope: "all" });
        return "ok";
      }),
  };
}
