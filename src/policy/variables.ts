/**
 * Policy variables: `${aws:username}`, `${aws:PrincipalTag/team, 'none'}`, and the
 * special `${*}`, `${?}`, `${$}`.
 *
 * Variables are substituted only in documents whose Version is 2012-10-17; in
 * 2008-10-17 documents (and documents without a Version) `${aws:username}` is the
 * literal text `${aws:username}`.
 *
 * A substituted value is always literal: a tag value containing `*` does not turn
 * into a wildcard. That is what `${*}` exists for, and it keeps a principal from
 * widening its own access by choosing a tag value.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
 */

/** One piece of a string written in a policy. */
export type TemplatePart =
  /** Text as written in the policy: `*` and `?` are wildcards where the element allows them. */
  | { readonly kind: "text"; readonly text: string }
  /** `${*}`, `${?}`, `${$}`, or a substituted value: never a wildcard. */
  | { readonly kind: "literal"; readonly text: string }
  | {
      readonly kind: "variable";
      /** The key as written, e.g. `aws:PrincipalTag/team`. */
      readonly key: string;
      /** Lower-cased key: context keys are case-insensitive. */
      readonly keyLower: string;
      readonly defaultValue: string | undefined;
    };

export interface Template {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  /** Keys of the variables used, as written (for MissingContextValues). */
  readonly variableKeys: readonly string[];
}

/** A resolved piece of text; `wildcards` says whether `*` and `?` in it are wildcards. */
export interface ResolvedPart {
  readonly text: string;
  readonly wildcards: boolean;
}

/** Reads a single-valued context key for substitution (key already lower-cased). */
export interface VariableSource {
  variable(keyLower: string): string | undefined;
}

export type Resolution<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly missingKey: string };

const SPECIAL: Readonly<Record<string, string>> = { "*": "*", "?": "?", $: "$" };

/**
 * `key` or `key, 'default'`. AWS documents ", " between the two; any white space is
 * accepted. A key must look like a condition key (`vendor:name`).
 */
const VARIABLE_BODY = /^\s*([^\s,'}:]+:[^,'}]*?)\s*(?:,\s*'([^']*)'\s*)?$/;

/**
 * Splits `source` into text, literals and variables. With `substitute` false
 * (2008-10-17 policies) the whole string is one text part.
 */
export function parseTemplate(source: string, substitute: boolean): Template {
  if (!substitute || !source.includes("${")) {
    return { source, parts: source === "" ? [] : [{ kind: "text", text: source }], variableKeys: [] };
  }
  const parts: TemplatePart[] = [];
  const variableKeys: string[] = [];
  let text = "";
  let i = 0;
  while (i < source.length) {
    const open = source.indexOf("${", i);
    if (open < 0) {
      text += source.slice(i);
      break;
    }
    const close = source.indexOf("}", open + 2);
    if (close < 0) {
      // An unterminated "${" is ordinary text.
      text += source.slice(i);
      break;
    }
    text += source.slice(i, open);
    const body = source.slice(open + 2, close);
    const special = SPECIAL[body];
    const variable = special === undefined ? VARIABLE_BODY.exec(body) : null;
    if (special !== undefined) {
      if (text !== "") parts.push({ kind: "text", text });
      text = "";
      parts.push({ kind: "literal", text: special });
    } else if (variable?.[1] !== undefined) {
      if (text !== "") parts.push({ kind: "text", text });
      text = "";
      const key = variable[1];
      parts.push({ kind: "variable", key, keyLower: key.toLowerCase(), defaultValue: variable[2] });
      if (!variableKeys.includes(key)) variableKeys.push(key);
    } else {
      // Not a variable we understand (e.g. "${}"): keep it as written.
      text += source.slice(open, close + 1);
    }
    i = close + 1;
  }
  if (text !== "") parts.push({ kind: "text", text });
  return { source, parts, variableKeys };
}

/**
 * Substitutes variables from `source`. A variable without a value and without a
 * default leaves the template unresolved: AWS says "any attempt to match it fails".
 */
export function resolveTemplate(template: Template, source: VariableSource): Resolution<ResolvedPart[]> {
  const out: ResolvedPart[] = [];
  for (const part of template.parts) {
    if (part.kind === "text") {
      out.push({ text: part.text, wildcards: true });
    } else if (part.kind === "literal") {
      out.push({ text: part.text, wildcards: false });
    } else {
      const value = source.variable(part.keyLower) ?? part.defaultValue;
      if (value === undefined) return { ok: false, missingKey: part.key };
      out.push({ text: value, wildcards: false });
    }
  }
  return { ok: true, value: out };
}

/**
 * A template compiled into some matcher `T`. When the template has no variables
 * the matcher is built once, at policy compile time; otherwise on each evaluation.
 */
export class TemplateValue<T> {
  readonly template: Template;
  private readonly build: (parts: readonly ResolvedPart[]) => T;
  private readonly fixed: Resolution<T> | undefined;

  constructor(template: Template, build: (parts: readonly ResolvedPart[]) => T) {
    this.template = template;
    this.build = build;
    if (template.variableKeys.length === 0) {
      const resolved = resolveTemplate(template, NO_VARIABLES);
      this.fixed = resolved.ok ? { ok: true, value: build(resolved.value) } : resolved;
    }
  }

  resolve(source: VariableSource): Resolution<T> {
    if (this.fixed !== undefined) return this.fixed;
    // The same principals ask again and again: reuse the matcher built for the
    // same variable values instead of compiling it on every evaluation.
    let key = "";
    for (const part of this.template.parts) {
      if (part.kind !== "variable") continue;
      const value = source.variable(part.keyLower) ?? part.defaultValue;
      if (value === undefined) return { ok: false, missingKey: part.key };
      key += `${value.length}:${value}`;
    }
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached;
    const resolved = resolveTemplate(this.template, source);
    const result: Resolution<T> = resolved.ok ? { ok: true, value: this.build(resolved.value) } : resolved;
    if (this.cache.size >= TEMPLATE_CACHE_SIZE) this.cache.clear();
    this.cache.set(key, result);
    return result;
  }

  private readonly cache = new Map<string, Resolution<T>>();
}

/** Matchers kept per templated value; the cache is simply dropped when full. */
const TEMPLATE_CACHE_SIZE = 256;

const NO_VARIABLES: VariableSource = { variable: () => undefined };

/** Concatenates resolved parts, wildcards or not. */
export function joinParts(parts: readonly ResolvedPart[]): string {
  let s = "";
  for (const p of parts) s += p.text;
  return s;
}
