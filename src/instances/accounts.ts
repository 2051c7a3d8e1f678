import { randomBytes } from "node:crypto";
import { InvalidatingCache } from "../iam/cache.js";
import type { ChangeFeed } from "../iam/repository.js";
import type { SecretBox } from "../iam/secret-box.js";
import type { DbAccountRecord, DeploymentRepository } from "./repository.js";

/**
 * IAM-only DB accounts: for each (instance, DB user) the password only the gateway holds,
 * sealed with the master key, in the store every gateway shares. RDS marks such accounts with
 * the rds_iam role (PostgreSQL) or the AWSAuthenticationPlugin (MySQL); iamdb marks them on
 * the backend the same way where it can, and keeps the login credential here.
 */
export interface DbAccount {
  readonly instance: string;
  readonly username: string;
  readonly createdAt: string;
  readonly rotatedAt: string;
}

/** The context a DB account's password is sealed under (the import of old data directories opens with it). */
export const dbAccountSealContext = (instance: string, username: string) =>
  `iamdb:db-account:${instance}/${username}`;

/** A password no one types: 32 random bytes, URL-safe base64 (no quoting issues in SQL or URLs). */
export function newDbPassword(): string {
  return randomBytes(32).toString("base64url");
}

function view(a: DbAccountRecord): DbAccount {
  return {
    instance: a.instance,
    username: a.username,
    createdAt: a.createdAt.toISOString(),
    rotatedAt: a.rotatedAt.toISOString(),
  };
}

/**
 * The accounts as the login path reads them: one store row per account, cached only while the
 * change feed is live and dropped on any account change from any gateway.
 */
export class DbAccountStore {
  readonly #cache: InvalidatingCache<DbAccountRecord | null>;
  readonly #unsubscribe: () => void;

  constructor(
    private readonly repo: DeploymentRepository,
    changes: ChangeFeed,
    private readonly secrets: SecretBox,
    cacheEntries = 10_000,
  ) {
    this.#cache = new InvalidatingCache(changes, cacheEntries);
    this.#unsubscribe = changes.subscribe((c) => {
      if (c.scope === "all" || (c.scope === "deployment" && c.kind === "dbAccounts")) this.#cache.clear();
    });
  }

  #key(instance: string, username: string): string {
    return `${instance}\0${username}`;
  }

  async list(instance?: string): Promise<DbAccount[]> {
    return (await this.repo.listDbAccounts(instance)).map(view);
  }

  async get(instance: string, username: string): Promise<DbAccount | undefined> {
    const a = await this.#record(instance, username);
    return a && view(a);
  }

  async #record(instance: string, username: string): Promise<DbAccountRecord | undefined> {
    // null caches "no such account" too, so a flood of logins as an unknown user stays in memory.
    const a = await this.#cache.get(
      this.#key(instance, username),
      async () => (await this.repo.getDbAccount(instance, username)) ?? null,
    );
    return a ?? undefined;
  }

  /** The gateway-held password, unsealed only for the backend login. */
  async password(instance: string, username: string): Promise<string | undefined> {
    const a = await this.#record(instance, username);
    return a && this.secrets.open(a.sealedPassword, dbAccountSealContext(instance, username));
  }

  async put(instance: string, username: string, password: string, now = new Date()): Promise<DbAccount> {
    const a = await this.repo.putDbAccount(
      instance,
      username,
      this.secrets.seal(password, dbAccountSealContext(instance, username)),
      now,
    );
    this.#cache.delete(this.#key(instance, username));
    return view(a);
  }

  async delete(instance: string, username: string): Promise<boolean> {
    const removed = await this.repo.deleteDbAccount(instance, username);
    this.#cache.delete(this.#key(instance, username));
    return removed;
  }

  close(): void {
    this.#unsubscribe();
  }
}
