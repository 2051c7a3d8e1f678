import { generateAuthToken, TokenInputError } from "../../token/index.js";
import { resolveCredentials, resolveRegion } from "../credentials.js";
import { UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";

export interface TokenOptions {
  hostname: string;
  port: string;
  username: string;
  region?: string;
  profile?: string;
}

/** A token for a command to print or pass on; input the signer refuses is the user's error to fix. */
export function signToken(input: Parameters<typeof generateAuthToken>[0]): string {
  try {
    return generateAuthToken(input);
  } catch (err) {
    if (err instanceof TokenInputError) throw new UserError(err.message);
    throw err;
  }
}

/** `iamdb token`: prints a token exactly as `aws rds generate-db-auth-token` would. */
export async function tokenCommand(opts: TokenOptions, io: CliIO): Promise<number> {
  if (!/^\d{1,5}$/.test(opts.port))
    throw new UsageError(`--port must be a number from 1 to 65535 (got ${opts.port})`);
  const region = await resolveRegion(io.env, opts.region, opts.profile);
  const credentials = await resolveCredentials(io.env, opts.profile);
  io.out(
    signToken({
      hostname: opts.hostname,
      port: Number(opts.port),
      username: opts.username,
      region,
      credentials,
    }),
  );
  return 0;
}
