import {
  type DbInstance,
  type InstanceChange,
  InstanceNotFoundError,
  type InstanceRegistry,
  type InstanceTag,
} from "./types.js";

export interface RegistryOptions {
  readonly accountId: string;
  readonly partition?: string;
  /** Called with the instances after every change, to persist their mutable state. */
  readonly persist?: (instances: readonly DbInstance[]) => void;
}

/** An instance registry over a fixed set of instances whose mutable fields (IAM, tags) can change. */
export class MemoryInstanceRegistry implements InstanceRegistry {
  readonly #instances = new Map<string, DbInstance>();
  readonly #listeners = new Set<(c: InstanceChange) => void>();

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

  arn(instance: DbInstance): string {
    return `arn:${this.options.partition ?? "aws"}:rds:${instance.region}:${this.options.accountId}:db:${instance.identifier}`;
  }

  setIamAuth(identifier: string, enabled: boolean): DbInstance {
    return this.update(identifier, (i) => ({ ...i, iamAuthEnabled: enabled }));
  }

  addTags(identifier: string, tags: readonly InstanceTag[]): DbInstance {
    return this.update(identifier, (i) => {
      const merged = new Map(i.tags.map((t) => [t.key, t.value]));
      for (const t of tags) merged.set(t.key, t.value);
      return { ...i, tags: [...merged].map(([key, value]) => ({ key, value })) };
    });
  }

  removeTags(identifier: string, keys: readonly string[]): DbInstance {
    const drop = new Set(keys);
    return this.update(identifier, (i) => ({ ...i, tags: i.tags.filter((t) => !drop.has(t.key)) }));
  }

  onChange(listener: (change: InstanceChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Changes an instance and tells the listeners (the RDS API's operations go through here). */
  update(identifier: string, change: (i: DbInstance) => DbInstance): DbInstance {
    const current = this.#instances.get(identifier);
    if (!current) throw new InstanceNotFoundError(identifier);
    const next = change(current);
    this.#instances.set(identifier, next);
    this.options.persist?.(this.list());
    for (const l of this.#listeners) l({ identifier });
    return next;
  }
}
