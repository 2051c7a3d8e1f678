import type { Connection } from "../admin/connection.js";
import { callIamdb, child, IamdbApiError } from "../admin/iamdb-client.js";
import { UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { type AdminApiOptions, adminApiConnection } from "./context.js";

export interface DbUserOptions extends AdminApiOptions {
  dbInstanceIdentifier?: string;
  username?: string;
  keepRole?: boolean;
  allowSuperuser?: boolean;
}

const ACTIONS = {
  create: "CreateDBUser",
  enable: "EnableDBUser",
  rotate: "RotateDBUserPassword",
  delete: "DeleteDBUser",
  list: "ListDBUsers",
} as const;

/**
 * A DBInstanceNotFound from the admin API, with what to try: the instances that API serves, and
 * `--config` when the command ran without one (an instance declared in a configuration file is
 * served by the iamdb started with it, whose data directory the default one is not).
 */
export async function explainNotFound(
  err: unknown,
  opts: AdminApiOptions,
  connection: Connection,
): Promise<never> {
  if (!(err instanceof IamdbApiError) || err.code !== "DBInstanceNotFound") throw err;
  let served = "";
  try {
    const rds = await callIamdb(
      connection,
      "DescribeDBInstances",
      {},
      { name: "rds", version: "2014-10-31" },
    );
    const ids = (child(rds, "DBInstances")?.children ?? []).map(
      (i) => child(i, "DBInstanceIdentifier")?.text,
    );
    served = ` The admin API at ${connection.endpoint} serves ${ids.length === 0 ? "no instances" : ids.join(", ")} in ${connection.region}.`;
  } catch {
    // The hint is best effort; the error itself stands.
  }
  const hint =
    opts.config === undefined
      ? " If the instance is declared in a configuration file, pass the --config FILE that iamdb up runs with (or its --data-dir)."
      : " Check --db-instance-identifier against the instances in the configuration file, and --region.";
  throw new UserError(`${err.message}${served}${hint}`);
}

/**
 * `iamdb db-user create|enable|rotate|delete|list`: IAM-only DB accounts, the rds_iam way,
 * through the admin API's `iamdb` service (`iamdb:CreateDBUser` & co.), so any gateway of a
 * fleet serves them and the gateway-held password is made, set and sealed there; nobody ever
 * sees it. Signed with the data directory's administrator profile unless told otherwise.
 */
export async function dbUserCommand(action: string, opts: DbUserOptions, io: CliIO): Promise<number> {
  const identifier = opts.dbInstanceIdentifier;
  if (!identifier) throw new UsageError("--db-instance-identifier is required");
  if (!Object.hasOwn(ACTIONS, action)) {
    throw new UsageError(`unknown db-user action ${action}: use create, enable, rotate, delete or list`);
  }
  const apiAction = ACTIONS[action as keyof typeof ACTIONS];
  const { connection } = await adminApiConnection(opts);
  if (action === "list") {
    const result = await callIamdb(connection, apiAction, { DBInstanceIdentifier: identifier }).catch((err) =>
      explainNotFound(err, opts, connection),
    );
    const users = child(result, "DBUsers")?.children ?? [];
    io.out(
      JSON.stringify(
        {
          DBUsers: users.map((u) => ({
            DBInstanceIdentifier: child(u, "DBInstanceIdentifier")?.text,
            Username: child(u, "Username")?.text,
            CreatedAt: child(u, "CreateTime")?.text,
            PasswordRotatedAt: child(u, "PasswordRotateTime")?.text,
          })),
        },
        null,
        2,
      ),
    );
    return 0;
  }
  const user = opts.username;
  if (!user) throw new UsageError("--username is required");
  await callIamdb(connection, apiAction, {
    DBInstanceIdentifier: identifier,
    Username: user,
    ...(action === "delete" && opts.keepRole ? { KeepRole: "true" } : {}),
    ...(action === "enable" && opts.allowSuperuser ? { AllowSuperuser: "true" } : {}),
  }).catch((err) => explainNotFound(err, opts, connection));
  io.out(
    JSON.stringify(
      {
        DBUser: {
          DBInstanceIdentifier: identifier,
          Username: user,
          IAMDatabaseAuthentication: action === "delete" ? "removed" : "enabled",
        },
      },
      null,
      2,
    ),
  );
  return 0;
}
