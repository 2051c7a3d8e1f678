import type { AccessKeyRepository, SessionRepository } from "../../iam/repository.js";
import type { SqlDriver } from "./driver.js";
import { accessKeyFromRow, encodeTags, sessionFromRow } from "./rows.js";

const KEY_COLUMNS =
  "access_key_id, user_id, secret, status, create_date, last_used_date, last_used_service, last_used_region";
const SESSION_COLUMNS =
  "access_key_id, secret, session_token, subject_kind, subject_id, session_name, session_policy, create_date, expires_at, session_policy_arns, session_tags, transitive_tag_keys, web_identity";

export function accessKeyQueries(db: SqlDriver): AccessKeyRepository {
  return {
    insertAccessKey: (k, maxPerUser) =>
      db.transaction(async (tx) => {
        // The user row lock serializes CreateAccessKey calls for one user, so the quota holds under concurrency.
        const user = await tx.get(`SELECT user_id FROM users WHERE user_id = ?${tx.forUpdate}`, [k.userId]);
        if (!user) return "missing";
        const count = await tx.get("SELECT COUNT(*) AS n FROM access_keys WHERE user_id = ?", [k.userId]);
        if (Number(count?.n ?? 0) >= maxPerUser) return "limit";
        await tx.run(
          `INSERT INTO access_keys (access_key_id, user_id, secret, status, create_date) VALUES (?, ?, ?, ?, ?)`,
          [k.accessKeyId, k.userId, k.sealedSecret, k.status, k.createDate.getTime()],
        );
        tx.notify({ scope: "credential", accessKeyId: k.accessKeyId });
        return "ok";
      }),

    getAccessKey: async (id) => {
      const r = await db.get(`SELECT ${KEY_COLUMNS} FROM access_keys WHERE access_key_id = ?`, [id]);
      return r && accessKeyFromRow(r);
    },

    listAccessKeys: async (userId) =>
      (
        await db.all(
          `SELECT ${KEY_COLUMNS} FROM access_keys WHERE user_id = ? ORDER BY create_date, access_key_id`,
          [userId],
        )
      ).map(accessKeyFromRow),

    updateAccessKeyStatus: (id, status) =>
      db.transaction(async (tx) => {
        const n = await tx.run("UPDATE access_keys SET status = ? WHERE access_key_id = ?", [status, id]);
        if (n > 0) tx.notify({ scope: "credential", accessKeyId: id });
        return n > 0;
      }),

    deleteAccessKey: (id) =>
      db.transaction(async (tx) => {
        const n = await tx.run("DELETE FROM access_keys WHERE access_key_id = ?", [id]);
        if (n > 0) tx.notify({ scope: "credential", accessKeyId: id });
        return n > 0;
      }),

    recordAccessKeyUse: async (id, when, service, region) => {
      // Bookkeeping only: a plain statement, no notification, so logins do not flush other caches.
      await db.run(
        `UPDATE access_keys SET last_used_date = ?, last_used_service = ?, last_used_region = ?
         WHERE access_key_id = ? AND (last_used_date IS NULL OR last_used_date <= ?)`,
        [when.getTime(), service, region, id, when.getTime()],
      );
    },
  };
}

export function sessionQueries(db: SqlDriver): SessionRepository {
  return {
    insertSession: (s) =>
      db.transaction(async (tx) => {
        const subjectId = s.subject.kind === "role" ? s.subject.roleId : s.subject.userId;
        const sessionName = s.subject.kind === "role" ? s.subject.sessionName : null;
        await tx.run(
          `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            s.accessKeyId,
            s.sealedSecret,
            s.sealedSessionToken,
            s.subject.kind,
            subjectId,
            sessionName,
            s.sessionPolicy ?? null,
            s.createDate.getTime(),
            s.expiresAt.getTime(),
            nonEmptyJson(s.sessionPolicyArns),
            s.sessionTags === undefined || s.sessionTags.length === 0 ? null : encodeTags(s.sessionTags),
            nonEmptyJson(s.transitiveTagKeys),
            s.webIdentity === undefined ? null : JSON.stringify(s.webIdentity),
          ],
        );
        tx.notify({ scope: "credential", accessKeyId: s.accessKeyId });
      }),

    getSession: async (id) => {
      const r = await db.get(`SELECT ${SESSION_COLUMNS} FROM sessions WHERE access_key_id = ?`, [id]);
      return r && sessionFromRow(r);
    },

    deleteExpiredSessions: (before) =>
      db.transaction(async (tx) => {
        const n = await tx.run("DELETE FROM sessions WHERE expires_at < ?", [before.getTime()]);
        if (n > 0) tx.notify({ scope: "all" });
        return n;
      }),
  };
}

/** A string list as JSON text; NULL for none, so sessions without them look like older rows. */
function nonEmptyJson(list: readonly string[] | undefined): string | null {
  return list === undefined || list.length === 0 ? null : JSON.stringify(list);
}
