import fc from "fast-check";

/**
 * One fuzz target: inputs from `arbitrary`, fed to `run`. `run` may throw only errors that
 * `expected` accepts (the target's documented typed errors); anything else is a crash. An
 * oracle inside `run` (split input parses like whole input, …) reports a finding by throwing
 * {@link OracleError}, which is never expected.
 */
export interface Target<T> {
  readonly name: string;
  /** What is fed, for the report. */
  readonly covers: string;
  readonly arbitrary: fc.Arbitrary<T>;
  run(input: T): void | Promise<void>;
  expected(error: unknown): boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: a list of targets of different input types
export type AnyTarget = Target<any>;

/** A broken invariant (not a crash, but a finding all the same). */
export class OracleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "OracleError";
  }
}

export function same(a: unknown, b: unknown, what: string): void {
  const x = JSON.stringify(a);
  const y = JSON.stringify(b);
  if (x !== y) throw new OracleError(`${what}: split input gave\n${y}\nwhole input gave\n${x}`);
}

type Mutation = { op: 0 | 1 | 2 | 3 | 4; at: number; byte: number; len: number };
const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom(0 as const, 1 as const, 2 as const, 3 as const, 4 as const),
  at: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  len: fc.integer({ min: 1, max: 8 }),
});

/** Applies byte-level damage: overwrite, insert, delete, truncate, or set a boundary value. */
function damage(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(bytes);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.op) {
      case 0:
        if (at < b.length) b[at] = m.byte;
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len, m.byte), b.subarray(at)]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 3:
        b = b.subarray(0, at);
        break;
      default: {
        // Length fields are where parsers go wrong: drop 0x00, 0x7f, 0x80 or 0xff runs in.
        const v = [0x00, 0x7f, 0x80, 0xff][m.byte & 3] as number;
        for (let i = at; i < Math.min(b.length, at + m.len); i++) b[i] = v;
      }
    }
  }
  return b;
}

/** Valid inputs from `valid`, some left alone, most damaged a little. */
export function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc
    .tuple(valid, fc.array(mutation, { maxLength: 4 }))
    .map(([b, ms]) => (ms.length === 0 ? b : damage(b, ms)));
}

/** The same damage on text (as UTF-8 code units then decoded back). */
export function mutatedText(valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return mutated(valid.map((s) => Buffer.from(s, "utf8"))).map((b) => b.toString("utf8"));
}

/** Random bytes, short or long. */
export const bytes = (maxLength = 300): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ maxLength }).map((a) => Buffer.from(a));

/** Cuts `whole` at the given offsets (sorted, deduplicated, in range). */
export function split(whole: Buffer, cuts: readonly number[]): Buffer[] {
  const at = [...new Set(cuts.map((c) => (whole.length === 0 ? 0 : c % (whole.length + 1))))].sort(
    (a, b) => a - b,
  );
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of at) {
    out.push(whole.subarray(prev, c));
    prev = c;
  }
  out.push(whole.subarray(prev));
  return out;
}

export const cuts = fc.array(fc.nat(), { maxLength: 12 });

/** Any string: ASCII-heavy, with full Unicode (lone surrogates included) mixed in. */
export const anyText = (maxLength = 200): fc.Arbitrary<string> =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ maxLength, unit: "binary" }),
    fc.string({ maxLength, unit: fc.constantFrom(...'%&=+.-_~/:0123456789abcdefXYZ \t\r\n\0"{}[],*?$') }),
  );
