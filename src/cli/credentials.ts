import { fromEnv } from "@aws-sdk/credential-provider-env";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { loadSharedConfigFiles } from "@smithy/shared-ini-file-loader";
import type { Credentials } from "../sigv4/types.js";
import { UserError } from "./errors.js";
import { quietSdkNodeVersionWarning } from "./sdk.js";

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Credentials in the order the AWS CLI (botocore) looks: an explicit --profile; else the
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment pair; else the SDK's maintained
 * chain (AWS_PROFILE or default profile in ~/.aws/credentials and ~/.aws/config, SSO,
 * credential_process, web identity, container and instance metadata).
 */
export async function resolveCredentials(env: NodeJS.ProcessEnv, profile?: string): Promise<Credentials> {
  // A profile with role_arn, SSO or web identity builds STS/SSO clients.
  quietSdkNodeVersionWarning();
  const provider =
    profile === undefined && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? fromEnv()
      : defaultProvider({ ...(profile === undefined ? {} : { profile }), logger: quiet });
  try {
    const c = await provider();
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
  } catch (err) {
    const name = profile ?? env.AWS_PROFILE;
    const where = name
      ? `profile "${name}" gave no credentials (${(err as Error).message.split("\n")[0]})`
      : "no AWS credentials found";
    throw new UserError(
      `${where}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME or set AWS_PROFILE, or run \`aws configure\``,
    );
  }
}

/** The region as the AWS tools find it: --region, AWS_REGION, AWS_DEFAULT_REGION, then the profile's `region`. */
export async function resolveRegion(
  env: NodeJS.ProcessEnv,
  region?: string,
  profile?: string,
): Promise<string> {
  const direct = region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
  if (direct) return direct;
  const name = profile ?? env.AWS_PROFILE ?? "default";
  try {
    const files = await loadSharedConfigFiles({ ignoreCache: true });
    const fromProfile = files.configFile[name]?.region ?? files.credentialsFile[name]?.region;
    if (fromProfile) return fromProfile;
  } catch {
    // Unreadable config files mean no region from them; the error below says what to do.
  }
  throw new UserError(
    `no AWS region: pass --region (e.g. --region us-east-1), set AWS_REGION, or set region in profile "${name}" of ~/.aws/config`,
  );
}
