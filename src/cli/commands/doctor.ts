import { generateAuthToken, TokenInputError } from "../../token/index.js";
import { resolveConnection } from "../admin/connection.js";
import { callIamdb, child, type XmlNode } from "../admin/iamdb-client.js";
import { resolveCredentials } from "../credentials.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { type DeploymentOptions, deploymentConfig } from "./context.js";
import { explainNotFound } from "./db-user.js";

export interface DoctorOptions extends DeploymentOptions {
  dbInstanceIdentifier?: string;
  /** A token to explain, or `-` to read it from stdin. */
  token?: string;
  /** With --token: the user the client logs in as (default: the token's DBUser). Alone: sign a token for it. */
  username?: string;
  /** The AWS profile whose credentials sign the token (--username without --token). */
  profile?: string;
  /** The region to sign the token for (default: the instance's). */
  region?: string;
  sourceIp?: string;
  endpointUrl?: string;
  json?: boolean;
}

const text = (n: XmlNode | undefined, name: string) => (n === undefined ? undefined : child(n, name)?.text);
const list = (n: XmlNode | undefined, name: string) =>
  n === undefined ? [] : (child(n, name)?.children ?? []);

/** The explanation as JSON: the admin API's ExplainDBLogin result, field for field. */
function toJson(x: XmlNode) {
  const token = child(x, "Token");
  const policy = child(x, "PolicyDecision");
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  return {
    WouldSucceed: text(x, "WouldSucceed") === "true",
    Cause: text(x, "Cause"),
    StatusCode: num(text(x, "StatusCode")),
    ErrorCode: text(x, "ErrorCode"),
    Detail: text(x, "Detail") ?? "",
    Fix: text(x, "Fix"),
    DBUser: text(x, "DBUser"),
    SourceIp: text(x, "SourceIp"),
    AccessKeyId: text(x, "AccessKeyId"),
    PrincipalArn: text(x, "PrincipalArn"),
    Resource: text(x, "Resource"),
    Token: {
      Valid: text(token, "Valid") === "true",
      Host: text(token, "Host"),
      Port: num(text(token, "Port")),
      DBUser: text(token, "DBUser"),
      AccessKeyId: text(token, "AccessKeyId"),
      KeyType: text(token, "KeyType"),
      Region: text(token, "Region"),
      SignedAt: text(token, "SignedAt"),
      ExpiresAt: text(token, "ExpiresAt"),
      SecondsLeft: num(text(token, "SecondsLeft")),
      SessionToken: text(token, "SessionToken"),
      Problems: list(token, "Problems").map((p) => p.text),
    },
    Steps: list(x, "Steps").map((s) => ({
      Name: text(s, "Name") ?? "",
      Outcome: text(s, "Outcome") ?? "",
      Cause: text(s, "Cause"),
      Detail: text(s, "Detail") ?? "",
    })),
    PolicyDecision:
      policy === undefined
        ? undefined
        : {
            Decision: text(policy, "Decision"),
            MatchedStatements: list(policy, "MatchedStatements").map((m) => ({
              Effect: text(m, "Effect"),
              PolicyType: text(m, "PolicyType"),
              PolicyName: text(m, "PolicyName"),
              Sid: text(m, "Sid"),
              StatementIndex: num(text(m, "StatementIndex")),
            })),
            MissingContextValues: list(policy, "MissingContextValues").map((v) => v.text),
          },
  };
}

export type DoctorReport = ReturnType<typeof toJson>;

const MARK: Readonly<Record<string, string>> = { pass: "ok  ", fail: "FAIL", skipped: "--  " };

/** The report as a person reads it: the token, each check, the deciding statements, the verdict and the fix. */
export function formatReport(identifier: string, r: DoctorReport): string {
  const t = r.Token;
  const lines = [`Login as "${r.DBUser}" to ${identifier}, from ${r.SourceIp} (nothing was logged in):`];
  lines.push(
    t.Host === undefined
      ? "  token:  not an RDS auth token"
      : `  token:  ${t.AccessKeyId} (${t.KeyType}) for ${t.Host}:${t.Port}, DB user ${t.DBUser}, region ${t.Region}, ` +
          `signed ${t.SignedAt}, expires ${t.ExpiresAt} (${(t.SecondsLeft ?? 0) >= 0 ? `${t.SecondsLeft} s left` : `${-(t.SecondsLeft ?? 0)} s ago`}), session token ${t.SessionToken}`,
  );
  if (r.PrincipalArn !== undefined) lines.push(`  signer: ${r.PrincipalArn} (its policies decide)`);
  lines.push(`  resource: ${r.Resource}`);
  const width = Math.max(...r.Steps.map((s) => s.Name.length));
  for (const s of r.Steps)
    lines.push(`  ${MARK[s.Outcome] ?? s.Outcome} ${s.Name.padEnd(width)}  ${s.Detail}`);
  const statements = r.PolicyDecision?.MatchedStatements ?? [];
  if (statements.length > 0) {
    lines.push(`  policy decision: ${r.PolicyDecision?.Decision}; statements that decided:`);
    for (const m of statements) {
      const which = m.Sid ? `"${m.Sid}" (#${m.StatementIndex})` : `#${m.StatementIndex}`;
      lines.push(`    ${m.Effect} statement ${which} of ${m.PolicyType} policy "${m.PolicyName ?? ""}"`);
    }
  }
  if (r.WouldSucceed) {
    lines.push("The login would succeed.");
  } else {
    lines.push(`The login would FAIL: ${r.Cause} (${r.ErrorCode}, status ${r.StatusCode}): ${r.Detail}`);
    if (r.Fix !== undefined) lines.push(`Fix: ${r.Fix}`);
  }
  return lines.join("\n");
}

/**
 * `iamdb doctor`: asks the running gateway, through the admin API's iamdb:ExplainDBLogin, what
 * it would do with this login, without logging in. With --username alone it signs the token
 * itself (the user's AWS credentials, as `iamdb token` finds them) for the instance's endpoint.
 * Exit 0 when the login would succeed, 1 when it would fail (the cause and the fix are printed).
 */
export async function doctorCommand(opts: DoctorOptions, io: CliIO): Promise<number> {
  const identifier = opts.dbInstanceIdentifier;
  if (!identifier) throw new UsageError("--db-instance-identifier is required");
  if (opts.token === undefined && opts.username === undefined) {
    throw new UsageError(
      "pass --token TOKEN (or --token - to read it from stdin), or --username USER to sign one",
    );
  }
  const config = deploymentConfig(opts);
  const connection = await resolveConnection(
    { dataDir: config.dataDir, ...(opts.endpointUrl === undefined ? {} : { endpointUrl: opts.endpointUrl }) },
    io.env,
  );
  let token = opts.token === "-" ? (await io.readStdin()).trim() : opts.token;
  if (token === "") throw new UsageError("--token - read an empty stdin: pipe the token in");
  if (token === undefined) {
    // Sign for the instance as a client would: its endpoint address and port, its region.
    const rds = await callIamdb(
      connection,
      "DescribeDBInstances",
      { DBInstanceIdentifier: identifier },
      { name: "rds", version: "2014-10-31" },
    ).catch((err) => explainNotFound(err, opts, connection));
    const endpoint = child(child(rds, "DBInstances")?.children[0] ?? rds, "Endpoint");
    const hostname = text(endpoint, "Address");
    const port = Number(text(endpoint, "Port"));
    if (hostname === undefined || !Number.isInteger(port)) {
      throw new UserError(`the admin API did not say ${identifier}'s endpoint; pass a token with --token`);
    }
    try {
      token = generateAuthToken({
        hostname,
        port,
        username: opts.username as string,
        region: opts.region ?? connection.region,
        credentials: await resolveCredentials(io.env, opts.profile),
      });
    } catch (err) {
      if (err instanceof TokenInputError) throw new UserError(err.message);
      throw err;
    }
  }
  const result = await callIamdb(connection, "ExplainDBLogin", {
    DBInstanceIdentifier: identifier,
    Token: token,
    ...(opts.username === undefined ? {} : { Username: opts.username }),
    ...(opts.sourceIp === undefined ? {} : { SourceIp: opts.sourceIp }),
  }).catch((err) => explainNotFound(err, opts, connection));
  const explanation = child(result, "Explanation");
  if (explanation === undefined)
    throw new UserError("the admin API answered ExplainDBLogin without an explanation");
  const report = toJson(explanation);
  io.out(opts.json ? JSON.stringify(report, null, 2) : formatReport(identifier, report));
  return report.WouldSucceed ? EXIT_OK : EXIT_FAILURE;
}
