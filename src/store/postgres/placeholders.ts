const cache = new Map<string, string>();

/**
 * Rewrites the shared SQL's `?` placeholders as PostgreSQL's `$1, $2, …`. The shared SQL never
 * puts `?` inside a literal or uses PostgreSQL's `?` JSON operators, so a plain scan is exact.
 */
export function toPositional(sql: string): string {
  let out = cache.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    cache.set(sql, out);
  }
  return out;
}
