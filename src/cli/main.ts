import { Command, CommanderError } from "commander";
import { inspectTokenCommand } from "./commands/inspectToken.js";
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
    .option("--data-dir <dir>", "where iamdb keeps its state")
    .option("--config <file>", "configuration file")
    .action(async (opts) => setExit(await upCommand(opts, io)));
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
    io.err(`iamdb: unexpected error: ${(err as Error)?.stack ?? String(err)}`);
    io.err("This is a bug in iamdb; please report it with the command you ran.");
    return EXIT_FAILURE;
  }
}
