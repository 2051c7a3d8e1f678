import { uriEncode } from "../sigv4/index.js";

// The characters of a token's query, for the general parser (parse.ts) and the fast path
// (layout.ts): which class each belongs to, how a component is escaped, decoding.

/**
 * Character classes, one bit each, for the ASCII code units. The general parser checks
 * short fields (key id, scope parts, the signature) with a loop over this table: for a
 * few dozen characters that is about twice as fast as a regular expression's call, which
 * pays off only over long strings (SAFE_QUERY, the fast path's match in layout.ts).
 */
const UNRESERVED = 1; // RFC 3986: A-Z a-z 0-9 - _ . ~
export const DIGIT = 2; // 0-9
export const LOWER_HEX = 4; // 0-9 a-f
const UPPER_HEX = 8; // 0-9 A-F
export const KEY_ID = 16; // A-Z 0-9
export const SCOPE_PART = 32; // a-z 0-9 -
const CLASSES = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const digit = ch >= "0" && ch <= "9";
  const lower = ch >= "a" && ch <= "z";
  const upper = ch >= "A" && ch <= "Z";
  CLASSES[c] =
    (digit || lower || upper || "-_.~".includes(ch) ? UNRESERVED : 0) |
    (digit ? DIGIT : 0) |
    (digit || (ch >= "a" && ch <= "f") ? LOWER_HEX : 0) |
    (digit || (ch >= "A" && ch <= "F") ? UPPER_HEX : 0) |
    (digit || upper ? KEY_ID : 0) |
    (digit || lower || ch === "-" ? SCOPE_PART : 0);
}

/** Whether s is min..max characters, each of the class. */
export function all(s: string, cls: number, min: number, max: number): boolean {
  if (s.length < min || s.length > max) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || ((CLASSES[c] as number) & cls) === 0) return false;
  }
  return true;
}

/** The value of an upper-case hex digit, -1 for anything else (lower-case hex is not canonical). */
function upperHex(c: number): number {
  if (c >= 128 || ((CLASSES[c] as number) & UPPER_HEX) === 0) return -1;
  return c <= 57 ? c - 48 : c - 55;
}

/** How a raw query component is written, from the cheapest to handle to the dearest. */
export const PLAIN = 0; // unreserved characters only: raw = decoded = canonical
export const ASCII_ESCAPED = 1; // canonical, with %XX escapes of ASCII only: always decodes
export const ESCAPED = 2; // canonical, with escapes of UTF-8 bytes: decoding may still fail
export const NOT_CANONICAL = 3; // anything else: decode, then encode anew for the canonical query
export type Kind = typeof PLAIN | typeof ASCII_ESCAPED | typeof ESCAPED | typeof NOT_CANONICAL;

/**
 * Classifies token[from, to) in one pass. It is canonical (SigV4) as written when it has
 * only unreserved characters and %XX escapes in upper-case hex, none of them escaping an
 * unreserved character (canonical encoding leaves those bare): botocore and rds-signer
 * both write canonically, so their components are kept as written, never encoded again.
 */
export function kindOf(token: string, from: number, to: number): Kind {
  let kind: Kind = PLAIN;
  for (let i = from; i < to; i++) {
    const c = token.charCodeAt(i);
    if (c < 128 && ((CLASSES[c] as number) & UNRESERVED) !== 0) continue;
    if (c !== 37 /* % */) return NOT_CANONICAL;
    const escaped = escapeKind(token, i, to);
    if (escaped === NOT_CANONICAL) return NOT_CANONICAL;
    if (escaped === ESCAPED) kind = ESCAPED;
    else if (kind === PLAIN) kind = ASCII_ESCAPED;
    i += 2;
  }
  return kind;
}

/** The kind of the escape at token[at] ('%'): ASCII_ESCAPED, ESCAPED (a UTF-8 byte) or NOT_CANONICAL. */
function escapeKind(token: string, at: number, to: number): Kind {
  if (at + 2 >= to) return NOT_CANONICAL;
  const high = upperHex(token.charCodeAt(at + 1));
  const low = upperHex(token.charCodeAt(at + 2));
  if (high < 0 || low < 0) return NOT_CANONICAL;
  const byte = high * 16 + low;
  if (byte >= 128) return ESCAPED;
  return ((CLASSES[byte] as number) & UNRESERVED) !== 0 ? NOT_CANONICAL : ASCII_ESCAPED;
}

/**
 * kindOf for a query of SAFE_QUERY characters only, where a component's characters are
 * unreserved but for its escapes (and any '=' in a value, which the caller checks): only
 * the escapes need looking at, found by indexOf from `percent`, the first '%' >= from.
 */
export function escapesKind(token: string, percent: number, to: number): Kind {
  let kind: Kind = PLAIN;
  for (let i = percent; i >= 0 && i < to; i = token.indexOf("%", i + 3)) {
    const escaped = escapeKind(token, i, to);
    if (escaped === NOT_CANONICAL) return NOT_CANONICAL;
    if (escaped === ESCAPED) kind = ESCAPED;
    else if (kind === PLAIN) kind = ASCII_ESCAPED;
  }
  return kind;
}

/** Decodes a query component; undefined for invalid percent-encoding or invalid UTF-8. */
export function decode(raw: string): string | undefined {
  if (raw.indexOf("%") < 0) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/** The canonical (SigV4) encoding of a decoded component; undefined for an unpaired surrogate. */
export function encode(decoded: string): string | undefined {
  try {
    return uriEncode(decoded);
  } catch {
    return undefined;
  }
}
