import * as iamSdk from "@aws-sdk/client-iam";
import * as rdsSdk from "@aws-sdk/client-rds";
import * as stsSdk from "@aws-sdk/client-sts";
import { type Command, Option } from "commander";
import { deploymentConfig } from "../commands/context.js";
import { EXIT_FAILURE, EXIT_OK, UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { quietSdkNodeVersionWarning } from "../sdk.js";
import { COMMANDS, type CommandSpec, memberName, operationName, type ParamSpec } from "./commands.js";
import { type Connection, type ConnectionFlags, DEFAULT_DATA_DIR, resolveConnection } from "./connection.js";
import { formatOutput } from "./output.js";
import { loadValue, parseStructs } from "./values.js";

/**
 * `iamdb iam|sts|rds …`: the AWS CLI's admin commands, sent through the official AWS SDK v3
 * clients to the iamdb admin API, so every command also exercises our API with AWS's own
 * client code.
 */

type Sdk = Record<string, unknown>;
interface SdkClient {
  send(command: unknown): Promise<Record<string, unknown>>;
  destroy(): void;
}
type ClientClass = new (config: object) => SdkClient;
type CommandClass = new (input: object) => unknown;

const SDKS: Readonly<Record<CommandSpec["service"], { sdk: Sdk; client: string }>> = {
  iam: { sdk: iamSdk as Sdk, client: "IAMClient" },
  sts: { sdk: stsSdk as Sdk, client: "STSClient" },
  rds: { sdk: rdsSdk as Sdk, client: "RDSClient" },
};

const GROUPS: ReadonlyArray<[CommandSpec["service"], string]> = [
  ["iam", "manage users, groups, roles, access keys and policies (like `aws iam`)"],
  ["sts", "caller identity and temporary credentials (like `aws sts`)"],
  ["rds", "DB instances: IAM authentication and tags (like `aws rds`)"],
];

function makeClient(service: CommandSpec["service"], c: Connection): SdkClient {
  quietSdkNodeVersionWarning();
  const { sdk, client } = SDKS[service];
  const Client = sdk[client] as ClientClass;
  return new Client({
    endpoint: c.endpoint,
    region: c.region,
    credentials: c.credentials,
    // A local endpoint: fail at once rather than back off and retry.
    maxAttempts: 1,
  });
}

function tagShape(item: Record<string, unknown>): Record<string, unknown> {
  return { Key: item.Key ?? item.key, Value: item.Value ?? item.value };
}

/** The SDK input from the parsed flags. */
export function buildInput(spec: CommandSpec, opts: Record<string, unknown>): Record<string, unknown> {
  const input: Record<string, unknown> = {};
  for (const p of spec.params) {
    const value = opts[attributeName(p.flag)];
    if (value === undefined) continue;
    const member = memberName(p.flag);
    switch (p.kind) {
      case "string":
        input[member] = loadValue(String(value));
        break;
      case "int": {
        const n = Number(value);
        if (!Number.isInteger(n))
          throw new UsageError(`--${p.flag} must be an integer, not "${String(value)}"`);
        input[member] = n;
        break;
      }
      case "bool":
        input[member] = value === true;
        break;
      case "strings":
        input[member] = (value as string[]).map(loadValue);
        break;
      case "structs": {
        const items = parseStructs(value as string[], new Set(p.listMembers ?? []));
        input[member] = p.flag === "tags" ? items.map(tagShape) : items;
        break;
      }
    }
  }
  return input;
}

/** commander's attribute for `--user-name`: `userName`. */
const attributeName = (flag: string) => flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function addParam(cmd: Command, p: ParamSpec): void {
  const help = p.required ? "(required)" : "";
  switch (p.kind) {
    case "bool":
      cmd.option(`--${p.flag}`, help);
      cmd.option(`--no-${p.flag}`, "");
      return;
    case "strings":
    case "structs":
      cmd.addOption(new Option(`--${p.flag} <values...>`, help).makeOptionMandatory(p.required === true));
      return;
    default:
      cmd.addOption(new Option(`--${p.flag} <value>`, help).makeOptionMandatory(p.required === true));
  }
}

interface RunFlags extends ConnectionFlags {
  maxItems?: string;
  startingToken?: string;
  pageSize?: string;
  output?: string;
}

const positiveInt = (flag: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${flag} must be a positive integer, not "${v}"`);
  return n;
};

/**
 * Sends the command; for paginated commands follows Marker like `aws` does: every page
 * unless --max-items, then NextToken to resume with --starting-token.
 */
async function send(spec: CommandSpec, client: SdkClient, input: Record<string, unknown>, flags: RunFlags) {
  const Cmd = SDKS[spec.service].sdk[`${operationName(spec.name)}Command`] as CommandClass;
  const p = spec.paginate;
  if (p === undefined) return client.send(new Cmd(input));
  const maxItems = positiveInt("max-items", flags.maxItems);
  const pageSize = positiveInt("page-size", flags.pageSize);
  let marker = flags.startingToken;
  let result: Record<string, unknown> | undefined;
  let count = 0;
  for (;;) {
    const want = maxItems === undefined ? pageSize : Math.min(pageSize ?? maxItems, maxItems - count);
    const limit = want === undefined ? undefined : Math.max(want, p.minPage ?? 1);
    const page = await client.send(
      new Cmd({
        ...input,
        ...(marker === undefined ? {} : { Marker: marker }),
        ...(limit === undefined ? {} : { [p.limitMember]: limit }),
      }),
    );
    if (result === undefined) result = { ...page };
    else
      for (const key of p.lists)
        result[key] = [...((result[key] as unknown[]) ?? []), ...((page[key] as unknown[]) ?? [])];
    for (const key of p.lists) count += ((page[key] as unknown[] | undefined) ?? []).length;
    const next = typeof page.Marker === "string" && page.Marker !== "" ? page.Marker : undefined;
    marker = next;
    if (next === undefined) break;
    if (maxItems !== undefined && count >= maxItems) break;
  }
  const out: Record<string, unknown> = { ...result };
  delete out.Marker;
  delete out.IsTruncated;
  if (maxItems !== undefined && count > maxItems) {
    // Only RDS pages (at least 20 records) can overshoot: keep the first maxItems and resume after the last kept.
    const [key] = p.lists;
    if (key !== undefined) {
      const kept = (out[key] as Array<Record<string, unknown>>).slice(0, maxItems);
      out[key] = kept;
      const last = kept[kept.length - 1];
      marker = typeof last?.DBInstanceIdentifier === "string" ? last.DBInstanceIdentifier : marker;
    }
  }
  if (maxItems !== undefined && marker !== undefined) out.NextToken = marker;
  return out;
}

function describeFailure(err: unknown, spec: CommandSpec, endpoint: string | undefined): string | undefined {
  const e = err as {
    $metadata?: unknown;
    Code?: string;
    name?: string;
    message?: string;
    code?: string;
    cause?: { code?: string };
  };
  const code = e?.code ?? e?.cause?.code;
  if (code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "ECONNRESET" || code === "EHOSTUNREACH") {
    return (
      `\nCould not connect to the endpoint URL: "${endpoint ?? "?"}/"\n` +
      "Is iamdb running? Start it with `iamdb up`, or pass the admin API's address with --endpoint-url."
    );
  }
  if (e?.$metadata !== undefined && (e.Code !== undefined || e.name !== undefined)) {
    return `\nAn error occurred (${e.Code ?? e.name}) when calling the ${operationName(spec.name)} operation: ${e.message ?? ""}`;
  }
  return undefined;
}

export function registerAdminCommands(program: Command, io: CliIO, setExit: (code: number) => void): void {
  for (const [service, description] of GROUPS) {
    const group = program.command(service).description(description);
    for (const spec of COMMANDS.filter((c) => c.service === service)) {
      const cmd = group.command(spec.name).description(`${service} ${operationName(spec.name)}`);
      for (const p of spec.params) addParam(cmd, p);
      cmd
        .option("--endpoint-url <url>", "the admin API (default: the data directory's)")
        .option("--profile <name>", "AWS profile (default: the data directory's iamdb-admin)")
        .option("--region <region>", "region to sign for")
        .option("--data-dir <dir>", `iamdb data directory (default: ${DEFAULT_DATA_DIR})`)
        .option("--config <file>", "the configuration file iamdb up runs with (its dataDir)")
        .addOption(new Option("--output <format>", "output format").choices(["json"]));
      if (spec.paginate !== undefined) {
        cmd
          .option("--max-items <n>", "stop after N items and print NextToken")
          .option("--starting-token <token>", "the NextToken of a previous call")
          .option("--page-size <n>", "items per request");
      }
      cmd.action(async (opts: RunFlags & { config?: string } & Record<string, unknown>) => {
        let endpoint: string | undefined;
        try {
          const input = buildInput(spec, opts);
          const connection = await resolveConnection(
            opts.config === undefined ? opts : { ...opts, dataDir: deploymentConfig(opts).dataDir },
            io.env,
          );
          endpoint = connection.endpoint;
          const client = makeClient(service, connection);
          try {
            const text = formatOutput(await send(spec, client, input, opts));
            if (text !== "") io.out(text);
          } finally {
            client.destroy();
          }
          setExit(EXIT_OK);
        } catch (err) {
          if (err instanceof UserError) {
            io.err(`iamdb: ${err.message}`);
            setExit(err.exitCode);
            return;
          }
          const message = describeFailure(err, spec, endpoint);
          if (message === undefined) throw err;
          io.err(message);
          setExit(EXIT_FAILURE);
        }
      });
    }
  }
}
