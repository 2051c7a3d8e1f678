/**
 * The request context: the key/value pairs conditions and policy variables read.
 *
 * Key names are case-insensitive ("aws:CurrentTime is equivalent to
 * AWS:currenttime"); values keep their case.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html#policy-eval-reqcontext
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
 */
import type { VariableSource } from "./variables.js";

export type ContextScalar = string | number | boolean | Date;
/** An array is a multivalued key (e.g. `aws:TagKeys`); `null`/`undefined`/`[]` mean absent. */
export type ContextValue = ContextScalar | readonly ContextScalar[] | null | undefined;
export type RequestContext = Readonly<Record<string, ContextValue>>;

interface Entry {
  readonly key: string;
  readonly values: readonly ContextScalar[];
  readonly multivalued: boolean;
}

/** Case-insensitive view of one request's context, built once per evaluation. */
export class ContextLookup implements VariableSource {
  private readonly entries = new Map<string, Entry>();

  constructor(context: RequestContext = {}) {
    for (const [key, value] of Object.entries(context)) this.setIfAbsent(key, value);
  }

  /** Adds `key` unless the caller already supplied it (caller values win over derived ones). */
  setIfAbsent(key: string, value: ContextValue): void {
    const keyLower = key.toLowerCase();
    if (this.entries.has(keyLower) || value === null || value === undefined) return;
    if (Array.isArray(value)) {
      const values = (value as readonly ContextScalar[]).filter((v) => v !== null && v !== undefined);
      if (values.length > 0) this.entries.set(keyLower, { key, values, multivalued: true });
    } else {
      this.entries.set(keyLower, { key, values: [value as ContextScalar], multivalued: false });
    }
  }

  has(keyLower: string): boolean {
    return this.entries.has(keyLower);
  }

  /** The key's values, or `undefined` when the key is absent or empty. */
  values(keyLower: string): readonly ContextScalar[] | undefined {
    return this.entries.get(keyLower)?.values;
  }

  /**
   * Value for `${key}`. Multivalued keys cannot be policy variables, so they do
   * not resolve.
   */
  variable(keyLower: string): string | undefined {
    const entry = this.entries.get(keyLower);
    if (entry === undefined || entry.multivalued) return undefined;
    const value = entry.values[0];
    return value === undefined ? undefined : scalarToString(value);
  }
}

/** How a context value reads as a string: dates as ISO 8601, the rest as JavaScript prints them. */
export function scalarToString(value: ContextScalar): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? "" : value.toISOString();
  return String(value);
}
