import { inspectAuthToken } from "../../token/index.js";
import { EXIT_FAILURE, EXIT_OK, UsageError } from "../errors.js";
import type { CliIO } from "../io.js";

/**
 * `iamdb inspect-token TOKEN|-`: what a token says, without any secret. Exit 0 when
 * nothing looks wrong, 1 when something does (each problem says what to do).
 */
export async function inspectTokenCommand(
  token: string,
  opts: { json?: boolean },
  io: CliIO,
): Promise<number> {
  const text = token === "-" ? (await io.readStdin()).trim() : token;
  if (text === "")
    throw new UsageError("no token given: pass it as the argument, or '-' to read it from stdin");
  const report = inspectAuthToken(text);
  if (opts.json) {
    io.out(JSON.stringify(report, null, 2));
  } else if (report.host === undefined) {
    // Not a token at all: the problem is all there is to say (and what little was recognised).
    for (const problem of report.problems) io.out(`problem:       ${problem}`);
    if (report.accessKeyId !== undefined) io.out(`access key id: ${report.accessKeyId}`);
  } else {
    const rows: Array<[string, string | number | undefined]> = [
      ["host", report.host],
      ["port", report.port],
      ["DB user", report.dbUser],
      ["access key id", report.accessKeyId && `${report.accessKeyId} (${report.keyType})`],
      ["region", report.region],
      ["service", report.service],
      ["signed at", report.signedAt],
      [
        "expires at",
        report.expiresAt &&
          `${report.expiresAt} (${(report.secondsLeft ?? 0) >= 0 ? `in ${report.secondsLeft} s` : `expired ${-(report.secondsLeft ?? 0)} s ago`})`,
      ],
      ["session token", report.sessionToken],
    ];
    for (const [label, value] of rows) if (value !== undefined) io.out(`${`${label}:`.padEnd(15)}${value}`);
    for (const problem of report.problems) io.out(`problem:       ${problem}`);
    if (report.problems.length === 0)
      io.out("looks valid (the signature can only be checked by the gateway, which holds the key)");
  }
  return report.valid ? EXIT_OK : EXIT_FAILURE;
}
