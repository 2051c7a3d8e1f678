/**
 * A small benchmark harness: paths are measured round by round, interleaved, so a noisy
 * neighbour slows every path alike; each path reports min / median / max over the rounds.
 */
export interface BenchPath {
  name: string;
  /** One operation; may be async. */
  op: () => unknown;
}

export interface PathResult {
  name: string;
  opsPerSec: { min: number; median: number; max: number };
  rounds: number[];
}

async function measure(op: () => unknown, ms: number): Promise<number> {
  // Batches keep the clock reads out of the measured work.
  const batch = 64;
  let n = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < batch; i++) {
      const r = op();
      if (r instanceof Promise) await r;
    }
    n += batch;
    elapsed = performance.now() - start;
  }
  return (n * 1000) / elapsed;
}

export async function runInterleaved(
  paths: BenchPath[],
  rounds: number,
  msPerRound: number,
): Promise<PathResult[]> {
  for (const p of paths) await measure(p.op, Math.min(200, msPerRound)); // warm-up, JIT
  const samples = new Map<string, number[]>(paths.map((p) => [p.name, []]));
  for (let r = 0; r < rounds; r++) {
    for (const p of paths) samples.get(p.name)?.push(await measure(p.op, msPerRound));
  }
  return paths.map((p) => {
    const rs = samples.get(p.name) ?? [];
    const sorted = [...rs].sort((a, b) => a - b);
    return {
      name: p.name,
      opsPerSec: {
        min: sorted[0] ?? 0,
        median: sorted[Math.floor(sorted.length / 2)] ?? 0,
        max: sorted[sorted.length - 1] ?? 0,
      },
      rounds: rs,
    };
  });
}

export const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

/** min / median / max of a sample (median of an even count: the upper middle, as above). */
export interface Stat {
  min: number;
  median: number;
  max: number;
  rounds: number[];
}

export function summarize(rounds: number[]): Stat {
  const sorted = [...rounds].sort((a, b) => a - b);
  return {
    min: sorted[0] ?? Number.NaN,
    median: sorted[Math.floor(sorted.length / 2)] ?? Number.NaN,
    max: sorted[sorted.length - 1] ?? Number.NaN,
    rounds,
  };
}
