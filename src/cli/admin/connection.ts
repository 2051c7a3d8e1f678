import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { loadSharedConfigFiles } from "@smithy/shared-ini-file-loader";
import { ADMIN_PROFILE, CONFIG_FILE, CREDENTIALS_FILE, readIni } from "../../api/bootstrap.js";
import type { Credentials } from "../../sigv4/types.js";
import { resolveCredentials } from "../credentials.js";
import { UserError } from "../errors.js";

/** The flags every admin command takes, as `aws` has them (plus --data-dir). */
export interface ConnectionFlags {
  dataDir?: string;
  endpointUrl?: string;
  profile?: string;
  region?: string;
}

export interface Connection {
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: Credentials;
}

export const DEFAULT_DATA_DIR = ".iamdb";

function readSection(path: string, section: string): Map<string, string> | undefined {
  if (!existsSync(path)) return undefined;
  return readIni(readFileSync(path, "utf8")).get(section);
}

/**
 * Where admin commands connect and with which key. The data directory's administrator profile
 * (written by `iamdb up`) comes first, so `iamdb iam list-users` works with no setup; `--profile`
 * picks another profile from the data directory or from the usual AWS files; `--endpoint-url`
 * and `--region` override.
 */
export async function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv): Promise<Connection> {
  const dataDir = resolve(flags.dataDir ?? DEFAULT_DATA_DIR);
  const credentialsFile = `${dataDir}/${CREDENTIALS_FILE}`;
  const configFile = `${dataDir}/${CONFIG_FILE}`;
  const profile = flags.profile ?? ADMIN_PROFILE;
  const localKeys = readSection(credentialsFile, profile);
  const localConfig = readSection(configFile, `profile ${profile}`) ?? readSection(configFile, profile);

  let credentials: Credentials;
  const id = localKeys?.get("aws_access_key_id");
  const secret = localKeys?.get("aws_secret_access_key");
  if (id !== undefined && secret !== undefined) {
    credentials = {
      accessKeyId: id,
      secretAccessKey: secret,
      sessionToken: localKeys?.get("aws_session_token"),
    };
  } else if (flags.profile !== undefined || flags.endpointUrl !== undefined) {
    credentials = await resolveCredentials(env, flags.profile);
  } else {
    throw new UserError(
      `no iamdb administrator credentials in ${dataDir}: run \`iamdb up\` there first, pass --data-dir DIR of a running iamdb, ` +
        "or pass --endpoint-url URL with --profile NAME (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
    );
  }

  let sharedConfig: Record<string, string | undefined> | undefined;
  if (localConfig === undefined && flags.profile !== undefined) {
    try {
      sharedConfig = (await loadSharedConfigFiles({ ignoreCache: true })).configFile[flags.profile];
    } catch {
      sharedConfig = undefined;
    }
  }
  const endpoint =
    flags.endpointUrl ??
    localConfig?.get("endpoint_url") ??
    sharedConfig?.endpoint_url ??
    env.AWS_ENDPOINT_URL;
  if (endpoint === undefined) {
    throw new UserError(
      `no admin API endpoint: start iamdb with \`iamdb up\` (it writes ${configFile}), or pass --endpoint-url http://HOST:PORT`,
    );
  }
  const region =
    flags.region ??
    localConfig?.get("region") ??
    sharedConfig?.region ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION ??
    "us-east-1";
  return { endpoint, region, credentials };
}
