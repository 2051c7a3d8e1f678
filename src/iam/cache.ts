import type { ChangeFeed } from "./repository.js";

/**
 * A bounded LRU map that is only trusted while the store's change feed is live, polled before
 * every read, and that refuses to store a value loaded across an invalidation (the load may
 * have read the state from before the change).
 */
export class InvalidatingCache<V> {
  private readonly entries = new Map<string, V>();
  private generation = 0;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly maxEntries: number,
  ) {}

  async get(key: string, load: () => Promise<V | undefined>): Promise<V | undefined> {
    this.feed.poll();
    const usable = this.feed.live;
    if (usable) {
      const hit = this.entries.get(key);
      if (hit !== undefined) {
        this.entries.delete(key);
        this.entries.set(key, hit);
        return hit;
      }
    }
    const generation = this.generation;
    const value = await load();
    if (value !== undefined && usable && this.feed.live && generation === this.generation) {
      this.entries.set(key, value);
      if (this.entries.size > this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
    }
    return value;
  }

  delete(key: string): void {
    this.generation++;
    this.entries.delete(key);
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}
