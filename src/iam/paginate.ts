import { ValidationError } from "./errors.js";
import { checkMaxItems } from "./validation.js";
import type { Page } from "./views.js";

export interface PageRequest {
  /** From the previous page's `marker`. */
  readonly marker?: string | undefined;
  /** 1..1000, default 100. */
  readonly maxItems?: number | undefined;
}

/**
 * Marker/MaxItems paging over a list, ordered by `keyOf`. The marker is the last key returned,
 * base64url-encoded, so a page boundary survives inserts and deletes between calls.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListUsers.html
 */
export function paginate<T>(list: readonly T[], keyOf: (item: T) => string, request: PageRequest): Page<T> {
  const max = checkMaxItems(request.maxItems);
  // Sorted here by code unit, not by the database: PostgreSQL's collation may order text differently.
  const sorted = [...list].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  let start = 0;
  if (request.marker !== undefined) {
    const after = Buffer.from(request.marker, "base64url").toString("utf8");
    if (after.length === 0)
      throw new ValidationError("Invalid Marker: pass the marker from the previous response.");
    start = sorted.findIndex((item) => keyOf(item) > after);
    if (start < 0) start = sorted.length;
  }
  const items = sorted.slice(start, start + max);
  const isTruncated = start + max < sorted.length;
  const last = items[items.length - 1];
  return {
    items,
    isTruncated,
    marker:
      isTruncated && last !== undefined ? Buffer.from(keyOf(last), "utf8").toString("base64url") : undefined,
  };
}
