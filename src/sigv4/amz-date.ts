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

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The number written in value[from, to) with ASCII digits only; -1 otherwise. */
function digits(value: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) {
    const d = value.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/**
 * Parses YYYYMMDDTHHMMSSZ strictly (a real calendar date, UTC); returns epoch ms or undefined.
 * Read digit by digit, without a regular expression or sliced strings: every login parses one.
 */
export function parseAmzDate(value: string): number | undefined {
  if (value.length !== 16 || value.charCodeAt(8) !== 84 /* T */ || value.charCodeAt(15) !== 90 /* Z */) {
    return undefined;
  }
  const y = digits(value, 0, 4);
  const mo = digits(value, 4, 6);
  const d = digits(value, 6, 8);
  const h = digits(value, 9, 11);
  const mi = digits(value, 11, 13);
  const s = digits(value, 13, 15);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 59) {
    return undefined;
  }
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 && leap ? 29 : (DAYS[mo - 1] as number);
  if (d > days) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s);
}
