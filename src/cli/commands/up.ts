import { relative } from "node:path";
import { startIamdb } from "../../app/start.js";
import type { IamdbStatus } from "../../app/status.js";
import { log } from "../../log/logger.js";
import type { CliIO } from "../io.js";
import { type DeploymentOptions, deploymentConfig } from "./context.js";
import { checkPorts, listenFailure } from "./listenError.js";

function quickstart(s: IamdbStatus, accountId: string): string {
  const rel = (p: string) => {
    const r = relative(process.cwd(), p);
    return r.startsWith("..") ? p : r;
  };
  const pg = s.instances.find((i) => i.engine === "postgres");
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
  if (pg) {
    const host = pg.endpoints[0] ?? "localhost";
    const arn = `arn:aws:rds-db:${pg.region}:${accountId}:dbuser:${pg.dbiResourceId}/jane`;
    const dataDirFlag = `--data-dir ${rel(s.dataDir)}`;
    lines.push(
      "",
      "Quickstart, in another terminal (from this directory; `iamdb iam|sts|rds` use the admin profile above,",
      "or run the same commands with `aws --endpoint-url ... --profile ...` after exporting AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE):",
      `  ./bin/iamdb.js iam create-user --user-name jane ${dataDirFlag}`,
      `  ./bin/iamdb.js iam create-access-key --user-name jane ${dataDirFlag}        # note AccessKeyId and SecretAccessKey`,
      `  ./bin/iamdb.js iam put-user-policy --user-name jane --policy-name connect ${dataDirFlag} \\`,
      `      --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"${arn}"}]}'`,
      `  ./bin/iamdb.js db-user create --db-instance-identifier ${pg.identifier} --username jane ${dataDirFlag}`,
      "  export AWS_ACCESS_KEY_ID=<jane's key id> AWS_SECRET_ACCESS_KEY=<jane's secret>",
      `  TOKEN=$(aws rds generate-db-auth-token --hostname ${host} --port ${pg.port} --username jane --region ${pg.region})   # or: ./bin/iamdb.js token ...`,
      `  psql "host=${host} port=${pg.port} sslmode=verify-full sslrootcert=${pg.caFile ? rel(pg.caFile) : "CA.pem"} dbname=postgres user=jane password=$TOKEN"`,
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
  const running = await startIamdb(config).catch((err: unknown) => {
    throw listenFailure(err, config, opts.config) ?? err;
  });
  io.out(quickstart(running.status, config.accountId));
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log().info(
        `${signal}: no new connections; draining ${running.gateway.sessions.size} session(s) for up to ${config.gateway.drainTimeoutMs} ms`,
      );
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
      running.stop().then(resolve, resolve);
    };
    const onTerm = () => stop("SIGTERM");
    const onInt = () => stop("SIGINT");
    process.on("SIGTERM", onTerm);
    process.on("SIGINT", onInt);
  });
  log().info("iamdb stopped");
  return 0;
}
