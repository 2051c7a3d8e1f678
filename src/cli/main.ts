import { Command, CommanderError } from "commander";
import { FileModeError } from "../files/permissions.js";
import { StoreError } from "../store/errors.js";
import { TlsConfigError } from "../tls/errors.js";
import { registerAdminCommands } from "./admin/register.js";
import { dbUserCommand } from "./commands/dbUser.js";
import { inspectTokenCommand } from "./commands/inspectToken.js";
import { statusCommand } from "./commands/status.js";
import { tokenCommand } from "./commands/token.js";
import { upCommand } from "./commands/up.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UserError } from "./errors.js";
import { type CliIO, processIO } from "./io.js";

function program(io: CliIO, setExit: (code: number) => void): Command {
  const p = new Command("iamdb")
    .description("Amazon RDS IAM database authentication for databases you run yourself")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError("(run iamdb --help for usage)");

  p.command("token")
    .description("print an RDS IAM auth token, exactly as `aws rds generate-db-auth-token` does")
    .requiredOption("--hostname <host>", "the endpoint name clients connect to")
    .requiredOption("--port <port>", "the endpoint's port")
    .requiredOption("--username <user>", "the database user to log in as")
    .option("--region <region>", "the instance's region (default: AWS_REGION, AWS_DEFAULT_REGION, profile)")
    .option("--profile <name>", "the AWS profile whose credentials sign the token")
    .action(async (opts) => setExit(await tokenCommand(opts, io)));

  p.command("inspect-token")
    .description("decode a token without secrets: host, port, DB user, key, expiry, and what looks wrong")
    .argument("<token>", "the token, or - to read it from stdin")
    .option("--json", "print JSON")
    .action(async (token, opts) => setExit(await inspectTokenCommand(token, opts, io)));

  p.command("up")
    .description("run iamdb with embedded defaults and print how to connect")
    .option("--data-dir <dir>", "where iamdb keeps its state (default .iamdb)")
    .option("--config <file>", "JSON configuration file (see docs/CONFIGURATION.md)")
    .action(async (opts) => setExit(await upCommand(opts, io)));

  p.command("status")
    .description("print what the iamdb of this data directory is running")
    .option("--data-dir <dir>", "the data directory (default .iamdb)")
    .option("--config <file>", "JSON configuration file")
    .option("--json", "print JSON")
    .action(async (opts) => setExit(await statusCommand(opts, io)));

  const dbUser = p.command("db-user").description("IAM-only database accounts (the rds_iam way)");
  for (const [action, what] of [
    ["create", "create a DB role that logs in only through IAM (gateway-held password, granted rds_iam)"],
    ["enable", "hand an existing DB role to IAM: new gateway-held password, granted rds_iam"],
    ["rotate", "replace the gateway-held password of an IAM DB user"],
    ["delete", "drop the role (or with --keep-role only stop IAM logins for it)"],
    ["list", "list the IAM DB users of an instance"],
  ] as const) {
    const c = dbUser
      .command(action)
      .description(what)
      .requiredOption("--db-instance-identifier <id>", "the instance")
      .option("--data-dir <dir>", "the data directory (default .iamdb)")
      .option("--config <file>", "JSON configuration file");
    if (action !== "list") c.requiredOption("--username <name>", "the DB user (case-sensitive)");
    if (action === "delete") c.option("--keep-role", "keep the role on the backend");
    c.action(async (opts) => setExit(await dbUserCommand(action, opts, io)));
  }
  registerAdminCommands(p, io, setExit);
  return p;
}

/** Runs the CLI; resolves to the exit code. Never throws. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  let code = EXIT_OK;
  try {
    await program(io, (c) => {
      code = c;
    }).parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; everything else commander reports is a usage error.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (err instanceof UserError) {
      io.err(`iamdb: ${err.message}`);
      return err.exitCode;
    }
    // Operator errors from below the CLI: their messages already say what to do; a stack would bury it.
    if (err instanceof FileModeError || err instanceof StoreError || err instanceof TlsConfigError) {
      io.err(`iamdb: ${err.message}`);
      return EXIT_FAILURE;
    }
    io.err(`iamdb: unexpected error: ${(err as Error)?.stack ?? String(err)}`);
    io.err("This is a bug in iamdb; please report it with the command you ran.");
    return EXIT_FAILURE;
  }
}
