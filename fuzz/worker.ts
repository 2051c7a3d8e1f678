// Runs one target in a worker thread, so the runner can stop it when an input hangs.
import { performance } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import fc from "fast-check";
import type { AnyTarget } from "./lib.js";
import { TARGETS } from "./targets/index.js";

export interface WorkerInput {
  readonly target: string;
  readonly inputs: number;
  readonly seed: number;
  /** An input taking longer than this is a finding (a hang in the making). */
  readonly timeoutMs: number;
  /** [0]: inputs run so far, for the runner's watchdog and progress line. */
  readonly progress: SharedArrayBuffer;
}

export interface WorkerResult {
  readonly target: string;
  readonly runs: number;
  readonly ms: number;
  readonly seed: number;
  readonly slowestMs: number;
  readonly failure?: { readonly error: string; readonly counterexample: string; readonly path: string };
}

const input = workerData as WorkerInput;
const target = TARGETS.find((t) => t.name === input.target) as AnyTarget;
const progress = new Int32Array(input.progress);
let slowest = 0;

function check(started: number): void {
  Atomics.add(progress, 0, 1);
  const took = performance.now() - started;
  if (took > slowest) slowest = took;
  if (took > input.timeoutMs)
    throw new Error(`one input took ${took.toFixed(0)} ms (bound ${input.timeoutMs} ms)`);
}

function unexpected(e: unknown): never {
  throw e instanceof Error ? e : new Error(`threw a non-Error: ${String(e)}`);
}

const property =
  target.run.constructor.name === "AsyncFunction"
    ? fc.asyncProperty(target.arbitrary, async (x: unknown) => {
        const t = performance.now();
        try {
          await target.run(x);
        } catch (e) {
          if (!target.expected(e)) unexpected(e);
        }
        check(t);
      })
    : fc.property(target.arbitrary, (x: unknown) => {
        const t = performance.now();
        try {
          target.run(x);
        } catch (e) {
          if (!target.expected(e)) unexpected(e);
        }
        check(t);
      });

const started = performance.now();
const details = await fc.check(property as fc.IRawProperty<[unknown]>, {
  numRuns: input.inputs,
  seed: input.seed,
});
const ms = performance.now() - started;
const result: WorkerResult = {
  target: target.name,
  runs: details.failed ? details.numRuns : input.inputs,
  ms,
  seed: input.seed,
  slowestMs: slowest,
  ...(details.failed
    ? {
        failure: {
          error:
            details.errorInstance instanceof Error
              ? (details.errorInstance.stack ?? details.errorInstance.message)
              : String(details.errorInstance),
          counterexample: fc.stringify(details.counterexample),
          path: details.counterexamplePath ?? "",
        },
      }
    : {}),
};
parentPort?.postMessage(result);
