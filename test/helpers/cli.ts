import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "iamdb.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A HOME of its own, so no real ~/.aws or AWS_* variable of the machine leaks into a test. */
export function isolatedHome(): string {
  return mkdtempSync(join(tmpdir(), "iamdb-home-"));
}

/** Runs the installed `iamdb` bin (the compiled build) with exactly the given environment. */
export function iamdb(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        HOME: env.HOME ?? isolatedHome(),
        AWS_EC2_METADATA_DISABLED: "true",
        ...env,
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin ?? "");
  });
}
