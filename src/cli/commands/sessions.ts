import { callIamdb, child, type XmlNode } from "../admin/iamdb-client.js";
import { UsageError } from "../errors.js";
import type { CliIO } from "../io.js";
import { type AdminApiOptions, adminApiConnection } from "./context.js";
import { explainNotFound } from "./db-user.js";

export interface SessionsOptions extends AdminApiOptions {
  dbInstanceIdentifier?: string;
  principalArn?: string;
  accessKeyId?: string;
  sessionId?: string;
  dbUser?: string;
  json?: boolean;
}

/** One DBSessions / TerminatedSessions member as JSON (the API's names). */
function sessionJson(s: XmlNode) {
  const text = (name: string) => child(s, name)?.text;
  return {
    SessionId: text("SessionId"),
    DBInstanceIdentifier: text("DBInstanceIdentifier"),
    Engine: text("Engine"),
    DBUser: text("DBUser"),
    DatabaseName: text("DatabaseName"),
    PrincipalArn: text("PrincipalArn"),
    AccessKeyId: text("AccessKeyId"),
    TemporaryCredentials: text("TemporaryCredentials") === "true",
    CredentialExpiration: text("CredentialExpiration"),
    ClientAddress: text("ClientAddress"),
    StartTime: text("StartTime"),
    BackendReused: text("BackendReused") === "true",
    GatewayMemberId: text("GatewayMemberId"),
  };
}

/** A table a person reads: one session per line, the newest last. */
function table(rows: ReturnType<typeof sessionJson>[]): string {
  if (rows.length === 0) return "no live sessions";
  const cols = [
    ["SESSION", (r: (typeof rows)[number]) => r.SessionId ?? ""],
    ["INSTANCE", (r: (typeof rows)[number]) => r.DBInstanceIdentifier ?? ""],
    ["DB USER", (r: (typeof rows)[number]) => r.DBUser ?? ""],
    ["DATABASE", (r: (typeof rows)[number]) => r.DatabaseName ?? ""],
    ["PRINCIPAL", (r: (typeof rows)[number]) => r.PrincipalArn ?? ""],
    [
      "KEY",
      (r: (typeof rows)[number]) => `${r.AccessKeyId ?? ""}${r.TemporaryCredentials ? " (temporary)" : ""}`,
    ],
    ["CLIENT", (r: (typeof rows)[number]) => r.ClientAddress ?? ""],
    ["STARTED", (r: (typeof rows)[number]) => r.StartTime ?? ""],
  ] as const;
  const cells = [cols.map(([h]) => h), ...rows.map((r) => cols.map(([, f]) => f(r)))];
  const widths = cols.map((_, i) => Math.max(...cells.map((c) => (c[i] as string).length)));
  return cells
    .map((c) =>
      c
        .map((v, i) => v.padEnd(widths[i] as number))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/**
 * `iamdb sessions list|terminate`: the fleet's live sessions through the admin API's
 * `iamdb:ListDBSessions` / `iamdb:TerminateDBSessions` (any gateway answers for all of them).
 */
export async function sessionsCommand(action: string, opts: SessionsOptions, io: CliIO): Promise<number> {
  if (action !== "list" && action !== "terminate")
    throw new UsageError(`unknown sessions action ${action}: use list or terminate`);
  const { connection } = await adminApiConnection(opts);
  const params: Record<string, string> = {};
  if (opts.dbInstanceIdentifier !== undefined) params.DBInstanceIdentifier = opts.dbInstanceIdentifier;
  if (opts.principalArn !== undefined) params.PrincipalArn = opts.principalArn;
  if (opts.accessKeyId !== undefined) params.AccessKeyId = opts.accessKeyId;
  if (opts.sessionId !== undefined) params.SessionId = opts.sessionId;
  if (opts.dbUser !== undefined) params.DBUser = opts.dbUser;
  if (
    action === "terminate" &&
    !params.SessionId &&
    !params.AccessKeyId &&
    !params.PrincipalArn &&
    !params.DBUser
  ) {
    throw new UsageError(
      "name the sessions to end: --session-id, --access-key-id, --principal-arn or --db-user (see iamdb sessions list)",
    );
  }
  const apiAction = action === "list" ? "ListDBSessions" : "TerminateDBSessions";
  const result = await callIamdb(connection, apiAction, params).catch((err) =>
    explainNotFound(err, opts, connection),
  );
  const listName = action === "list" ? "DBSessions" : "TerminatedSessions";
  const rows = (child(result, listName)?.children ?? []).map(sessionJson);
  if (opts.json) io.out(JSON.stringify({ [listName]: rows }, null, 2));
  else if (action === "list") io.out(table(rows));
  else
    io.out(
      rows.length === 0
        ? "no live session matched; nothing was ended"
        : `ended ${rows.length} session(s):\n${table(rows)}`,
    );
  return 0;
}
