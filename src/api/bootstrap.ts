import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { assertPrivateFile } from "../files/permissions.js";
import { EntityAlreadyExistsError, LimitExceededError } from "../iam/errors.js";
import type { IamService } from "../iam/service.js";
import { ensureDataDir } from "../store/master-key.js";

/**
 * First-start administrator: a user with an inline policy allowing everything, and its access
 * key written once, as a ready AWS profile, to files only the owner can read. The secret is never
 * printed, logged or returned; later starts find the files and leave them alone.
 * @see https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-files.html
 * @see https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html (endpoint_url)
 */
export const ADMIN_USER = "iamdb-admin";
export const ADMIN_PROFILE = "iamdb-admin";
export const ADMIN_POLICY = "iamdb-administrator";
export const CREDENTIALS_FILE = "aws-credentials";
export const CONFIG_FILE = "aws-config";

const ADMIN_DOCUMENT = JSON.stringify({
  Version: "2012-10-17",
  Statement: [{ Sid: "IamdbAdministrator", Effect: "Allow", Action: "*", Resource: "*" }],
});

export interface EnsureAdministratorOptions {
  readonly iam: IamService;
  readonly dataDir: string;
  /** The admin API's URL, written as the profile's endpoint_url. */
  readonly endpointUrl: string;
  readonly region: string;
  /**
   * In a fleet every gateway's data directory needs an administrator key, but a user holds at
   * most two: once iamdb-admin has two that this directory does not hold, this user (an
   * administrator of this gateway's own) gets the key instead.
   */
  readonly fallbackUserName?: string;
}

export interface AdministratorFiles {
  /** True when this call created the key (first start, or the old key was gone). */
  readonly created: boolean;
  readonly credentialsFile: string;
  readonly configFile: string;
  readonly profile: string;
}

export class AdministratorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AdministratorError";
  }
}

/** Reads `[section]` key/values from an INI file as the AWS tools write them. */
export function readIni(text: string): Map<string, Map<string, string>> {
  const sections = new Map<string, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (header?.[1] !== undefined) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    if (current !== undefined && eq > 0) current.set(line.slice(0, eq).trim(), line.slice(eq + 1).trim());
  }
  return sections;
}

/** Writes a file only its owner can read, atomically (a reader never sees half a key). */
function writePrivate(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

function configText(region: string, endpointUrl: string): string {
  return `[profile ${ADMIN_PROFILE}]\nregion = ${region}\nendpoint_url = ${endpointUrl}\n`;
}

/** The access key id the credentials file holds for the admin profile, if it is still a live key. */
async function existingKey(iam: IamService, credentialsFile: string): Promise<string | undefined> {
  if (!existsSync(credentialsFile)) return undefined;
  const profile = readIni(readFileSync(credentialsFile, "utf8")).get(ADMIN_PROFILE);
  const id = profile?.get("aws_access_key_id");
  const secret = profile?.get("aws_secret_access_key");
  if (id === undefined || secret === undefined) return undefined;
  const credential = await iam.lookupCredential(id);
  return credential?.status === "Active" && credential.secretAccessKey === secret ? id : undefined;
}

export async function ensureAdministrator(options: EnsureAdministratorOptions): Promise<AdministratorFiles> {
  const { iam, dataDir } = options;
  ensureDataDir(dataDir);
  const credentialsFile = join(dataDir, CREDENTIALS_FILE);
  const configFile = join(dataDir, CONFIG_FILE);
  // Both are written 0600; one that has since been opened up is refused, not silently reused.
  assertPrivateFile(credentialsFile, {
    what: "The administrator's AWS credentials file",
    why: "it holds an access key allowed every action",
  });
  assertPrivateFile(configFile, {
    what: "The administrator's AWS config file",
    why: "whoever can change it can point the admin profile at another endpoint",
  });
  const result = { credentialsFile, configFile, profile: ADMIN_PROFILE };

  // The endpoint may change between starts (port 0, new config): the config file holds no secret.
  const config = configText(options.region, options.endpointUrl);
  const writeConfig = () => {
    if (!existsSync(configFile) || readFileSync(configFile, "utf8") !== config)
      writePrivate(configFile, config);
  };

  if ((await existingKey(iam, credentialsFile)) !== undefined) {
    writeConfig();
    return { created: false, ...result };
  }

  const keyFor = async (userName: string) => {
    try {
      await iam.createUser({ userName });
    } catch (e) {
      if (!(e instanceof EntityAlreadyExistsError)) throw e;
    }
    await iam.putUserPolicy({ userName, policyName: ADMIN_POLICY, policyDocument: ADMIN_DOCUMENT });
    return iam.createAccessKey({ userName });
  };
  let key: Awaited<ReturnType<IamService["createAccessKey"]>>;
  try {
    try {
      key = await keyFor(ADMIN_USER);
    } catch (e) {
      if (!(e instanceof LimitExceededError) || options.fallbackUserName === undefined) throw e;
      key = await keyFor(options.fallbackUserName);
    }
  } catch (e) {
    if (e instanceof LimitExceededError) {
      throw new AdministratorError(
        `User ${ADMIN_USER} already has two access keys and ${credentialsFile} holds neither. ` +
          `Delete one with \`iamdb iam delete-access-key --user-name ${ADMIN_USER} --access-key-id ID\` ` +
          "using a key you still have, then restart.",
      );
    }
    throw e;
  }
  writePrivate(
    credentialsFile,
    `[${ADMIN_PROFILE}]\naws_access_key_id = ${key.accessKeyId}\naws_secret_access_key = ${key.secretAccessKey}\n`,
  );
  writeConfig();
  return { created: true, ...result };
}
