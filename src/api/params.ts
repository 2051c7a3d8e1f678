import { ApiError, missingParameter, nullMember } from "./errors.js";

/**
 * How a service reports a missing or malformed parameter: IAM and STS as a constraint
 * violation (`ValidationError`, member named in camelCase), RDS by its wire name
 * (`MissingParameter`, `InvalidParameterValue`).
 */
export type ParamStyle = "iam" | "rds";

const camel = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);

/**
 * The flattened Query-protocol parameters of one request (`UserName=jane`,
 * `Tags.member.1.Key=team`, `Tags.Tag.1.Key=team` for RDS), read by member name.
 * @see https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#query-key-resolution
 */
export class QueryParams {
  constructor(
    private readonly values: ReadonlyMap<string, string>,
    readonly style: ParamStyle,
    /** Where this (nested) structure sits, for error messages. */
    private readonly prefix = "",
  ) {}

  /** Every key, for rejecting parameters an action does not support. */
  keys(): string[] {
    return [...this.values.keys()];
  }

  has(name: string): boolean {
    return this.values.has(name) || [...this.values.keys()].some((k) => k.startsWith(`${name}.`));
  }

  str(name: string): string | undefined {
    return this.values.get(name);
  }

  required(name: string): string {
    const v = this.values.get(name);
    if (v === undefined) throw this.missing(name);
    return v;
  }

  int(name: string): number | undefined {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    if (!/^-?\d{1,15}$/.test(v.trim())) throw this.invalid(name, v, "Member must be an integer");
    return Number(v.trim());
  }

  bool(name: string): boolean | undefined {
    const v = this.values.get(name);
    if (v === undefined) return undefined;
    const lower = v.trim().toLowerCase();
    if (lower === "true") return true;
    if (lower === "false") return false;
    throw this.invalid(name, v, "Member must be true or false");
  }

  /**
   * The list `name`: `Name.member.1=a&Name.member.2=b` (any member name), or `Name=` for an
   * empty list. Undefined when absent.
   */
  strings(name: string): string[] | undefined {
    const entries = this.listEntries(name);
    if (entries === undefined) return undefined;
    return entries.map((e) => e.get("") ?? "");
  }

  /** A list of structures, each read through its own QueryParams. */
  structs(name: string): QueryParams[] | undefined {
    const entries = this.listEntries(name);
    return entries?.map(
      (e, i) => new QueryParams(e, this.style, `${this.prefix}${camel(name)}.member.${i + 1}.`),
    );
  }

  /** A tag list as IAM, STS and RDS all shape it: `{Key, Value}` structures. */
  tags(name = "Tags"): Array<{ key: string; value: string }> | undefined {
    return this.structs(name)?.map((t) => ({ key: t.required("Key"), value: t.str("Value") ?? "" }));
  }

  missing(name: string): ApiError {
    return this.style === "iam" ? nullMember(`${this.prefix}${camel(name)}`) : missingParameter(name);
  }

  invalid(name: string, value: string, constraint: string): ApiError {
    return this.style === "iam"
      ? new ApiError(
          "ValidationError",
          400,
          `1 validation error detected: Value '${value}' at '${this.prefix}${camel(name)}' failed to satisfy constraint: ${constraint}`,
        )
      : new ApiError("InvalidParameterValue", 400, `Invalid value '${value}' for ${name}: ${constraint}.`);
  }

  private listEntries(name: string): Array<Map<string, string>> | undefined {
    const byIndex = new Map<number, Map<string, string>>();
    let present = this.values.has(name);
    for (const [key, value] of this.values) {
      if (!key.startsWith(`${name}.`)) continue;
      present = true;
      // NAME.MEMBER.N[.REST]
      const rest = key.slice(name.length + 1).split(".");
      const index = Number(rest[1]);
      if (rest.length < 2 || !Number.isInteger(index) || index < 1) {
        throw new ApiError("MalformedQueryString", 400, `The parameter ${key} is not a valid list member.`);
      }
      let entry = byIndex.get(index);
      if (entry === undefined) {
        entry = new Map();
        byIndex.set(index, entry);
      }
      entry.set(rest.slice(2).join("."), value);
    }
    if (!present) return undefined;
    return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, e]) => e);
  }
}

/**
 * Parses an `application/x-www-form-urlencoded` body or query string strictly: a malformed
 * percent escape is an error rather than a silently different value.
 */
export function parseForm(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (text.length === 0) return out;
  for (const part of text.split("&")) {
    if (part.length === 0) continue;
    const eq = part.indexOf("=");
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    out.push([decodeComponent(rawKey), decodeComponent(rawValue)]);
  }
  return out;
}

function decodeComponent(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, " "));
  } catch {
    throw new ApiError(
      "MalformedQueryString",
      400,
      "The request body is not valid application/x-www-form-urlencoded text: check its percent escapes.",
    );
  }
}
