import { LimitExceededError, ValidationError } from "./errors.js";
import { checkString } from "./validation.js";

/** A tag on a user or role. */
export interface Tag {
  readonly key: string;
  readonly value: string;
}

/** @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_tags.html#id_tags_rules_creating */
export const MAX_TAGS = 50;
const TAG_CHARS = /^(?:[\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;

export function checkTags(field: string, tags: readonly Tag[]): readonly Tag[] {
  const seen = new Set<string>();
  for (const t of tags) {
    checkString(`${field}.member.key`, t.key, 1, 128, TAG_CHARS);
    checkString(`${field}.member.value`, t.value, 0, 256, TAG_CHARS);
    if (t.key.toLowerCase().startsWith("aws:")) {
      throw new ValidationError(`Tag keys starting with 'aws:' are reserved for AWS use: ${t.key}`);
    }
    // IAM tag keys on users and roles are not case sensitive, though case is preserved.
    const k = t.key.toLowerCase();
    if (seen.has(k))
      throw new ValidationError(`Duplicate tag keys found. Tag key ${t.key} appears more than once.`);
    seen.add(k);
  }
  return tags;
}

/** TagUser/TagRole semantics: a new value replaces the old one for a key that differs only in case. */
export function mergeTags(current: readonly Tag[], added: readonly Tag[]): Tag[] {
  const byKey = new Map<string, Tag>();
  for (const t of current) byKey.set(t.key.toLowerCase(), t);
  for (const t of added) byKey.set(t.key.toLowerCase(), t);
  const merged = [...byKey.values()];
  if (merged.length > MAX_TAGS) {
    throw new LimitExceededError(`The number of tags has reached the maximum limit of ${MAX_TAGS}.`);
  }
  return merged;
}

export function removeTags(current: readonly Tag[], keys: readonly string[]): Tag[] {
  const drop = new Set(keys.map((k) => k.toLowerCase()));
  return current.filter((t) => !drop.has(t.key.toLowerCase()));
}

/** Tags as the evaluator's `aws:PrincipalTag/KEY` lookup wants them. */
export function tagsToRecord(tags: readonly Tag[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags) out[t.key] = t.value;
  return out;
}

/**
 * `base` with `over` laid on top: a tag in `over` replaces one in `base` whose key differs only
 * in case (session tags override the role's tags that way), keeping the overriding key's case.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_know
 */
export function overlayTags(
  base: Readonly<Record<string, string>>,
  over: readonly Tag[],
): Record<string, string> {
  if (over.length === 0) return { ...base };
  const byKey = new Map<string, Tag>();
  for (const [key, value] of Object.entries(base)) byKey.set(key.toLowerCase(), { key, value });
  for (const t of over) byKey.set(t.key.toLowerCase(), t);
  return tagsToRecord([...byKey.values()]);
}
