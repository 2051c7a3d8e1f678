/**
 * Prints SDK responses the way the AWS CLI does: `$metadata` dropped, timestamps as
 * `2026-01-01T12:00:00+00:00`, IAM policy documents URL-decoded and parsed, 4-space JSON.
 * @see https://docs.aws.amazon.com/cli/latest/userguide/cli-usage-output-format.html
 */
const POLICY_FIELDS = new Set(["PolicyDocument", "AssumeRolePolicyDocument", "Document"]);

function awsTimestamp(d: Date): string {
  const iso = d.toISOString();
  const ms = iso.slice(20, 23);
  return `${iso.slice(0, 19)}${ms === "000" ? "" : `.${ms}000`}+00:00`;
}

function decodePolicy(text: string): unknown {
  try {
    return JSON.parse(decodeURIComponent(text)) as unknown;
  } catch {
    return text;
  }
}

export function awsShape(value: unknown, key?: string): unknown {
  if (value instanceof Date) return awsTimestamp(value);
  if (typeof value === "string" && key !== undefined && POLICY_FIELDS.has(key)) return decodePolicy(value);
  if (Array.isArray(value)) return value.map((v) => awsShape(v));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === "$metadata" || v === undefined) continue;
      out[k] = awsShape(v, k);
    }
    return out;
  }
  return value;
}

/** The text `aws` prints for a response; empty for responses with no members. */
export function formatOutput(response: Record<string, unknown>): string {
  const shaped = awsShape(response) as Record<string, unknown>;
  return Object.keys(shaped).length === 0 ? "" : JSON.stringify(shaped, null, 4);
}
