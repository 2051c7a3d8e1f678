import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { SecretBox } from "../iam/secret-box.js";
import { writeFileAtomic } from "./files.js";

/**
 * IAM-only DB accounts: for each (instance, DB user) the password only the gateway holds,
 * sealed with the master key. RDS marks such accounts with the rds_iam role (PostgreSQL) or
 * the AWSAuthenticationPlugin (MySQL); iamdb marks them on the backend the same way where it
 * can, and keeps the login credential here.
 */
export interface DbAccount {
  readonly instance: string;
  readonly username: string;
  readonly createdAt: string;
  readonly rotatedAt: string;
}

interface Stored extends DbAccount {
  readonly sealedPassword: string;
}

export const DB_ACCOUNTS_FILE = "db-accounts.json";

const context = (instance: string, username: string) => `iamdb:db-account:${instance}/${username}`;

/** A password no one types: 32 random bytes, URL-safe base64 (no quoting issues in SQL or URLs). */
export function newDbPassword(): string {
  return randomBytes(32).toString("base64url");
}

/**
 * The account file, re-read when another process (the `iamdb db-user` command) changed it,
 * so a running gateway sees a new or deleted account on the next login.
 */
export class DbAccountStore {
  readonly #file: string;
  #mtimeMs = -1;
  #accounts = new Map<string, Stored>();

  constructor(
    dataDir: string,
    private readonly secrets: SecretBox,
  ) {
    this.#file = join(dataDir, DB_ACCOUNTS_FILE);
  }

  #key(instance: string, username: string): string {
    return `${instance}\0${username}`;
  }

  #refresh(): void {
    const mtimeMs = existsSync(this.#file) ? statSync(this.#file).mtimeMs : 0;
    if (mtimeMs === this.#mtimeMs) return;
    const list: Stored[] = mtimeMs === 0 ? [] : (JSON.parse(readFileSync(this.#file, "utf8")).accounts ?? []);
    this.#accounts = new Map(list.map((a) => [this.#key(a.instance, a.username), a]));
    this.#mtimeMs = mtimeMs;
  }

  #save(): void {
    writeFileAtomic(
      this.#file,
      `${JSON.stringify({ version: 1, accounts: [...this.#accounts.values()] }, null, 2)}\n`,
    );
    this.#mtimeMs = statSync(this.#file).mtimeMs;
  }

  list(instance?: string): DbAccount[] {
    this.#refresh();
    return [...this.#accounts.values()]
      .filter((a) => instance === undefined || a.instance === instance)
      .map(({ sealedPassword: _s, ...a }) => a);
  }

  has(instance: string, username: string): boolean {
    this.#refresh();
    return this.#accounts.has(this.#key(instance, username));
  }

  /** The gateway-held password, unsealed only for the backend login. */
  password(instance: string, username: string): string | undefined {
    this.#refresh();
    const a = this.#accounts.get(this.#key(instance, username));
    return a && this.secrets.open(a.sealedPassword, context(instance, username));
  }

  put(instance: string, username: string, password: string): void {
    this.#refresh();
    const now = new Date().toISOString();
    const existing = this.#accounts.get(this.#key(instance, username));
    this.#accounts.set(this.#key(instance, username), {
      instance,
      username,
      createdAt: existing?.createdAt ?? now,
      rotatedAt: now,
      sealedPassword: this.secrets.seal(password, context(instance, username)),
    });
    this.#save();
  }

  delete(instance: string, username: string): boolean {
    this.#refresh();
    const removed = this.#accounts.delete(this.#key(instance, username));
    if (removed) this.#save();
    return removed;
  }
}
