import type { DbAccount, DbAccountStore } from "../instances/accounts.js";
import { newDbPassword } from "../instances/accounts.js";
import { type BackendSpec, InstanceNotFoundError, type InstanceRegistry } from "../instances/types.js";
import { ProvisionError } from "./admin.js";
import { engineModule } from "./registry.js";

export type DbUserAction = "create" | "enable" | "rotate" | "delete";

/** A DB user that is not an IAM DB account of the instance (delete with --keep-role). */
export class DbUserNotFoundError extends Error {
  constructor(instance: string, username: string) {
    super(
      `"${username}" is not an IAM DB user of ${instance}; list them with: iamdb db-user list --db-instance-identifier ${instance}`,
    );
    this.name = "DbUserNotFoundError";
  }
}

/**
 * The instance's backend administrator named as a DB user: iamdb provisions every IAM account
 * through it, so giving it a gateway-held password (or dropping it) would lock iamdb out of the
 * backend, and IAM would hand full control of the backend to whoever may connect as it.
 */
export class AdminUserRefused extends ProvisionError {
  constructor(instance: string, username: string, action: DbUserAction) {
    super(
      `"${username}" is the backend administrator of ${instance} (its backend.adminUser), through which iamdb provisions every IAM DB user; db-user ${action} would ${action === "delete" ? "drop it" : "replace its password"} and lock iamdb out of the backend: use another DB user (create one with db-user create)`,
    );
    this.name = "AdminUserRefused";
  }
}

/**
 * IAM-only DB accounts, the rds_iam way, for every gateway of the fleet: the gateway-held
 * password is generated here, set on the backend with the instance's administrator (which every
 * gateway's configuration names), and sealed in the shared store; nobody ever sees it.
 * Each account is one store row written in one statement, so concurrent commands for different
 * users never lose each other's accounts. Commands for the same account run one at a time in
 * this process, so the password the store keeps is the one the backend got last. (Two gateways
 * rotating the same account at the same instant are not ordered: see docs/FLEET.md.)
 */
export class DbUserService {
  readonly #queues = new Map<string, Promise<unknown>>();

  constructor(
    private readonly registry: InstanceRegistry,
    private readonly accounts: DbAccountStore,
    private readonly backendOf: (identifier: string) => BackendSpec | undefined,
  ) {}

  #instance(identifier: string) {
    const i = this.registry.get(identifier);
    const backend = this.backendOf(identifier);
    if (i === undefined || backend === undefined) throw new InstanceNotFoundError(identifier);
    return { provisioner: engineModule(i.engine).accounts, backend };
  }

  /** Runs the account's operations one at a time in this process. */
  #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.#queues.set(key, tail);
    void tail.then(() => {
      if (this.#queues.get(key) === tail) this.#queues.delete(key);
    });
    return next;
  }

  list(identifier: string): Promise<DbAccount[]> {
    this.#instance(identifier);
    return this.accounts.list(identifier);
  }

  /** create / enable / rotate: a new password on the backend, then in the store. */
  run(
    identifier: string,
    action: DbUserAction,
    username: string,
    options: { keepRole?: boolean; allowSuperuser?: boolean } = {},
  ) {
    const { provisioner, backend } = this.#instance(identifier);
    if (username === backend.adminUser && !(action === "delete" && options.keepRole)) {
      throw new AdminUserRefused(identifier, username, action);
    }
    return this.#serial(`${identifier}\0${username}`, async (): Promise<DbAccount | undefined> => {
      if (action === "delete") {
        if (!options.keepRole) await provisioner.drop(backend, username);
        const removed = await this.accounts.delete(identifier, username);
        if (!removed && options.keepRole) throw new DbUserNotFoundError(identifier, username);
        return undefined;
      }
      const password = newDbPassword();
      if (action === "enable") {
        await provisioner.enable(backend, username, password, {
          allowSuperuser: options.allowSuperuser ?? false,
        });
      } else {
        await provisioner[action](backend, username, password);
      }
      return this.accounts.put(identifier, username, password);
    });
  }
}
