import { statSync } from "node:fs";

/**
 * A secret-bearing file or directory that group or others can reach. The message names the
 * path, its mode and the exact `chmod` that fixes it; the CLI prints it without a stack.
 */
export class FileModeError extends Error {
  constructor(
    readonly path: string,
    readonly mode: number,
    readonly fix: string,
    what: string,
    why: string,
  ) {
    super(
      `${what} ${path} is accessible to group or others (mode ${octal(mode)}); ${why}. ` +
        `Restrict it with: ${fix}`,
    );
    this.name = "FileModeError";
  }
}

const octal = (mode: number) => mode.toString(8).padStart(4, "0");

/** The path as one shell word, so the printed `chmod` can be pasted as it is. */
function shellWord(path: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

function modeOf(path: string): { mode: number; uid: number } | undefined {
  try {
    const s = statSync(path);
    return { mode: s.mode & 0o777, uid: s.uid };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
}

export interface PrivateCheck {
  /** How the message names the path: "The master key file", "The data directory", … */
  readonly what: string;
  /** Why it matters, as a clause: "anyone who can read it can decrypt every secret in the store". */
  readonly why: string;
}

/**
 * Refuses a data directory that group or others can list or enter (anything beyond 0700):
 * it holds the master key, the administrator's AWS profile and the generated TLS keys. A
 * missing directory passes (the caller creates it 0700).
 */
export function assertPrivateDirectory(path: string, check: PrivateCheck): void {
  const found = modeOf(path);
  if (found === undefined || (found.mode & 0o077) === 0) return;
  throw new FileModeError(path, found.mode, `chmod 700 ${shellWord(path)}`, check.what, check.why);
}

/**
 * Refuses a file iamdb wrote 0600 when group or others can now read or write it (0600 and
 * 0400 pass). A missing file passes: the caller creates it.
 */
export function assertPrivateFile(path: string, check: PrivateCheck): void {
  const found = modeOf(path);
  if (found === undefined || (found.mode & 0o077) === 0) return;
  throw new FileModeError(path, found.mode, `chmod 600 ${shellWord(path)}`, check.what, check.why);
}

/**
 * An operator's TLS private key, by PostgreSQL's rule for `ssl_key_file`: 0600 or less, or
 * 0640 or less when root owns it (so a root-owned key readable by an `ssl-cert` group, as
 * Debian installs them, is accepted). Others may never have any access.
 * @see https://www.postgresql.org/docs/current/ssl-tcp.html#SSL-SETUP
 */
export function assertPrivateKeyFile(path: string, check: PrivateCheck): void {
  const found = modeOf(path);
  if (found === undefined) return;
  const allowed = found.uid === 0 ? 0o037 : 0o077;
  if ((found.mode & allowed) === 0) return;
  const fix = found.uid === 0 ? `chmod 640 ${shellWord(path)}` : `chmod 600 ${shellWord(path)}`;
  throw new FileModeError(path, found.mode, fix, check.what, check.why);
}
