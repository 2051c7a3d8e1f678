/**
 * An approximation of SASLprep (RFC 4013) as PostgreSQL applies it to SCRAM passwords
 * (src/common/saslprep.c): map non-ASCII spaces to U+0020, drop "commonly mapped to nothing"
 * characters, normalise to NFKC. Like PostgreSQL, a password that SASLprep would reject
 * (prohibited output) is used unchanged instead of failing.
 *
 * Not implemented: the unassigned-code-point check (RFC 3454 table A.1) and the bidirectional
 * rule (RFC 3454 section 6). A password that only those rules reject would be normalised here
 * but used raw by the server, and its login would fail; ASCII passwords are never affected.
 *
 * @see https://www.rfc-editor.org/rfc/rfc4013
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html#SASL-SCRAM-SHA-256
 */

type Range = readonly [number, number];

/** RFC 3454 C.1.2: non-ASCII space characters, mapped to SPACE. */
const NON_ASCII_SPACE: readonly Range[] = [
  [0x00a0, 0x00a0],
  [0x1680, 0x1680],
  [0x2000, 0x200b],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

/** RFC 3454 B.1: commonly mapped to nothing. */
const MAPPED_TO_NOTHING: readonly Range[] = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

/** RFC 3454 C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9: prohibited output. */
const PROHIBITED: readonly Range[] = [
  [0x0000, 0x001f],
  [0x007f, 0x009f],
  [0x06dd, 0x06dd],
  [0x070f, 0x070f],
  [0x180e, 0x180e],
  [0x200c, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x2063],
  [0x206a, 0x206f],
  [0x2ff0, 0x2ffb],
  [0xd800, 0xdfff],
  [0xe000, 0xf8ff],
  [0xfdd0, 0xfdef],
  [0xfeff, 0xfeff],
  [0xfff9, 0xffff],
  [0x1d173, 0x1d17a],
  [0xe0001, 0xe0001],
  [0xe0020, 0xe007f],
  [0xf0000, 0x10ffff],
];

function inRanges(codePoint: number, ranges: readonly Range[]): boolean {
  return ranges.some(([low, high]) => codePoint >= low && codePoint <= high);
}

/** C.4 non-characters U+nFFFE and U+nFFFF in every plane. */
function isNonCharacter(codePoint: number): boolean {
  return (codePoint & 0xfffe) === 0xfffe;
}

export function saslprep(password: string): string {
  const codePoints = Array.from(password, (char) => char.codePointAt(0) ?? 0);
  // PostgreSQL skips SASLprep for pure-ASCII passwords: none of the mappings apply to them.
  if (codePoints.every((codePoint) => codePoint < 0x80)) return password;
  // C.1.2 is tested first, as PostgreSQL does: U+200B is in both tables and becomes a space.
  const mapped = codePoints.flatMap((codePoint) => {
    if (inRanges(codePoint, NON_ASCII_SPACE)) return [0x20];
    return inRanges(codePoint, MAPPED_TO_NOTHING) ? [] : [codePoint];
  });
  // As PostgreSQL: the prohibited-output check runs over the mapped code points (before NFKC),
  // and a password it rejects, or one that maps to nothing, is used raw (SASLPREP_PROHIBITED).
  const prohibited = mapped.some((codePoint) => inRanges(codePoint, PROHIBITED) || isNonCharacter(codePoint));
  if (mapped.length === 0 || prohibited) return password;
  const prepared = mapped
    .map((codePoint) => String.fromCodePoint(codePoint))
    .join("")
    .normalize("NFKC");
  return prepared;
}
