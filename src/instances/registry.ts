import type { ChangeFeed } from "../iam/repository.js";
import type { DeploymentRepository, InstanceStateRecord } from "./repository.js";
import { newDbiResourceId } from "./state.js";
import { type DbInstance, InstanceNotFoundError, type InstanceRegistry, type InstanceTag } from "./types.js";

export interface StoreRegistryOptions {
  readonly repo: DeploymentRepository;
  readonly changes: ChangeFeed;
  /** The configured instances; their DbiResourceId, IAM switch, tags and creation time are the config's initial values. */
  readonly configured: readonly DbInstance[];
  readonly accountId: string;
  readonly partition?: string;
  /** How often to ask the change feed for other processes' writes (SQLite has no push). Default 250 ms. */
  readonly pollMs?: number;
}

function withState(i: DbInstance, s: InstanceStateRecord): DbInstance {
  return {
    ...i,
    dbiResourceId: s.dbiResourceId,
    iamAuthEnabled: s.iamAuthEnabled,
    tags: s.tags,
    createdAt: s.createdAt,
  };
}

/**
 * The instances as the whole fleet sees them: the config file declares each instance (its
 * identity is the identifier); the store holds what changes (DbiResourceId, minted by the first
 * gateway to start, the IAM switch, tags). Reads come from memory, so the login path touches no
 * file and no store; every change, from this gateway or another, arrives through the store's
 * change feed and is applied within one notification (PostgreSQL) or one poll (SQLite).
 * While the feed is down, `current` reads the store instead of trusting memory.
 */
export class StoreInstanceRegistry implements InstanceRegistry {
  readonly #instances = new Map<string, DbInstance>();
  readonly #unsubscribe: () => void;
  readonly #timer: NodeJS.Timeout;
  #reloading: Promise<void> | undefined;
  #again = false;

  private constructor(private readonly options: StoreRegistryOptions) {
    for (const i of options.configured) this.#instances.set(i.identifier, i);
    this.#unsubscribe = options.changes.subscribe((c) => {
      if (c.scope === "all" || (c.scope === "deployment" && c.kind === "instances")) void this.reload();
    });
    this.#timer = setInterval(() => options.changes.poll(), options.pollMs ?? 250);
    this.#timer.unref();
  }

  /** Creates each configured instance's stored state when absent (one DbiResourceId wins) and loads it. */
  static async open(options: StoreRegistryOptions): Promise<StoreInstanceRegistry> {
    const registry = new StoreInstanceRegistry(options);
    for (const i of options.configured) {
      const state = await options.repo.ensureInstance({
        identifier: i.identifier,
        dbiResourceId: i.dbiResourceId || newDbiResourceId(),
        iamAuthEnabled: i.iamAuthEnabled,
        tags: i.tags,
        createdAt: i.createdAt,
      });
      registry.#instances.set(i.identifier, withState(i, state));
    }
    return registry;
  }

  /** Re-reads every instance's state; concurrent calls collapse into one more pass. */
  reload(): Promise<void> {
    if (this.#reloading) {
      this.#again = true;
      return this.#reloading;
    }
    this.#reloading = (async () => {
      do {
        this.#again = false;
        const states = await this.options.repo.listInstanceStates().catch(() => undefined);
        if (states === undefined) return; // store unreachable: `current` reads it again at the next login
        for (const s of states) this.#apply(s);
      } while (this.#again);
    })().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  #apply(s: InstanceStateRecord): DbInstance | undefined {
    const before = this.#instances.get(s.identifier);
    if (before === undefined) return undefined; // in the store, not in this gateway's config
    const next = withState(before, s);
    this.#instances.set(s.identifier, next);
    return next;
  }

  list(): readonly DbInstance[] {
    return [...this.#instances.values()];
  }

  get(identifier: string): DbInstance | undefined {
    return this.#instances.get(identifier);
  }

  /**
   * The instance as the store has it now: from memory while the change feed is live, else read
   * (and a failure to read is thrown, so the caller fails closed).
   */
  async current(identifier: string): Promise<DbInstance | undefined> {
    this.options.changes.poll();
    const known = this.#instances.get(identifier);
    if (known === undefined || this.options.changes.live) return known;
    const s = await this.options.repo.getInstanceState(identifier);
    return s === undefined ? known : (this.#apply(s) ?? known);
  }

  arn(instance: DbInstance): string {
    return `arn:${this.options.partition ?? "aws"}:rds:${instance.region}:${this.options.accountId}:db:${instance.identifier}`;
  }

  setIamAuth(identifier: string, enabled: boolean): Promise<DbInstance> {
    return this.#update(identifier, (s) => ({ ...s, iamAuthEnabled: enabled }));
  }

  addTags(identifier: string, tags: readonly InstanceTag[]): Promise<DbInstance> {
    return this.#update(identifier, (s) => {
      const merged = new Map(s.tags.map((t) => [t.key, t.value]));
      for (const t of tags) merged.set(t.key, t.value);
      return { ...s, tags: [...merged].map(([key, value]) => ({ key, value })) };
    });
  }

  removeTags(identifier: string, keys: readonly string[]): Promise<DbInstance> {
    const drop = new Set(keys);
    return this.#update(identifier, (s) => ({ ...s, tags: s.tags.filter((t) => !drop.has(t.key)) }));
  }

  /** Where this gateway listens (port 0 resolved): local to this process, never stored. */
  setListen(identifier: string, listen: { host: string; port: number }, port: number): void {
    const i = this.#instances.get(identifier);
    if (i === undefined) throw new InstanceNotFoundError(identifier);
    this.#instances.set(identifier, { ...i, listen, port });
  }

  async #update(
    identifier: string,
    change: (s: InstanceStateRecord) => InstanceStateRecord,
  ): Promise<DbInstance> {
    if (!this.#instances.has(identifier)) throw new InstanceNotFoundError(identifier);
    const next = await this.options.repo.updateInstanceState(identifier, change);
    if (next === undefined) throw new InstanceNotFoundError(identifier);
    return this.#apply(next) as DbInstance;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#unsubscribe();
  }
}
