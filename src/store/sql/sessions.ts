import type { LiveSessionRecord, SessionFilter, SessionRepository } from "../../sessions/types.js";
import type { Row, SqlDriver } from "./driver.js";
import { date, num, str } from "./rows.js";

const SESSION_COLUMNS =
  "session_id, member_id, instance, principal_arn, access_key_id, db_user, info, started";

/** What does not get a column of its own. */
interface SessionInfo {
  engine: string;
  database: string;
  temporary: boolean;
  credentialExpiresAt?: number;
  client: string;
  backendReused: boolean;
}

function sessionFromRow(r: Row): LiveSessionRecord {
  const info = JSON.parse(str(r, "info")) as SessionInfo;
  return {
    sessionId: str(r, "session_id"),
    memberId: str(r, "member_id"),
    instance: str(r, "instance"),
    engine: info.engine,
    dbUser: str(r, "db_user"),
    database: info.database,
    principalArn: str(r, "principal_arn"),
    accessKeyId: str(r, "access_key_id"),
    temporary: info.temporary,
    ...(info.credentialExpiresAt === undefined
      ? {}
      : { credentialExpiresAt: new Date(info.credentialExpiresAt) }),
    client: info.client,
    started: date(r, "started"),
    backendReused: info.backendReused,
  };
}

function sessionParams(s: LiveSessionRecord): unknown[] {
  const info: SessionInfo = {
    engine: s.engine,
    database: s.database,
    temporary: s.temporary,
    ...(s.credentialExpiresAt === undefined ? {} : { credentialExpiresAt: s.credentialExpiresAt.getTime() }),
    client: s.client,
    backendReused: s.backendReused,
  };
  return [
    s.sessionId,
    s.memberId,
    s.instance,
    s.principalArn,
    s.accessKeyId,
    s.dbUser,
    JSON.stringify(info),
    s.started.getTime(),
  ];
}

/** `AND column = ?` for each field of the filter that is set. */
function filterSql(f: SessionFilter): { sql: string; params: unknown[] } {
  const columns: Array<[keyof SessionFilter, string]> = [
    ["sessionId", "s.session_id"],
    ["accessKeyId", "s.access_key_id"],
    ["principalArn", "s.principal_arn"],
    ["dbUser", "s.db_user"],
    ["instance", "s.instance"],
  ];
  let sql = "";
  const params: unknown[] = [];
  for (const [field, column] of columns) {
    const v = f[field];
    if (v === undefined) continue;
    sql += ` AND ${column} = ?`;
    params.push(v);
  }
  return { sql, params };
}

/** Live sessions and termination commands over any SQL driver (see `src/sessions/types.ts`). */
export function liveSessionQueries(db: SqlDriver): SessionRepository {
  return {
    putLiveSessions: async (rows) => {
      if (rows.length === 0) return;
      await db.transaction(async (tx) => {
        for (const s of rows) {
          await tx.run(
            `INSERT INTO live_sessions (${SESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (session_id) DO UPDATE SET info = excluded.info`,
            sessionParams(s),
          );
        }
      });
    },

    deleteLiveSessions: async (ids) => {
      for (let i = 0; i < ids.length; i += 500) {
        const batch = ids.slice(i, i + 500);
        await db.run(
          `DELETE FROM live_sessions WHERE session_id IN (${batch.map(() => "?").join(", ")})`,
          batch,
        );
      }
    },

    listLiveSessions: async (filter, aliveSince, limit) => {
      const f = filterSql(filter);
      return (
        await db.all(
          `SELECT ${SESSION_COLUMNS.split(", ")
            .map((c) => `s.${c}`)
            .join(", ")} FROM live_sessions s JOIN fleet_members m ON m.member_id = s.member_id
           WHERE m.heartbeat >= ?${f.sql} ORDER BY s.started, s.session_id LIMIT ?`,
          [aliveSince.getTime(), ...f.params, limit],
        )
      ).map(sessionFromRow);
    },

    countLiveSessions: async (principalArn, instance, exceptMember, aliveSince) => {
      const r = await db.get(
        `SELECT COUNT(*) AS n FROM live_sessions s JOIN fleet_members m ON m.member_id = s.member_id
         WHERE m.heartbeat >= ? AND s.principal_arn = ? AND s.instance = ? AND s.member_id <> ?`,
        [aliveSince.getTime(), principalArn, instance, exceptMember],
      );
      return r ? num(r, "n") : 0;
    },

    pruneLiveSessions: (aliveSince, memberId) =>
      db.run(
        `DELETE FROM live_sessions WHERE member_id = ? OR member_id NOT IN
         (SELECT member_id FROM fleet_members WHERE heartbeat >= ?)`,
        [memberId ?? "", aliveSince.getTime()],
      ),

    addSessionCommand: (command, pruneBefore) =>
      db.transaction(async (tx) => {
        await tx.run("DELETE FROM session_commands WHERE created < ?", [pruneBefore.getTime()]);
        await tx.run(
          "INSERT INTO session_commands (command_id, filter, requested_by, created) VALUES (?, ?, ?, ?)",
          [command.commandId, JSON.stringify(command.filter), command.requestedBy, command.created.getTime()],
        );
        tx.notify({ scope: "deployment", kind: "sessions" });
      }),

    listSessionCommands: async (since) =>
      (
        await db.all(
          "SELECT command_id, filter, requested_by, created FROM session_commands WHERE created >= ? ORDER BY created",
          [since.getTime()],
        )
      ).map((r) => ({
        commandId: str(r, "command_id"),
        filter: JSON.parse(str(r, "filter")) as SessionFilter,
        requestedBy: str(r, "requested_by"),
        created: date(r, "created"),
      })),
  };
}
