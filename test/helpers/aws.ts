import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Runs the real AWS CLI (botocore) with only the given environment's credentials: no
 * profile files, no instance metadata lookups.
 */
export async function awsCli(args: string[], env: Record<string, string>): Promise<string> {
  const home = mkdtempSync(join(tmpdir(), "iamdb-aws-"));
  const { stdout } = await run("aws", args, {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      HOME: home,
      AWS_CONFIG_FILE: join(home, "config"),
      AWS_SHARED_CREDENTIALS_FILE: join(home, "credentials"),
      AWS_EC2_METADATA_DISABLED: "true",
      ...env,
    },
    timeout: 60_000,
  });
  return stdout.trim();
}
