import type { OwnerRef } from "../../iam/records.js";
import type { PolicyAttachmentRepository } from "../../iam/repository.js";
import type { SqlDriver, SqlTransaction } from "./driver.js";
import { nameKey, POLICY_COLUMNS, policyFromRow, str } from "./rows.js";

const OWNER_TABLE = {
  user: { table: "users", id: "user_id" },
  group: { table: "iam_groups", id: "group_id" },
  role: { table: "roles", id: "role_id" },
} as const;

/** Locks the owner row so a concurrent delete of the owner cannot miss what we add. */
async function lockOwner(tx: SqlTransaction, owner: OwnerRef): Promise<boolean> {
  const t = OWNER_TABLE[owner.kind];
  return (
    (await tx.get(`SELECT ${t.id} FROM ${t.table} WHERE ${t.id} = ?${tx.forUpdate}`, [owner.id])) !==
    undefined
  );
}

export function attachmentQueries(db: SqlDriver): PolicyAttachmentRepository {
  return {
    attachPolicy: (owner, policyId, maxAttached) =>
      db.transaction(async (tx) => {
        if (!(await lockOwner(tx, owner))) return "missing";
        const policy = await tx.get(
          `SELECT policy_id FROM managed_policies WHERE policy_id = ?${tx.forUpdate}`,
          [policyId],
        );
        if (!policy) return "missing";
        const already = await tx.get(
          "SELECT 1 AS x FROM policy_attachments WHERE owner_kind = ? AND owner_id = ? AND policy_id = ?",
          [owner.kind, owner.id, policyId],
        );
        if (already) return "ok";
        const count = await tx.get(
          "SELECT COUNT(*) AS n FROM policy_attachments WHERE owner_kind = ? AND owner_id = ?",
          [owner.kind, owner.id],
        );
        if (Number(count?.n ?? 0) >= maxAttached) return "limit";
        await tx.run("INSERT INTO policy_attachments (owner_kind, owner_id, policy_id) VALUES (?, ?, ?)", [
          owner.kind,
          owner.id,
          policyId,
        ]);
        tx.notify({ scope: "all" });
        return "ok";
      }),

    detachPolicy: (owner, policyId) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          "DELETE FROM policy_attachments WHERE owner_kind = ? AND owner_id = ? AND policy_id = ?",
          [owner.kind, owner.id, policyId],
        );
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),

    listAttachedPolicies: async (owner) =>
      (
        await db.all(
          `SELECT ${POLICY_COLUMNS} FROM policy_attachments x JOIN managed_policies p ON p.policy_id = x.policy_id
           WHERE x.owner_kind = ? AND x.owner_id = ? ORDER BY p.name_key`,
          [owner.kind, owner.id],
        )
      ).map(policyFromRow),

    putInlinePolicy: (owner, policyName, document) =>
      db.transaction(async (tx) => {
        if (!(await lockOwner(tx, owner))) return "missing";
        // Replacing keeps the original name's case only if the caller repeats it; AWS stores what it is given.
        await tx.run(
          `INSERT INTO inline_policies (owner_kind, owner_id, name_key, policy_name, document) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (owner_kind, owner_id, name_key)
           DO UPDATE SET policy_name = excluded.policy_name, document = excluded.document`,
          [owner.kind, owner.id, nameKey(policyName), policyName, document],
        );
        tx.notify({ scope: "all" });
        return "ok";
      }),

    getInlinePolicy: async (owner, policyName) => {
      const r = await db.get(
        "SELECT policy_name, document FROM inline_policies WHERE owner_kind = ? AND owner_id = ? AND name_key = ?",
        [owner.kind, owner.id, nameKey(policyName)],
      );
      return r && { policyName: str(r, "policy_name"), document: str(r, "document") };
    },

    deleteInlinePolicy: (owner, policyName) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          "DELETE FROM inline_policies WHERE owner_kind = ? AND owner_id = ? AND name_key = ?",
          [owner.kind, owner.id, nameKey(policyName)],
        );
        if (n > 0) tx.notify({ scope: "all" });
        return n > 0;
      }),

    listInlinePolicies: async (owner) =>
      (
        await db.all(
          "SELECT policy_name, document FROM inline_policies WHERE owner_kind = ? AND owner_id = ? ORDER BY name_key",
          [owner.kind, owner.id],
        )
      ).map((r) => ({ policyName: str(r, "policy_name"), document: str(r, "document") })),
  };
}
