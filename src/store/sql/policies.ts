import type { ManagedPolicyRepository } from "../../iam/repository.js";
import type { SqlDriver } from "./driver.js";
import { nameKey, POLICY_COLUMNS, policyFromRow, str, versionFromRow } from "./rows.js";

const VERSION_COLUMNS = "policy_id, version_id, document, create_date";

/**
 * Managed policies and their versions. Version ids count up and are never reused, like IAM's.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html
 */
export function policyQueries(db: SqlDriver): ManagedPolicyRepository {
  return {
    insertPolicy: (p, document) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          `INSERT INTO managed_policies (policy_id, policy_name, name_key, path, description, default_version_id,
             next_version, create_date, update_date)
           VALUES (?, ?, ?, ?, ?, 'v1', 2, ?, ?) ON CONFLICT (name_key) DO NOTHING`,
          [
            p.policyId,
            p.policyName,
            nameKey(p.policyName),
            p.path,
            p.description ?? null,
            p.createDate.getTime(),
            p.createDate.getTime(),
          ],
        );
        if (n === 0) return false;
        await tx.run(`INSERT INTO policy_versions (${VERSION_COLUMNS}) VALUES (?, 'v1', ?, ?)`, [
          p.policyId,
          document,
          p.createDate.getTime(),
        ]);
        tx.notify({ scope: "all" });
        return true;
      }),

    getPolicyByName: async (name) => {
      const r = await db.get(`SELECT ${POLICY_COLUMNS} FROM managed_policies p WHERE p.name_key = ?`, [
        nameKey(name),
      ]);
      return r && policyFromRow(r);
    },

    getPolicyById: async (id) => {
      const r = await db.get(`SELECT ${POLICY_COLUMNS} FROM managed_policies p WHERE p.policy_id = ?`, [id]);
      return r && policyFromRow(r);
    },

    listPolicies: async () =>
      (await db.all(`SELECT ${POLICY_COLUMNS} FROM managed_policies p ORDER BY p.name_key`)).map(
        policyFromRow,
      ),

    deletePolicy: (policyId) =>
      db.transaction(async (tx) => {
        const row = await tx.get(
          `SELECT default_version_id FROM managed_policies WHERE policy_id = ?${tx.forUpdate}`,
          [policyId],
        );
        if (!row) return "missing";
        // @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html
        if (await tx.get("SELECT 1 AS x FROM policy_attachments WHERE policy_id = ?", [policyId]))
          return "attached";
        if (
          (await tx.get("SELECT 1 AS x FROM users WHERE boundary_policy_id = ?", [policyId])) ||
          (await tx.get("SELECT 1 AS x FROM roles WHERE boundary_policy_id = ?", [policyId]))
        )
          return "boundary";
        const others = await tx.get(
          "SELECT 1 AS x FROM policy_versions WHERE policy_id = ? AND version_id <> ?",
          [policyId, str(row, "default_version_id")],
        );
        if (others) return "versions";
        await tx.run("DELETE FROM policy_versions WHERE policy_id = ?", [policyId]);
        await tx.run("DELETE FROM managed_policies WHERE policy_id = ?", [policyId]);
        tx.notify({ scope: "all" });
        return "ok";
      }),

    insertPolicyVersion: (policyId, document, setAsDefault, when, maxVersions) =>
      db.transaction(async (tx) => {
        const row = await tx.get(
          `SELECT next_version FROM managed_policies WHERE policy_id = ?${tx.forUpdate}`,
          [policyId],
        );
        if (!row) return { outcome: "missing" as const };
        const count = await tx.get("SELECT COUNT(*) AS n FROM policy_versions WHERE policy_id = ?", [
          policyId,
        ]);
        if (Number(count?.n ?? 0) >= maxVersions) return { outcome: "limit" as const };
        const next = Number(row.next_version);
        const versionId = `v${next}`;
        await tx.run(`INSERT INTO policy_versions (${VERSION_COLUMNS}) VALUES (?, ?, ?, ?)`, [
          policyId,
          versionId,
          document,
          when.getTime(),
        ]);
        await tx.run(
          `UPDATE managed_policies SET next_version = ?, update_date = ?,
             default_version_id = CASE WHEN ? = 1 THEN ? ELSE default_version_id END
           WHERE policy_id = ?`,
          [next + 1, when.getTime(), setAsDefault ? 1 : 0, versionId, policyId],
        );
        if (setAsDefault) tx.notify({ scope: "all" });
        return { outcome: "ok" as const, versionId };
      }),

    getPolicyVersion: async (policyId, versionId) => {
      const p = await db.get("SELECT default_version_id FROM managed_policies WHERE policy_id = ?", [
        policyId,
      ]);
      if (!p) return undefined;
      const r = await db.get(
        `SELECT ${VERSION_COLUMNS} FROM policy_versions WHERE policy_id = ? AND version_id = ?`,
        [policyId, versionId],
      );
      return r && versionFromRow(r, str(p, "default_version_id"));
    },

    listPolicyVersions: async (policyId) => {
      const p = await db.get("SELECT default_version_id FROM managed_policies WHERE policy_id = ?", [
        policyId,
      ]);
      if (!p) return [];
      const rows = await db.all(`SELECT ${VERSION_COLUMNS} FROM policy_versions WHERE policy_id = ?`, [
        policyId,
      ]);
      const def = str(p, "default_version_id");
      // Newest first, as ListPolicyVersions answers; v10 sorts after v9, so compare numerically.
      return rows
        .map((r) => versionFromRow(r, def))
        .sort((a, b) => Number(b.versionId.slice(1)) - Number(a.versionId.slice(1)));
    },

    deletePolicyVersion: (policyId, versionId) =>
      db.transaction(async (tx) => {
        const p = await tx.get(
          `SELECT default_version_id FROM managed_policies WHERE policy_id = ?${tx.forUpdate}`,
          [policyId],
        );
        if (!p) return "missing";
        if (str(p, "default_version_id") === versionId) return "default";
        const n = await tx.run("DELETE FROM policy_versions WHERE policy_id = ? AND version_id = ?", [
          policyId,
          versionId,
        ]);
        return n > 0 ? "ok" : "missing";
      }),

    setDefaultPolicyVersion: (policyId, versionId, when) =>
      db.transaction(async (tx) => {
        const v = await tx.get("SELECT 1 AS x FROM policy_versions WHERE policy_id = ? AND version_id = ?", [
          policyId,
          versionId,
        ]);
        if (!v) return false;
        await tx.run(
          "UPDATE managed_policies SET default_version_id = ?, update_date = ? WHERE policy_id = ?",
          [versionId, when.getTime(), policyId],
        );
        tx.notify({ scope: "all" });
        return true;
      }),
  };
}
