import { type DbInstance, InstanceNotFoundError, type InstanceRegistry, type InstanceTag } from "./types.js";

export interface RegistryOptions {
  readonly accountId: string;
  readonly partition?: string;
}

/**
 * An instance registry held in memory only: for tests of the API and of code that needs a
 * registry without a store. `iamdb up` uses `StoreInstanceRegistry`.
 */
export class MemoryInstanceRegistry implements InstanceRegistry {
  readonly #instances = new Map<string, DbInstance>();

  constructor(
    instances: readonly DbInstance[],
    private readonly options: RegistryOptions,
  ) {
    for (const i of instances) this.#instances.set(i.identifier, i);
  }

  list(): readonly DbInstance[] {
    return [...this.#instances.values()];
  }

  get(identifier: string): DbInstance | undefined {
    return this.#instances.get(identifier);
  }

  async current(identifier: string): Promise<DbInstance | undefined> {
    return this.#instances.get(identifier);
  }

  arn(instance: DbInstance): string {
    return `arn:${this.options.partition ?? "aws"}:rds:${instance.region}:${this.options.accountId}:db:${instance.identifier}`;
  }

  async setIamAuth(identifier: string, enabled: boolean): Promise<DbInstance> {
    return this.update(identifier, (i) => ({ ...i, iamAuthEnabled: enabled }));
  }

  async addTags(identifier: string, tags: readonly InstanceTag[]): Promise<DbInstance> {
    return this.update(identifier, (i) => {
      const merged = new Map(i.tags.map((t) => [t.key, t.value]));
      for (const t of tags) merged.set(t.key, t.value);
      return { ...i, tags: [...merged].map(([key, value]) => ({ key, value })) };
    });
  }

  async removeTags(identifier: string, keys: readonly string[]): Promise<DbInstance> {
    const drop = new Set(keys);
    return this.update(identifier, (i) => ({ ...i, tags: i.tags.filter((t) => !drop.has(t.key)) }));
  }

  /** Changes an instance. */
  update(identifier: string, change: (i: DbInstance) => DbInstance): DbInstance {
    const current = this.#instances.get(identifier);
    if (!current) throw new InstanceNotFoundError(identifier);
    const next = change(current);
    this.#instances.set(identifier, next);
    return next;
  }
}
