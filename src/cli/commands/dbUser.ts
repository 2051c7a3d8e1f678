import { readStatus } from "../../app/status.js";
import type { Config } from "../../config/types.js";
import { mysqlAccounts } from "../../gateway/provision/mysql.js";
import { ProvisionError, postgresAccounts } from "../../gateway/provision/postgres.js";
import { SecretBox } from "../../iam/secret-box.js";
import { DbAccountStore, newDbPassword } from "../../instances/accounts.js";
import type { BackendSpec } from "../../instances/types.js";
import { loadMasterKey } from "../../store/master-key.js";
import { UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { type DeploymentOptions, deploymentConfig } from "./context.js";

export interface DbUserOptions extends DeploymentOptions {
  dbInstanceIdentifier?: string;
  username?: string;
  keepRole?: boolean;
}

function backendFor(config: Config, identifier: string): { spec: BackendSpec; engine: string } {
  const instance = config.instances.find((i) => i.identifier === identifier);
  if (!instance) {
    throw new UserError(
      `DBInstance ${identifier} not found; the configured instances are: ${config.instances.map((i) => i.identifier).join(", ")}`,
    );
  }
  if (instance.backend.type === "server") {
    const { type: _t, ...spec } = instance.backend;
    return { spec, engine: instance.engine };
  }
  // The embedded backend exists only while `iamdb up` runs; its address is in the status file.
  const running = readStatus(config.dataDir)?.instances.find((i) => i.identifier === identifier);
  if (!running) {
    throw new UserError(
      `${identifier} uses the embedded PostgreSQL, which runs only with iamdb: start \`iamdb up\` first`,
    );
  }
  return {
    spec: {
      host: running.backend.host,
      port: running.backend.port,
      database: "postgres",
      tls: "disable",
      adminUser: "postgres",
    },
    engine: instance.engine,
  };
}

/**
 * `iamdb db-user create|enable|rotate|delete|list`: IAM-only DB accounts, the rds_iam way.
 * The gateway-held password is generated here, set on the backend, and sealed in the data
 * directory; nobody ever sees it.
 */
export async function dbUserCommand(action: string, opts: DbUserOptions, io: CliIO): Promise<number> {
  const config = deploymentConfig(opts);
  const identifier = opts.dbInstanceIdentifier;
  if (!identifier) throw new UsageError("--db-instance-identifier is required");
  const accounts = new DbAccountStore(
    config.dataDir,
    new SecretBox(loadMasterKey({ dataDir: config.dataDir })),
  );
  if (action === "list") {
    io.out(
      JSON.stringify(
        {
          DBUsers: accounts.list(identifier).map((a) => ({
            DBInstanceIdentifier: a.instance,
            Username: a.username,
            CreatedAt: a.createdAt,
            PasswordRotatedAt: a.rotatedAt,
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
  const { spec, engine } = backendFor(config, identifier);
  const provisioner = engine === "postgres" ? postgresAccounts : mysqlAccounts;
  try {
    switch (action) {
      case "create":
      case "enable":
      case "rotate": {
        const password = newDbPassword();
        await provisioner[action](spec, user, password);
        accounts.put(identifier, user, password);
        break;
      }
      case "delete":
        if (!opts.keepRole) await provisioner.drop(spec, user);
        if (!accounts.delete(identifier, user) && opts.keepRole) {
          throw new UserError(`"${user}" is not an IAM DB user of ${identifier}`);
        }
        break;
      default:
        throw new UsageError(`unknown db-user action ${action}: use create, enable, rotate, delete or list`);
    }
  } catch (err) {
    if (err instanceof ProvisionError) throw new UserError(err.message);
    throw err;
  }
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
