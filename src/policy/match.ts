/**
 * Wildcard matching for actions, resources and string/ARN condition values.
 *
 * Patterns are compiled once into code arrays and matched with a small NFA; no
 * regular expression is ever built from policy text, so `.`, `+`, `(`, `[` and
 * `\` are ordinary characters.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html#reference_policies_elements_resource_wildcards
 */
import type { ResolvedPart } from "./variables.js";

/** `?`: any one character. */
const ANY = -1;
/** `*`: any run of characters. */
const STAR = -2;
/** `?` inside an ARN segment: any one character except `:`. */
const ANY_IN_SEGMENT = -3;
/** `*` in the middle of an ARN segment: any run without `:`. */
const STAR_IN_SEGMENT = -4;
const COLON = 0x3a;

export interface GlobOptions {
  /** Fold case of pattern and value (actions, `StringEqualsIgnoreCase`). */
  readonly ignoreCase?: boolean;
  /**
   * Resource-element rules: a `*` may cross a `:` only when it is the last
   * character of an ARN segment ("If the * wildcard is the last character of a
   * resource ARN segment, it can expand to match beyond the colon boundaries").
   */
  readonly arnSegments?: boolean;
}

export interface Glob {
  /** Set when the pattern has no wildcard: plain equality. */
  readonly exact: string | undefined;
  readonly prefix: string;
  readonly suffix: string;
  /** From the first wildcard to the last one, as codes (chars >= 0, wildcards < 0). */
  readonly middle: readonly number[];
  readonly minLength: number;
  readonly ignoreCase: boolean;
}

/** Compiles resolved parts; `*`/`?` are wildcards only in parts that allow them. */
export function compileGlob(parts: readonly ResolvedPart[], options: GlobOptions = {}): Glob {
  const ignoreCase = options.ignoreCase === true;
  const codes: number[] = [];
  for (const part of parts) {
    const text = ignoreCase ? part.text.toLowerCase() : part.text;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (part.wildcards && c === 0x2a) {
        // Consecutive stars are one star.
        if (codes[codes.length - 1] !== STAR) codes.push(STAR);
      } else if (part.wildcards && c === 0x3f) {
        codes.push(ANY);
      } else {
        codes.push(c);
      }
    }
  }
  if (options.arnSegments === true) {
    for (let i = 0; i < codes.length; i++) {
      const next = codes[i + 1];
      if (codes[i] === STAR && next !== undefined && next !== COLON) codes[i] = STAR_IN_SEGMENT;
      else if (codes[i] === ANY) codes[i] = ANY_IN_SEGMENT;
    }
  }
  const first = codes.findIndex((c) => c < 0);
  if (first < 0) {
    const exact = codesToString(codes);
    return { exact, prefix: exact, suffix: "", middle: [], minLength: codes.length, ignoreCase };
  }
  let last = codes.length - 1;
  while ((codes[last] ?? 0) >= 0) last--;
  let minLength = 0;
  for (const c of codes) if (c !== STAR && c !== STAR_IN_SEGMENT) minLength++;
  return {
    exact: undefined,
    prefix: codesToString(codes.slice(0, first)),
    suffix: codesToString(codes.slice(last + 1)),
    middle: codes.slice(first, last + 1),
    minLength,
    ignoreCase,
  };
}

/** Compiles a pattern written directly in a policy (no variables). */
export function compileGlobText(pattern: string, options: GlobOptions = {}): Glob {
  return compileGlob([{ text: pattern, wildcards: true }], options);
}

/** Compiles text in which `*` and `?` are ordinary characters. */
export function compileLiteral(text: string, options: GlobOptions = {}): Glob {
  return compileGlob([{ text, wildcards: false }], options);
}

/**
 * Whether `input` matches. For a case-insensitive glob pass `inputIsLowerCase`
 * when the caller already lower-cased the input (the action, once per request).
 */
export function matchGlob(glob: Glob, input: string, inputIsLowerCase = false): boolean {
  const value = glob.ignoreCase && !inputIsLowerCase ? input.toLowerCase() : input;
  if (glob.exact !== undefined) return value === glob.exact;
  if (value.length < glob.minLength) return false;
  if (!value.startsWith(glob.prefix) || !value.endsWith(glob.suffix)) return false;
  return matchMiddle(glob.middle, value, glob.prefix.length, value.length - glob.suffix.length);
}

/** `String.fromCharCode(...codes)` without hitting the argument-count limit on long patterns. */
function codesToString(codes: readonly number[]): string {
  let s = "";
  for (let i = 0; i < codes.length; i += 4096) s += String.fromCharCode(...codes.slice(i, i + 4096));
  return s;
}

/** Simulates the pattern as an NFA over `value[start, end)`: O(length x pattern). */
function matchMiddle(items: readonly number[], value: string, start: number, end: number): boolean {
  const m = items.length;
  if (m === 1) {
    if (items[0] === STAR) return true;
    if (items[0] === STAR_IN_SEGMENT) {
      const colon = value.indexOf(":", start);
      return colon < 0 || colon >= end;
    }
  }
  let current = new Uint8Array(m + 1);
  let next = new Uint8Array(m + 1);
  current[0] = 1;
  epsilonClose(items, current);
  for (let p = start; p < end; p++) {
    const c = value.charCodeAt(p);
    next.fill(0);
    let alive = false;
    for (let i = 0; i < m; i++) {
      if (current[i] !== 1) continue;
      const item = items[i];
      if (item === STAR || (item === STAR_IN_SEGMENT && c !== COLON)) {
        next[i] = 1;
        alive = true;
      } else if (item === c || item === ANY || (item === ANY_IN_SEGMENT && c !== COLON)) {
        next[i + 1] = 1;
        alive = true;
      }
    }
    if (!alive) return false;
    epsilonClose(items, next);
    const swap = current;
    current = next;
    next = swap;
  }
  return current[m] === 1;
}

/** A star can match nothing: being before it means also being after it. */
function epsilonClose(items: readonly number[], states: Uint8Array): void {
  for (let i = 0; i < items.length; i++) {
    if (states[i] === 1 && (items[i] === STAR || items[i] === STAR_IN_SEGMENT)) states[i + 1] = 1;
  }
}

/**
 * An ARN pattern for the Arn condition operators: "Each of the six colon-delimited
 * components of the ARN is checked separately and each can include multi-character
 * match wildcards (*) or single-character match wildcards (?)".
 *
 * A pattern with fewer than six components (for example `*`) matches its last
 * component against the rest of the value.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN
 */
export interface ArnPattern {
  readonly segments: readonly Glob[];
}

export function compileArnPattern(parts: readonly ResolvedPart[]): ArnPattern {
  const segments: ResolvedPart[][] = [[]];
  for (const part of parts) {
    let rest = part.text;
    for (;;) {
      const current = segments[segments.length - 1] as ResolvedPart[];
      const colon = segments.length < 6 ? rest.indexOf(":") : -1;
      if (colon < 0) {
        current.push({ text: rest, wildcards: part.wildcards });
        break;
      }
      current.push({ text: rest.slice(0, colon), wildcards: part.wildcards });
      segments.push([]);
      rest = rest.slice(colon + 1);
    }
  }
  return { segments: segments.map((s) => compileGlob(s)) };
}

export function matchArnPattern(pattern: ArnPattern, value: string): boolean {
  const values = splitArn(value, pattern.segments.length);
  if (values.length !== pattern.segments.length) return false;
  for (let i = 0; i < values.length; i++) {
    const glob = pattern.segments[i];
    const segment = values[i];
    if (glob === undefined || segment === undefined || !matchGlob(glob, segment)) return false;
  }
  return true;
}

/** Splits at the first `count - 1` colons; the last piece keeps the rest. */
export function splitArn(value: string, count = 6): string[] {
  const out: string[] = [];
  let start = 0;
  while (out.length < count - 1) {
    const colon = value.indexOf(":", start);
    if (colon < 0) break;
    out.push(value.slice(start, colon));
    start = colon + 1;
  }
  out.push(value.slice(start));
  return out;
}
