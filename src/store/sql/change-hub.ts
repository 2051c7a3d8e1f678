import type { Invalidation } from "../../iam/repository.js";

/** Fan-out of invalidations to in-process listeners; shared by both drivers. */
export class ChangeHub {
  private readonly listeners = new Set<(change: Invalidation) => void>();

  subscribe(listener: (change: Invalidation) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(change: Invalidation): void {
    for (const l of this.listeners) l(change);
  }
}

/** One `all` covers every other change in the same transaction; duplicates go once. */
export function coalesce(changes: readonly Invalidation[]): Invalidation[] {
  if (changes.some((c) => c.scope === "all")) return [{ scope: "all" }];
  const seen = new Set<string>();
  return changes.filter((c) => {
    const key =
      c.scope === "credential" ? `c:${c.accessKeyId}` : c.scope === "deployment" ? `d:${c.kind}` : "";
    return !seen.has(key) && seen.add(key);
  });
}
