import { readStatus } from "../../app/status.js";
import { UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { type DeploymentOptions, deploymentConfig } from "./context.js";

/** `iamdb status [--json]`: what the `iamdb up` of this data directory is running. */
export async function statusCommand(
  opts: DeploymentOptions & { json?: boolean },
  io: CliIO,
): Promise<number> {
  const config = deploymentConfig(opts);
  const status = readStatus(config.dataDir);
  if (!status) {
    throw new UserError(
      `iamdb is not running for data directory ${config.dataDir}; start it with \`npm start\` or \`iamdb up --data-dir ${config.dataDir}\``,
    );
  }
  if (opts.json) {
    io.out(JSON.stringify(status, null, 2));
    return 0;
  }
  io.out(`iamdb (pid ${status.pid}) since ${status.startedAt}`);
  io.out(
    `admin API:   ${status.apiUrl}   (profile ${status.adminCredentials.profile} in ${status.adminCredentials.credentialsFile})`,
  );
  io.out(`metrics:     ${status.opsUrl}/metrics`);
  io.out(`auth log:    ${status.authLog}`);
  for (const i of status.instances) {
    io.out(
      `instance ${i.identifier} (${i.engine}): ${i.listen.host}:${i.listen.port}, endpoints ${i.endpoints.join(", ")}, ` +
        `IAM ${i.iamAuthEnabled ? "enabled" : "disabled"}, CA ${i.caFile ?? "(operator-provided)"}`,
    );
  }
  return 0;
}
