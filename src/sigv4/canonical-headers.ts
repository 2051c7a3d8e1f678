/**
 * Canonical headers: names lower-cased, values trimmed with inner runs of whitespace
 * (including folded continuation lines) collapsed to one space, repeated names joined
 * with ',' in order, sorted by name.
 */
export interface CanonicalHeaders {
  /** "name:value\n" for each header, sorted. */
  block: string;
  /** "name1;name2". */
  signedHeaders: string;
}

export function canonicalHeaders(headers: ReadonlyArray<readonly [string, string]>): CanonicalHeaders {
  const byName = new Map<string, string[]>();
  for (const [name, value] of headers) {
    const key = name.trim().toLowerCase();
    const clean = value.trim().replace(/\s+/g, " ");
    const list = byName.get(key);
    if (list) list.push(clean);
    else byName.set(key, [clean]);
  }
  const names = [...byName.keys()].sort();
  let block = "";
  for (const name of names) block += `${name}:${(byName.get(name) ?? []).join(",")}\n`;
  return { block, signedHeaders: names.join(";") };
}
