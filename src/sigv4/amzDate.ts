let lastSecond = Number.NaN;
let lastFormatted = "";

/** Formats a date as SigV4's basic ISO 8601 form, YYYYMMDDTHHMMSSZ. */
export function formatAmzDate(date: Date): string {
  // Signers format the same second over and over (a pool opening connections): remember the last.
  const second = Math.floor(date.getTime() / 1000);
  if (second === lastSecond) return lastFormatted;
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  lastFormatted = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  lastSecond = second;
  return lastFormatted;
}

const AMZ_DATE = /^\d{8}T\d{6}Z$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Parses YYYYMMDDTHHMMSSZ strictly (a real calendar date, UTC); returns epoch ms or undefined. */
export function parseAmzDate(value: string): number | undefined {
  if (!AMZ_DATE.test(value)) return undefined;
  const y = Number(value.slice(0, 4));
  const mo = Number(value.slice(4, 6));
  const d = Number(value.slice(6, 8));
  const h = Number(value.slice(9, 11));
  const mi = Number(value.slice(11, 13));
  const s = Number(value.slice(13, 15));
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 && leap ? 29 : (DAYS[mo - 1] ?? 0);
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || s > 59) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s);
}
