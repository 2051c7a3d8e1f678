import { uriEncode } from "./encoding.js";

/**
 * The canonical query string: each name and value encoded once, pairs sorted by encoded
 * name then encoded value (code-unit order, which equals byte order for the ASCII that
 * encoding leaves), joined with '&'.
 */
export function canonicalQuery(pairs: ReadonlyArray<readonly [string, string]>): string {
  const encoded = pairs.map(([k, v]) => [uriEncode(k), uriEncode(v)] as const);
  encoded.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return encoded.map(([k, v]) => `${k}=${v}`).join("&");
}
