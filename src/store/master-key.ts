import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readFileSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { assertPrivateDirectory, assertPrivateFile } from "../files/permissions.js";
import { MasterKeyError } from "./errors.js";

export const MASTER_KEY_ENV = "IAMDB_MASTER_KEY";
export const MASTER_KEY_FILE = "master.key";

export interface MasterKeyOptions {
  /** Data directory holding `master.key`; needed unless the environment variable is set. */
  readonly dataDir?: string;
  /** Environment to read IAMDB_MASTER_KEY from. Default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

function decode(text: string, where: string): Buffer {
  const trimmed = text.trim();
  const key = Buffer.from(trimmed, "base64");
  if (key.length !== 32 || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) {
    throw new MasterKeyError(
      `${where} must hold 32 bytes in base64 (44 characters). Generate one with: openssl rand -base64 32`,
    );
  }
  return key;
}

/**
 * The key that seals secrets at rest. It never lives in the database: either IAMDB_MASTER_KEY
 * (base64 of 32 bytes; what several gateways sharing a PostgreSQL store should use) or a file
 * `master.key` in the data directory, created with mode 0600 on first use. A key file that
 * group or others can read, or a data directory they can enter, is refused with a
 * {@link FileModeError} rather than used, since anyone who can read the key can decrypt every
 * secret in the store.
 */
export function loadMasterKey(options: MasterKeyOptions): Buffer {
  if (options.dataDir !== undefined) ensureDataDir(options.dataDir);
  const fromEnv = (options.env ?? process.env)[MASTER_KEY_ENV];
  if (fromEnv !== undefined && fromEnv !== "")
    return decode(fromEnv, `The environment variable ${MASTER_KEY_ENV}`);
  if (options.dataDir === undefined) {
    throw new MasterKeyError(
      `No master key: set ${MASTER_KEY_ENV} to a base64 32-byte key (openssl rand -base64 32) or give a data directory.`,
    );
  }
  const file = join(options.dataDir, MASTER_KEY_FILE);
  assertPrivateFile(file, {
    what: "The master key file",
    why: "anyone who can read it can decrypt every secret in the store",
  });
  createIfMissing(file);
  return decode(readFileSync(file, "utf8"), `The master key file ${file}`);
}

/**
 * Creates the data directory 0700, or checks an existing one is 0700: it holds the master key,
 * the administrator's AWS profile and the generated TLS keys.
 */
export function ensureDataDir(dir: string): void {
  assertPrivateDirectory(dir, {
    what: "The data directory",
    why: "it holds the master key, the administrator's AWS credentials and TLS private keys",
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

/**
 * Writes the new key to a private temporary file, then links it into place: the link fails if
 * another process won the race, and nobody ever reads a half-written key file.
 */
function createIfMissing(file: string): void {
  if (existsSync(file)) return;
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  const fd = openSync(tmp, "wx", 0o600);
  try {
    writeSync(fd, `${randomBytes(32).toString("base64")}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
  } finally {
    unlinkSync(tmp);
  }
}
