import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/**
 * Parameter values as the AWS CLI reads them: `file://PATH` loads a file's text, JSON is taken
 * as JSON, and the shorthand `Key=a,Value=b` (with `[x,y]` or trailing bare items for lists)
 * builds structures.
 * @see https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-parameters-file.html
 * @see https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-shorthand.html
 */
export function loadValue(raw: string): string {
  for (const prefix of ["file://", "fileb://"]) {
    if (raw.startsWith(prefix)) {
      const path = raw.slice(prefix.length);
      try {
        return readFileSync(path, "utf8");
      } catch (e) {
        throw new UsageError(
          `Error parsing parameter: Unable to load paramfile ${raw}: ${(e as Error).message}`,
        );
      }
    }
  }
  return raw;
}

/** Splits on commas outside `[...]`. */
function splitTop(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let current = "";
  for (const c of text) {
    if (c === "[") depth++;
    if (c === "]") depth--;
    if (c === "," && depth === 0) {
      out.push(current);
      current = "";
    } else current += c;
  }
  out.push(current);
  return out;
}

/** `Name=engine,Values=postgres,mysql` -> `{Name: "engine", Values: ["postgres", "mysql"]}`. */
export function parseShorthand(text: string, listKeys: ReadonlySet<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let last: string | undefined;
  for (const token of splitTop(text)) {
    const eq = token.indexOf("=");
    if (eq < 0) {
      const prev = last === undefined ? undefined : out[last];
      if (!Array.isArray(prev))
        throw new UsageError(`Error parsing parameter: expected KEY=VALUE, got "${token}" in "${text}"`);
      prev.push(token.trim());
      continue;
    }
    const key = token.slice(0, eq).trim();
    const value = token.slice(eq + 1).trim();
    const list = value.startsWith("[") && value.endsWith("]");
    const items = list
      ? splitTop(value.slice(1, -1))
          .map((s) => s.trim())
          .filter((s) => s !== "")
      : [value];
    out[key] = listKeys.has(key) || list ? items : value;
    last = key;
  }
  return out;
}

/** A structure list from JSON (`[{...}]`) or one shorthand item per argument. */
export function parseStructs(
  values: readonly string[],
  listKeys: ReadonlySet<string>,
): Record<string, unknown>[] {
  const first = values[0]?.trim() ?? "";
  if (values.length === 1 && (first.startsWith("[") || first.startsWith("{"))) {
    try {
      const parsed = JSON.parse(loadValue(first)) as unknown;
      return (Array.isArray(parsed) ? parsed : [parsed]) as Record<string, unknown>[];
    } catch (e) {
      throw new UsageError(`Error parsing parameter: invalid JSON: ${(e as Error).message}`);
    }
  }
  return values.map((v) => {
    const loaded = loadValue(v);
    if (loaded.trim().startsWith("[") || loaded.trim().startsWith("{")) {
      try {
        return JSON.parse(loaded) as Record<string, unknown>;
      } catch (e) {
        throw new UsageError(`Error parsing parameter: invalid JSON: ${(e as Error).message}`);
      }
    }
    return parseShorthand(loaded, listKeys);
  });
}
