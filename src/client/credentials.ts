import { fromEnv } from "@aws-sdk/credential-provider-env";
import { defaultProvider } from "@aws-sdk/credential-provider-node";
import { loadSharedConfigFiles } from "@smithy/shared-ini-file-loader";
import { quietSdkNodeVersionWarning } from "../cli/sdk.js";
import type { Credentials } from "../sigv4/types.js";

/** Credentials as the AWS SDK returns them: temporary ones carry their expiry. */
export interface AwsCredentials extends Credentials {
  /** When temporary credentials stop working; absent for long-term keys. */
  expiration?: Date | undefined;
}

/**
 * Where credentials come from. `forceRefresh` asks for new ones even when the provider's
 * cached ones look valid (after the server refused a token signed with them).
 */
export type CredentialProvider = (options?: { forceRefresh?: boolean }) => Promise<AwsCredentials>;

/** No credentials could be had; the message says what to run. Never carries a secret. */
export class NoCredentialsError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "NoCredentialsError";
  }
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The standard AWS credential chain, in the order the AWS CLI looks: an explicit profile;
 * else the AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY pair; else the SDK's chain (AWS_PROFILE
 * or the default profile with SSO, credential_process, role_arn, web identity; then
 * container and instance metadata). The SDK's provider caches credentials and fetches new
 * ones five minutes before temporary ones expire, so calling it for every token is cheap
 * and keeps a long-running proxy signing with current credentials.
 */
export function standardCredentials(
  options: { profile?: string | undefined; env?: NodeJS.ProcessEnv } = {},
): CredentialProvider {
  const env = options.env ?? process.env;
  const profile = options.profile;
  quietSdkNodeVersionWarning();
  const provider =
    profile === undefined && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? fromEnv()
      : defaultProvider({ ...(profile === undefined ? {} : { profile }), logger: quiet });
  return async (opts) => {
    try {
      const c = await provider(opts?.forceRefresh ? { forceRefresh: true } : undefined);
      return {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        sessionToken: c.sessionToken,
        expiration: c.expiration,
      };
    } catch (err) {
      throw new NoCredentialsError(await noCredentialsMessage(profile ?? env.AWS_PROFILE, err), {
        cause: err,
      });
    }
  };
}

/** Fixed credentials (a program that manages its own), as a provider. */
export function staticCredentials(credentials: AwsCredentials): CredentialProvider {
  return async () => credentials;
}

/**
 * What to run when the chain gave nothing: `aws sso login` for an SSO profile (the usual
 * cause: its session ended), else the ways to configure credentials.
 */
async function noCredentialsMessage(profile: string | undefined, err: unknown): Promise<string> {
  const reason = String((err as Error)?.message ?? err).split("\n")[0];
  const name = profile ?? "default";
  let sso = false;
  try {
    const files = await loadSharedConfigFiles({ ignoreCache: true });
    const section = files.configFile[name] ?? {};
    sso = section.sso_session !== undefined || section.sso_start_url !== undefined;
  } catch {
    // Unreadable config files: the general advice below applies.
  }
  if (sso) return `no AWS credentials: run \`aws sso login --profile ${name}\` (${reason})`;
  const where =
    profile === undefined ? "no AWS credentials found" : `profile "${profile}" gave no credentials`;
  return `${where} (${reason}): set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass --profile NAME or set AWS_PROFILE, or run \`aws configure\``;
}
