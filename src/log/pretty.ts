/** Fields every line has, shown in the line's head rather than as `key=value`. */
const HEAD = new Set(["level", "time", "msg", "pid", "hostname"]);

function show(value: unknown): string {
  if (typeof value === "string") return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
  if (value !== null && typeof value === "object" && "message" in value && "type" in value) {
    // A serialized error: its message, not its stack, on the one line.
    return JSON.stringify(String((value as { message: unknown }).message));
  }
  return JSON.stringify(value) ?? String(value);
}

/**
 * One JSON log line as a person reads it on a terminal:
 * `12:00:01.234 WARN  message key=value key="two words"`. Written by hand instead of
 * pulling in pino-pretty and its dependencies for a dozen lines; a line that does not parse
 * is passed through as it is.
 */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = typeof entry.time === "string" ? entry.time.slice(11, 23) : "";
  const level = String(entry.level ?? "").toUpperCase();
  const fields = Object.entries(entry)
    .filter(([k]) => !HEAD.has(k))
    .map(([k, v]) => `${k}=${show(v)}`);
  return `${[time, level.padEnd(5), String(entry.msg ?? ""), ...fields].filter((s) => s !== "").join(" ")}\n`;
}
