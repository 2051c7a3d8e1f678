import type { IamdbStatus } from "../../app/status.js";
import { readStatus } from "../../app/status.js";
import { resolveConnection } from "../admin/connection.js";
import { callIamdb, child, type XmlNode } from "../admin/iamdb-client.js";
import { UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { type DeploymentOptions, deploymentConfig } from "./context.js";

interface FleetMemberView {
  readonly memberNumber: number;
  readonly memberId: string;
  readonly version: string;
  readonly hostname: string;
  readonly pid: number;
  readonly apiUrl?: string | undefined;
  readonly opsUrl?: string | undefined;
  readonly started: string;
  readonly heartbeat: string;
  readonly listeners: Array<{ identifier: string; host: string; port: number }>;
}

const text = (n: XmlNode | undefined, name: string) => (n && child(n, name)?.text) ?? "";

/**
 * The state the store holds now, through the running gateway's admin API: each instance's IAM
 * switch and DbiResourceId (which `modify-db-instance` on any gateway changes) and the fleet.
 */
async function liveState(dataDir: string) {
  const connection = await resolveConnection({ dataDir }, process.env);
  const fleet = await callIamdb(connection, "DescribeGatewayFleet", {});
  const rds = await callIamdb(connection, "DescribeDBInstances", {}, { name: "rds", version: "2014-10-31" });
  const instances = new Map(
    (child(rds, "DBInstances")?.children ?? []).map((i) => [
      text(i, "DBInstanceIdentifier"),
      {
        dbiResourceId: text(i, "DbiResourceId"),
        iamAuthEnabled: text(i, "IAMDatabaseAuthenticationEnabled") === "true",
      },
    ]),
  );
  const members: FleetMemberView[] = (child(fleet, "Gateways")?.children ?? []).map((g) => ({
    memberNumber: Number(text(g, "MemberNumber")),
    memberId: text(g, "MemberId"),
    version: text(g, "Version"),
    hostname: text(g, "Hostname"),
    pid: Number(text(g, "Pid")),
    apiUrl: text(g, "ApiUrl") || undefined,
    opsUrl: text(g, "OpsUrl") || undefined,
    started: text(g, "StartTime"),
    heartbeat: text(g, "HeartbeatTime"),
    listeners: (child(g, "Listeners")?.children ?? []).map((l) => ({
      identifier: text(l, "DBInstanceIdentifier"),
      host: text(l, "Host"),
      port: Number(text(l, "Port")),
    })),
  }));
  return { instances, members };
}

/** `iamdb status [--json]`: what the `iamdb up` of this data directory is running, with the store's live state. */
export async function statusCommand(
  opts: DeploymentOptions & { json?: boolean },
  io: CliIO,
): Promise<number> {
  const config = deploymentConfig(opts);
  const started = readStatus(config.dataDir);
  if (!started) {
    throw new UserError(
      `iamdb is not running for data directory ${config.dataDir}; start it with \`npm start\` or \`iamdb up --data-dir ${config.dataDir}\``,
    );
  }
  let live: Awaited<ReturnType<typeof liveState>> | undefined;
  let liveError: string | undefined;
  try {
    live = await liveState(config.dataDir);
  } catch (err) {
    liveError = (err as Error).message;
  }
  const status: IamdbStatus & { live: boolean; fleet: FleetMemberView[] } = {
    ...started,
    instances: started.instances.map((i) => ({ ...i, ...live?.instances.get(i.identifier) })),
    live: live !== undefined,
    fleet: live?.members ?? [],
  };
  if (liveError !== undefined) {
    io.err(
      `iamdb: showing the state as of start (${started.startedAt}); the admin API did not answer: ${liveError}`,
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
        `DbiResourceId ${i.dbiResourceId}, IAM ${i.iamAuthEnabled ? "enabled" : "disabled"}, CA ${i.caFile ?? "(operator-provided)"}`,
    );
  }
  for (const m of status.fleet) {
    io.out(
      `gateway #${m.memberNumber} ${m.hostname} pid ${m.pid} (iamdb ${m.version}), API ${m.apiUrl ?? "-"}, ` +
        `listeners ${m.listeners.map((l) => `${l.identifier}@${l.host}:${l.port}`).join(", ")}, last heartbeat ${m.heartbeat}`,
    );
  }
  return 0;
}
