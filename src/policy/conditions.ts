/**
 * Condition operators.
 *
 * Rules, from "Condition operators" and "Multivalued context keys":
 * - Several values for one key are ORed; several keys in one operator block, and
 *   several operator blocks, are ANDed (the caller ANDs the compiled conditions).
 * - A key missing from the context makes the condition false, except: negated
 *   operators (StringNotEquals, NotIpAddress, ArnNotLike, ...) are true,
 *   `...IfExists` is true, `Null` tests presence, `ForAllValues:` is true and
 *   `ForAnyValue:` is false.
 * - A negated operator is true only when the key matches none of the values.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
 */
import { type ContextLookup, type ContextScalar, scalarToString } from "./context.js";
import { type IpRange, ipInRange, parseCidr, parseIp } from "./ip.js";
import {
  type ArnPattern,
  compileArnPattern,
  compileGlob,
  type Glob,
  matchArnPattern,
  matchGlob,
} from "./match.js";
import { joinParts, parseTemplate, type ResolvedPart, TemplateValue } from "./variables.js";

/** Tests one context value against one (resolved) policy value. */
type ValueTest = (value: ContextScalar) => boolean;

/** What an operator family knows how to do with the policy's values. */
export interface OperatorFamily {
  /** Why `values` are unusable for this operator, or undefined when they are fine. */
  validate(values: readonly string[]): string | undefined;
  /** Builds a test for one policy value. `substitute` is true for Version 2012-10-17. */
  compile(value: string, substitute: boolean): TemplateValue<ValueTest>;
}

export interface ParsedOperator {
  /** Canonical name without qualifier or suffix, e.g. `StringNotLike`. */
  readonly base: string;
  readonly family: OperatorFamily;
  readonly negated: boolean;
  readonly ifExists: boolean;
  readonly qualifier: "ForAnyValue" | "ForAllValues" | undefined;
  readonly isNull: boolean;
}

/** A fixed test (no variables to substitute). */
function fixed(test: ValueTest): TemplateValue<ValueTest> {
  return new TemplateValue(parseTemplate("", false), () => test);
}

/** A test over text that may contain policy variables. */
function templated(value: string, substitute: boolean, build: (parts: readonly ResolvedPart[]) => ValueTest) {
  return new TemplateValue(parseTemplate(value, substitute), build);
}

const stringExact: OperatorFamily = {
  validate: () => undefined,
  compile: (value, substitute) =>
    templated(value, substitute, (parts) => {
      const expected = joinParts(parts);
      return (v) => scalarToString(v) === expected;
    }),
};

const stringIgnoreCase: OperatorFamily = {
  validate: () => undefined,
  compile: (value, substitute) =>
    templated(value, substitute, (parts) => {
      const expected = joinParts(parts).toLowerCase();
      return (v) => scalarToString(v).toLowerCase() === expected;
    }),
};

const stringLike: OperatorFamily = {
  validate: () => undefined,
  compile: (value, substitute) =>
    templated(value, substitute, (parts) => {
      const glob: Glob = compileGlob(parts);
      return (v) => matchGlob(glob, scalarToString(v));
    }),
};

const arn: OperatorFamily = {
  validate: () => undefined,
  compile: (value, substitute) =>
    templated(value, substitute, (parts) => {
      const pattern: ArnPattern = compileArnPattern(parts);
      return (v) => matchArnPattern(pattern, scalarToString(v));
    }),
};

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function toNumber(value: ContextScalar): number {
  if (typeof value === "number") return value;
  if (typeof value === "string" && DECIMAL.test(value.trim())) return Number(value);
  return Number.NaN;
}

function numeric(compare: (actual: number, expected: number) => boolean): OperatorFamily {
  return {
    validate: (values) => {
      const bad = values.find((v) => !DECIMAL.test(v.trim()));
      return bad === undefined ? undefined : `"${bad}" is not a number.`;
    },
    compile: (value) => {
      const expected = Number(value);
      return fixed((v) => {
        const actual = toNumber(v);
        return !Number.isNaN(actual) && compare(actual, expected);
      });
    },
  };
}

/** W3C profile of ISO 8601: YYYY-MM-DD, optionally Thh:mm[:ss[.s]] and a zone. */
const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|([+-])(\d{2}):?(\d{2}))?)?$/;
const EPOCH = /^-?\d+(\.\d+)?$/;

/**
 * Milliseconds since the epoch, or NaN. Values made only of digits are epoch
 * seconds (as `aws:EpochTime`); a date-time without a zone is UTC.
 */
export function parseDate(value: ContextScalar): number {
  if (value instanceof Date) return value.getTime();
  if (typeof value === "number") return Number.isFinite(value) ? value * 1000 : Number.NaN;
  if (typeof value !== "string") return Number.NaN;
  const text = value.trim();
  if (EPOCH.test(text)) return Number(text) * 1000;
  const m = ISO_DATE.exec(text);
  if (m === null) return Number.NaN;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) =>
    Number(x ?? 0),
  ) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 24 || minute > 59 || second > 60)
    return Number.NaN;
  const millis = m[7] === undefined ? 0 : Math.floor(Number(`0.${m[7]}`) * 1000);
  let time = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  if (m[9] !== undefined) {
    const offset = (Number(m[10]) * 60 + Number(m[11])) * 60_000;
    time += m[9] === "+" ? -offset : offset;
  }
  return time;
}

function date(compare: (actual: number, expected: number) => boolean): OperatorFamily {
  return {
    validate: (values) => {
      const bad = values.find((v) => Number.isNaN(parseDate(v)));
      return bad === undefined ? undefined : `"${bad}" is not an ISO 8601 date or epoch seconds.`;
    },
    compile: (value) => {
      const expected = parseDate(value);
      return fixed((v) => {
        const actual = parseDate(v);
        return !Number.isNaN(actual) && compare(actual, expected);
      });
    },
  };
}

const bool: OperatorFamily = {
  validate: (values) => {
    const bad = values.find((v) => !/^(true|false)$/i.test(v) && !v.includes("${"));
    return bad === undefined ? undefined : `"${bad}" is not "true" or "false".`;
  },
  // The Bool operator accepts policy variables, so the value is a template.
  compile: (value, substitute) =>
    templated(value, substitute, (parts) => {
      const expected = joinParts(parts).toLowerCase();
      return (v) => scalarToString(v).toLowerCase() === expected;
    }),
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function canonicalBase64(text: string): string | undefined {
  return BASE64.test(text) ? Buffer.from(text, "base64").toString("base64") : undefined;
}

/** "compares the value of the specified key byte for byte against a base-64 encoded representation". */
const binary: OperatorFamily = {
  validate: (values) => {
    const bad = values.find((v) => canonicalBase64(v) === undefined);
    return bad === undefined ? undefined : `"${bad}" is not base64.`;
  },
  compile: (value) => {
    const expected = canonicalBase64(value);
    return fixed((v) => expected !== undefined && typeof v === "string" && canonicalBase64(v) === expected);
  },
};

const ip: OperatorFamily = {
  validate: (values) => {
    const bad = values.find((v) => parseCidr(v) === undefined);
    return bad === undefined ? undefined : `"${bad}" is not an IPv4 or IPv6 address or CIDR range.`;
  },
  compile: (value) => {
    const range: IpRange | undefined = parseCidr(value);
    return fixed((v) => {
      const address = range !== undefined && typeof v === "string" ? parseIp(v.trim()) : undefined;
      return range !== undefined && address !== undefined && ipInRange(range, address);
    });
  },
};

const nullCheck: OperatorFamily = {
  validate: (values) => {
    const bad = values.find((v) => !/^(true|false)$/i.test(v));
    return bad === undefined
      ? undefined
      : `Null takes "true" (key absent) or "false" (key present), not "${bad}".`;
  },
  compile: () => fixed(() => false),
};

interface OperatorSpec {
  readonly family: OperatorFamily;
  readonly negated: boolean;
}

const eq = (a: number, b: number) => a === b;
const lt = (a: number, b: number) => a < b;
const le = (a: number, b: number) => a <= b;
const gt = (a: number, b: number) => a > b;
const ge = (a: number, b: number) => a >= b;

/**
 * Every operator IAM knows. Negated operators reuse the positive family; the
 * negation is applied over all values ("matches none of").
 */
const OPERATORS: ReadonlyMap<string, OperatorSpec & { readonly name: string }> = new Map(
  (
    [
      ["StringEquals", stringExact, false],
      ["StringNotEquals", stringExact, true],
      ["StringEqualsIgnoreCase", stringIgnoreCase, false],
      ["StringNotEqualsIgnoreCase", stringIgnoreCase, true],
      ["StringLike", stringLike, false],
      ["StringNotLike", stringLike, true],
      ["NumericEquals", numeric(eq), false],
      ["NumericNotEquals", numeric(eq), true],
      ["NumericLessThan", numeric(lt), false],
      ["NumericLessThanEquals", numeric(le), false],
      ["NumericGreaterThan", numeric(gt), false],
      ["NumericGreaterThanEquals", numeric(ge), false],
      ["DateEquals", date(eq), false],
      ["DateNotEquals", date(eq), true],
      ["DateLessThan", date(lt), false],
      ["DateLessThanEquals", date(le), false],
      ["DateGreaterThan", date(gt), false],
      ["DateGreaterThanEquals", date(ge), false],
      ["Bool", bool, false],
      ["BinaryEquals", binary, false],
      ["IpAddress", ip, false],
      ["NotIpAddress", ip, true],
      ["ArnEquals", arn, false],
      ["ArnLike", arn, false],
      ["ArnNotEquals", arn, true],
      ["ArnNotLike", arn, true],
      ["Null", nullCheck, false],
    ] as const
  ).map(([name, family, negated]) => [name.toLowerCase(), { name, family, negated }]),
);

const OPERATOR_NAME = /^(?:(ForAnyValue|ForAllValues):)?(.+?)(IfExists)?$/i;

/**
 * Splits `ForAllValues:StringLikeIfExists` into its parts. Returns undefined for
 * unknown operators and for `Null` with a qualifier or `IfExists` ("You can add
 * IfExists to the end of any condition operator name except the Null condition").
 */
export function parseOperator(name: string): ParsedOperator | undefined {
  const m = OPERATOR_NAME.exec(name);
  if (m === null || m[2] === undefined) return undefined;
  const spec = OPERATORS.get(m[2].toLowerCase());
  if (spec === undefined) return undefined;
  const isNull = spec.name === "Null";
  if (isNull && (m[1] !== undefined || m[3] !== undefined)) return undefined;
  const qualifier =
    m[1] === undefined ? undefined : m[1].toLowerCase() === "foranyvalue" ? "ForAnyValue" : "ForAllValues";
  return {
    base: spec.name,
    family: spec.family,
    negated: spec.negated,
    ifExists: m[3] !== undefined,
    qualifier,
    isNull,
  };
}

export interface CompiledCondition {
  /** The operator as written, e.g. `ForAnyValue:StringLike`. */
  readonly operator: string;
  readonly key: string;
  readonly keyLower: string;
  readonly parsed: ParsedOperator;
  readonly values: readonly TemplateValue<ValueTest>[];
  /** For `Null`: the accepted answers to "is the key absent?". */
  readonly nullExpectations: readonly boolean[];
  /** Keys of the variables used in the values. */
  readonly variableKeys: readonly string[];
  /** The value tests, built at compile time when no value uses a variable. */
  readonly fixedTests: readonly ValueTest[] | undefined;
}

/**
 * Compiles one `operator -> key -> values` entry that passed validation (an
 * unvalidated value that cannot be read never matches).
 */
export function compileCondition(
  operator: string,
  key: string,
  values: readonly string[],
  substitute: boolean,
): CompiledCondition {
  const parsed = parseOperator(operator);
  if (parsed === undefined) throw new RangeError(`unknown condition operator ${operator}`);
  const compiled = parsed.isNull ? [] : values.map((v) => parsed.family.compile(v, substitute));
  const variableKeys = compiled.flatMap((c) => c.template.variableKeys);
  let fixedTests: ValueTest[] | undefined;
  if (variableKeys.length === 0) {
    fixedTests = [];
    for (const value of compiled) {
      const resolved = value.resolve(NO_CONTEXT);
      if (resolved.ok) fixedTests.push(resolved.value);
    }
  }
  return {
    operator,
    key,
    keyLower: key.toLowerCase(),
    parsed,
    values: compiled,
    nullExpectations: parsed.isNull ? values.map((v) => v.toLowerCase() === "true") : [],
    variableKeys,
    fixedTests,
  };
}

const NO_CONTEXT = { variable: () => undefined };

/**
 * Evaluates one condition. `onMissingVariable` hears about variables that had no
 * value (for MissingContextValues).
 */
export function evaluateCondition(
  condition: CompiledCondition,
  context: ContextLookup,
  onMissingVariable?: (key: string) => void,
): boolean {
  const { parsed } = condition;
  const actual = context.values(condition.keyLower);
  if (parsed.isNull) {
    const absent = actual === undefined;
    return condition.nullExpectations.some((expectAbsent) => expectAbsent === absent);
  }
  if (actual === undefined) {
    if (parsed.ifExists || parsed.qualifier === "ForAllValues") return true;
    if (parsed.qualifier === "ForAnyValue") return false;
    return parsed.negated;
  }

  let tests = condition.fixedTests;
  if (tests === undefined) {
    const resolvedTests: ValueTest[] = [];
    let unresolved = false;
    for (const value of condition.values) {
      const resolved = value.resolve(context);
      if (resolved.ok) resolvedTests.push(resolved.value);
      else {
        unresolved = true;
        onMissingVariable?.(resolved.missingKey);
      }
    }
    // "If AWS cannot resolve a variable, this might cause the entire statement to
    // be invalid": an unresolved value never matches, and a negated operator that
    // needs "matches none of the values" cannot be decided, so it is false.
    if (unresolved && parsed.negated) return false;
    tests = resolvedTests;
  }

  switch (parsed.qualifier) {
    case "ForAllValues":
      for (const v of actual) if (matchesAny(tests, v) === parsed.negated) return false;
      return true;
    case "ForAnyValue":
      for (const v of actual) if (matchesAny(tests, v) !== parsed.negated) return true;
      return false;
    default: {
      let any = false;
      for (const v of actual) {
        if (matchesAny(tests, v)) {
          any = true;
          break;
        }
      }
      return parsed.negated ? !any : any;
    }
  }
}

/** Several values for one key are ORed. */
function matchesAny(tests: readonly ValueTest[], value: ContextScalar): boolean {
  for (const test of tests) if (test(value)) return true;
  return false;
}
