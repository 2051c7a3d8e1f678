import { Argument, Command, CommanderError } from "commander";
import { FileModeError } from "../files/permissions.js";
import {
  configureLogger,
  LOG_LEVEL_ENV,
  LOG_LEVELS,
  type LogLevel,
  LogLevelError,
  resolveLogLevel,
} from "../log/logger.js";
import { StoreError } from "../store/errors.js";
import { TlsConfigError } from "../tls/errors.js";
import { IAMDB_VERSION } from "../version.js";
import { registerAdminCommands } from "./admin/register.js";
import { connectCommand } from "./commands/connect.js";
import { dbUserCommand } from "./commands/db-user.js";
import { doctorCommand } from "./commands/doctor.js";
import { inspectTokenCommand } from "./commands/inspect-token.js";
import { oidcJwksCommand } from "./commands/oidc-jwks.js";
import { proxyCommand } from "./commands/proxy.js";
import { sessionsCommand } from "./commands/sessions.js";
import { statusCommand } from "./commands/status.js";
import { tokenCommand } from "./commands/token.js";
import { upCommand } from "./commands/up.js";
import { bashCompletion, zshCompletion } from "./completion.js";
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, UsageError, UserError } from "./errors.js";
import { type CliIO, processIO } from "./io.js";

/** `--log-level`, else IAMDB_LOG_LEVEL, else info; a bad value is a usage error (exit 2). */
function logLevelOption(flag: string | undefined): LogLevel {
  try {
    return resolveLogLevel(flag);
  } catch (err) {
    if (err instanceof LogLevelError) throw new UsageError(err.message);
    throw err;
  }
}

/** `iamdb iam create-user`, as a user types it. */
export function commandPath(c: Command): string {
  const names: string[] = [];
  for (let at: Command | null = c; at; at = at.parent) names.unshift(at.name());
  return names.join(" ");
}

/** The whole command tree (exported for tests that walk it). */
export function program(io: CliIO, setExit: (code: number) => void): Command {
  const p = new Command("iamdb")
    .description("Amazon RDS IAM database authentication for databases you run yourself")
    .version(`iamdb ${IAMDB_VERSION} (Node.js ${process.version})`, "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });

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
    .option(
      "--log-level <level>",
      `operational log on stderr: ${LOG_LEVELS.join(", ")} (default: ${LOG_LEVEL_ENV}, else info)`,
    )
    .action(async (opts) => {
      configureLogger({ level: logLevelOption(opts.logLevel) });
      setExit(await upCommand(opts, io));
    });

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
      .option("--data-dir <dir>", "the data directory whose administrator profile signs (default .iamdb)")
      .option("--config <file>", "JSON configuration file (its dataDir)")
      .option("--endpoint-url <url>", "the admin API of any gateway (default: the data directory's profile)")
      .option("--profile <name>", "the AWS profile that signs (default: the data directory's administrator)")
      .option("--region <region>", "the region to sign for");
    if (action !== "list") c.requiredOption("--username <name>", "the DB user (case-sensitive)");
    if (action === "delete") c.option("--keep-role", "keep the role on the backend");
    if (action === "enable") {
      c.option(
        "--allow-superuser",
        "also hand over a superuser (PostgreSQL SUPERUSER; MySQL SUPER or ALL PRIVILEGES ON *.*)",
      );
    }
    c.action(async (opts) => setExit(await dbUserCommand(action, opts, io)));
  }
  const sessions = p
    .command("sessions")
    .description("the fleet's live sessions: who is connected, and ending them");
  for (const [action, what] of [
    ["list", "list live sessions on every gateway of the fleet (principal, key, DB user, client, start)"],
    ["terminate", "end live sessions at once, on whichever gateway holds them"],
  ] as const) {
    const c = sessions
      .command(action)
      .description(what)
      .option("--db-instance-identifier <id>", "only this instance's sessions")
      .option("--principal-arn <arn>", "only this principal's sessions (a user or assumed-role ARN)")
      .option("--access-key-id <id>", "only sessions whose token this key signed")
      .option("--db-user <name>", "only sessions of this DB user")
      .option("--session-id <id>", "one session (its id is the login's correlation id in the auth log)")
      .option("--data-dir <dir>", "the data directory whose administrator profile signs (default .iamdb)")
      .option("--config <file>", "JSON configuration file (its dataDir)")
      .option("--endpoint-url <url>", "the admin API of any gateway (default: the data directory's profile)")
      .option("--profile <name>", "the AWS profile that signs (default: the data directory's administrator)")
      .option("--region <region>", "the region to sign for")
      .option("--json", "print JSON");
    c.action(async (opts) => setExit(await sessionsCommand(action, opts, io)));
  }
  const jwks = p
    .command("oidc-jwks")
    .description("an OpenID Connect provider's static keys (issuers iamdb cannot reach)");
  for (const [action, what] of [
    ["put", "use these public keys instead of fetching the issuer's"],
    ["get", "print the static keys (null when the issuer's keys are fetched)"],
    ["delete", "fetch the issuer's keys again"],
  ] as const) {
    const c = jwks
      .command(action)
      .description(what)
      .requiredOption("--open-id-connect-provider-arn <arn>", "the provider")
      .option("--data-dir <dir>", "the data directory whose administrator profile signs (default .iamdb)")
      .option("--config <file>", "JSON configuration file (its dataDir)")
      .option("--endpoint-url <url>", "the admin API (default: the data directory's profile)")
      .option("--profile <name>", "the AWS profile that signs (default: the data directory's administrator)")
      .option("--region <region>", "the region to sign for");
    if (action === "put") c.requiredOption("--jwks-file <file>", "the JWKS (JSON with a keys list)");
    c.action(async (opts) => setExit(await oidcJwksCommand(action, opts, io)));
  }
  p.command("doctor")
    .description("why can't I connect? what the gateway would do with a login, without logging in")
    .requiredOption("--db-instance-identifier <id>", "the instance")
    .option("--token <token>", "the token the client sends (- reads it from stdin)")
    .option("--username <user>", "the DB user; without --token, doctor signs a token for it itself")
    .option("--profile <name>", "the AWS profile whose credentials sign the token (with --username)")
    .option("--region <region>", "the region to sign the token for (default: the instance's)")
    .option("--source-ip <ip>", "the client address policies see as aws:SourceIp (default: this host's)")
    .option("--data-dir <dir>", "the data directory whose administrator profile asks (default .iamdb)")
    .option("--config <file>", "the configuration file iamdb up runs with (its dataDir)")
    .option("--endpoint-url <url>", "the admin API of the gateway to ask (default: the data directory's)")
    .option("--json", "print JSON")
    .action(async (opts) => setExit(await doctorCommand(opts, io)));
  p.command("proxy")
    .description(
      "a local, password-less listener that logs in to a database with auth tokens (docs/CLIENT-KIT.md)",
    )
    .option("--engine <engine>", "postgres or mysql (mariadb)")
    .option("--target <host:port>", "the database endpoint, or a forward to it")
    .option("--listen <host:port>", "where local clients connect (loopback; port 0 picks one)")
    .option("--username <user>", "the DB user every session logs in as")
    .option("--database <name>", "the database when the client names none")
    .option(
      "--region <region>",
      "the region tokens are signed for (default: AWS_REGION, AWS_DEFAULT_REGION, profile)",
    )
    .option("--profile <name>", "the AWS profile whose credentials sign (default: the standard chain)")
    .option(
      "--ca-file <file>",
      "CA bundle the target's certificate must chain to (iamdb's ca.pem, the RDS bundle)",
    )
    .option("--token-host <name[:port]>", "the endpoint's real name (and port) when --target is a forward")
    .option("--unix-socket-dir <dir>", "also listen on a Unix socket there (PostgreSQL: .s.PGSQL.PORT)")
    .option(
      "--allow-non-loopback",
      "allow --listen on a non-loopback address (whoever reaches it logs in as you)",
    )
    .option("--name <name>", "the target's name in logs and metrics")
    .option("--config <file>", "JSON file with several targets (instead of the target flags)")
    .option("--ops <host:port>", "serve /healthz, /readyz and /metrics there")
    .option("--max-connections <n>", "client connections open at once, all targets (default 1000)")
    .option("--drain-timeout-ms <ms>", "on SIGTERM, how long sessions may finish (default 30000)")
    .option("--connect-timeout-ms <ms>", "TCP + TLS + login to the target (default 10000)")
    .option(
      "--log-level <level>",
      `operational log on stderr: ${LOG_LEVELS.join(", ")} (default: ${LOG_LEVEL_ENV}, else info)`,
    )
    .action(async (opts) => {
      configureLogger({ level: logLevelOption(opts.logLevel) });
      setExit(await proxyCommand(opts, io));
    });

  p.command("connect")
    .description("run psql or the mariadb/mysql client with a fresh auth token and verify-full TLS")
    .requiredOption("--host <host>", "the endpoint (or a forward to it, with --token-host)")
    .requiredOption("--port <port>", "its port")
    .requiredOption("--username <user>", "the DB user to log in as")
    .option("--engine <engine>", "postgres or mysql (default: mysql for port 3306, else postgres)")
    .option("--database <name>", "the database")
    .option("--region <region>", "the region to sign for (default: AWS_REGION, AWS_DEFAULT_REGION, profile)")
    .option("--profile <name>", "the AWS profile whose credentials sign the token")
    .option("--ca-file <file>", "CA bundle the server's certificate must chain to (default: the system's)")
    .option(
      "--token-host <name[:port]>",
      "the endpoint's real name (and port) when --host is a forward (PostgreSQL)",
    )
    .option("--client <path>", "the client program (default psql; mariadb, else mysql)")
    .argument("[client-args...]", "after --: arguments for the client (e.g. -- -c 'select 1')")
    .action(async (clientArgs: string[], opts) => setExit(await connectCommand(opts, clientArgs, io)));
  registerAdminCommands(p, io, setExit);

  p.command("completion")
    .description("print a shell completion script (bash: source <(iamdb completion bash))")
    .addArgument(new Argument("<shell>", "the shell").choices(["bash", "zsh"]))
    .action((shell: "bash" | "zsh") => {
      io.out((shell === "bash" ? bashCompletion : zshCompletion)(p).trimEnd());
      setExit(EXIT_OK);
    });

  // A mistake in a subcommand points at that subcommand's help, which lists its flags.
  const pointAtHelp = (c: Command) => {
    c.showHelpAfterError(`(run ${commandPath(c)} --help for usage)`);
    for (const sub of c.commands) pointAtHelp(sub);
  };
  pointAtHelp(p);
  return p;
}

/** Runs the CLI; resolves to the exit code. Never throws. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  let code = EXIT_OK;
  let ran: Command | undefined;
  const usageHint = () => {
    if (ran) io.err(`(run ${commandPath(ran)} --help for usage)`);
  };
  try {
    const p = program(io, (c) => {
      code = c;
    });
    p.hook("preAction", (_root, action) => {
      ran = action;
    });
    await p.parseAsync(argv, { from: "user" });
    if (code === EXIT_USAGE) usageHint();
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version exit 0; everything else commander reports is a usage error.
      return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
    }
    if (err instanceof UserError) {
      io.err(`iamdb: ${err.message}`);
      if (err.exitCode === EXIT_USAGE) usageHint();
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
