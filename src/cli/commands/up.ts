import { lookup } from "node:dns/promises";
import { relative } from "node:path";
import { startIamdb } from "../../app/start.js";
import type { IamdbStatus } from "../../app/status.js";
import { engineSpec, isDbEngine } from "../../engines/catalog.js";
import { log } from "../../log/logger.js";
import type { CliIO } from "../io.js";
import { untilStopSignal } from "../signals.js";
import { type DeploymentOptions, deploymentConfig, deploymentFlags } from "./context.js";
import { checkPorts, listenFailure } from "./listen-error.js";

/**
 * The first of `names` that resolves on this host (the quickstart's token must be signed for a
 * name psql can reach), or the first name with a note saying none does.
 */
export async function reachableEndpoint(
  names: readonly string[],
  resolve: (name: string) => Promise<unknown> = (name) => lookup(name),
): Promise<{ host: string; note?: string }> {
  for (const name of names) {
    try {
      await resolve(name);
      return name === names[0]
        ? { host: name }
        : {
            host: name,
            note: `the first endpoint, ${names[0]}, does not resolve on this host; signing for ${name}`,
          };
    } catch {
      // Not resolvable here: try the next name.
    }
  }
  const host = names[0] ?? "localhost";
  return {
    host,
    note: `none of the endpoint names (${names.join(", ")}) resolves on this host; the lines below use ${host}: use a name clients can resolve`,
  };
}

export interface QuickstartOptions {
  /** How the printed commands reach this deployment (`--config FILE` or `--data-dir DIR`). */
  readonly flags: string;
  /** The endpoint name to sign for and connect to, and why it was chosen when not the first. */
  readonly endpoint: { host: string; note?: string };
}

/** The first instance whose engine has a quickstart (PostgreSQL's psql), with its client command. */
function quickstartInstance(s: IamdbStatus) {
  for (const instance of s.instances) {
    const client = isDbEngine(instance.engine) ? engineSpec(instance.engine).quickstart : undefined;
    if (client !== undefined) return { instance, client };
  }
  return undefined;
}

/** What `iamdb up` prints: what runs, and a quickstart whose every command works as printed. */
export function quickstart(s: IamdbStatus, accountId: string, o: QuickstartOptions): string {
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r.startsWith("..") ? p : r;
  };
  const shown = quickstartInstance(s);
  const pg = shown?.instance;
  const lines = [
    "iamdb is running.",
    `  admin API   ${s.apiUrl}  (AWS profile "${s.adminCredentials.profile}" in ${rel(s.adminCredentials.credentialsFile)})`,
  ];
  for (const i of s.instances) {
    lines.push(
      `  ${i.engine.padEnd(10)}  ${i.identifier} on ${i.listen.host}:${i.listen.port}, endpoints ${i.endpoints.join(", ")}${i.backend.embedded ? " (embedded PostgreSQL backend)" : ` -> ${i.backend.host}:${i.backend.port}`}`,
    );
  }
  lines.push(
    `  metrics     ${s.opsUrl}/metrics`,
    `  auth log    ${rel(s.authLog)}`,
    `  CA file     ${pg?.caFile ? rel(pg.caFile) : "(operator-provided)"}`,
  );
  if (shown && pg) {
    const host = o.endpoint.host;
    const arn = `arn:aws:rds-db:${pg.region}:${accountId}:dbuser:${pg.dbiResourceId}/jane`;
    const dataDirFlag = o.flags;
    lines.push(
      "",
      ...(o.endpoint.note === undefined ? [] : [`(${o.endpoint.note})`]),
      "Quickstart, in another terminal (from this directory; `iamdb iam|sts|rds` use the admin profile above,",
      "or run the same commands with `aws --endpoint-url ... --profile ...` after exporting AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE):",
      `  ./bin/iamdb.js iam create-user --user-name jane ${dataDirFlag}`,
      `  ./bin/iamdb.js iam create-access-key --user-name jane ${dataDirFlag}        # note AccessKeyId and SecretAccessKey`,
      `  ./bin/iamdb.js iam put-user-policy --user-name jane --policy-name connect ${dataDirFlag} \\`,
      `      --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"${arn}"}]}'`,
      `  ./bin/iamdb.js db-user create --db-instance-identifier ${pg.identifier} --username jane ${dataDirFlag}`,
      "  export AWS_ACCESS_KEY_ID=<jane's key id> AWS_SECRET_ACCESS_KEY=<jane's secret>",
      `  TOKEN=$(aws rds generate-db-auth-token --hostname ${host} --port ${pg.port} --username jane --region ${pg.region})   # or: ./bin/iamdb.js token ...`,
      `  ${shown.client({ host, port: pg.port, caFile: pg.caFile ? rel(pg.caFile) : "CA.pem", database: pg.backend.database, user: "jane" })}`,
      `Refused? ./bin/iamdb.js doctor --db-instance-identifier ${pg.identifier} --username jane ${dataDirFlag}   # with jane's credentials: says which check fails and how to fix it`,
    );
  }
  return lines.join("\n");
}

/**
 * `iamdb up`: the store, admin API, gateway and (when no backend is configured) an embedded
 * PostgreSQL, until SIGTERM or SIGINT; then it stops accepting, drains sessions up to the
 * configured deadline, and exits 0.
 */
export async function upCommand(opts: DeploymentOptions, io: CliIO): Promise<number> {
  const config = deploymentConfig(opts);
  await checkPorts(config, opts.config);
  const running = await startIamdb(config, { commandFlags: deploymentFlags(opts, config, "absolute") }).catch(
    (err: unknown) => {
      throw listenFailure(err, config, opts.config) ?? err;
    },
  );
  const shown = quickstartInstance(running.status);
  io.out(
    quickstart(running.status, config.accountId, {
      flags: deploymentFlags(opts, config, "relative"),
      endpoint: await reachableEndpoint(shown?.instance.endpoints ?? []),
    }),
  );
  await untilStopSignal((signal) => {
    log().info(
      `${signal}: no new connections; draining ${running.gateway.sessions.size} session(s) for up to ${config.gateway.drainTimeoutMs} ms`,
    );
    return running.stop();
  });
  log().info("iamdb stopped");
  return 0;
}
