import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

export interface AwsResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real AWS CLI (botocore) with only the given environment's credentials: no
 * profile files of the machine, no instance metadata lookups. Never throws on a non-zero exit.
 */
export async function awsCliResult(args: string[], env: Record<string, string>): Promise<AwsResult> {
  const home = mkdtempSync(join(tmpdir(), "iamdb-aws-"));
  try {
    const { stdout, stderr } = await run("aws", args, {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: home,
        AWS_CONFIG_FILE: join(home, "config"),
        AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_DEFAULT_OUTPUT: "json",
        ...env,
      },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof err.code === "number" ? err.code : -1,
      stdout: err.stdout ?? "",
      stderr: err.stderr ?? "",
    };
  }
}

/** Like awsCliResult, but returns the trimmed stdout and throws with stderr on failure. */
export async function awsCli(args: string[], env: Record<string, string>): Promise<string> {
  const r = await awsCliResult(args, env);
  if (r.code !== 0) throw new Error(`aws ${args.slice(0, 3).join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

/** `aws rds generate-db-auth-token` with the given credentials (a session token too, when they have one). */
export function awsAuthToken(
  target: { hostname: string; port: number; username: string; region: string },
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined },
): Promise<string> {
  return awsCli(
    [
      "rds",
      "generate-db-auth-token",
      "--hostname",
      target.hostname,
      "--port",
      String(target.port),
      "--username",
      target.username,
      "--region",
      target.region,
    ],
    {
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      ...(credentials.sessionToken ? { AWS_SESSION_TOKEN: credentials.sessionToken } : {}),
    },
  );
}
