import type { CliIO } from "../io.js";

/**
 * `iamdb up`: runs the store, admin API and gateway with embedded defaults. Until those
 * parts land it says what this build can do, and succeeds, so `npm start` works anywhere.
 */
export async function upCommand(_opts: { dataDir?: string; config?: string }, io: CliIO): Promise<number> {
  io.out(
    [
      "iamdb: the gateway and admin API are not part of this build yet, so there is nothing to run.",
      "",
      "Available now:",
      "  iamdb token --hostname H --port P --username U [--region R] [--profile NAME]",
      "      prints an RDS IAM auth token, byte for byte what `aws rds generate-db-auth-token` prints",
      "  iamdb inspect-token TOKEN|-",
      "      decodes a token (host, port, DB user, key, expiry) and says what looks wrong",
      '  library: import { generateAuthToken, verifyAuthToken } from "iamdb"',
    ].join("\n"),
  );
  return 0;
}
