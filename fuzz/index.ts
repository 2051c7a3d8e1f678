// `npm run fuzz [-- --inputs N] [--only a,b] [--seed S] [--timeout-ms T] [--jobs J]`:
// property-based fuzzing of every parser that reads bytes or text from outside (see
// docs/FUZZING.md). Each target runs in a worker thread: a thrown error other than the
// target's documented typed errors, a broken invariant, or an input slower than the bound is a
// finding; an input that never returns is caught by a watchdog that stops the worker.
// Prints inputs/s and totals per target, writes fuzz/results/latest.json, exits 1 on a finding.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import { TARGETS } from "./targets/index.js";
import type { WorkerInput, WorkerResult } from "./worker.js";

const { values } = parseArgs({
  options: {
    inputs: { type: "string", default: "1000000" },
    only: { type: "string" },
    seed: { type: "string" },
    "timeout-ms": { type: "string", default: "2000" },
    "stall-ms": { type: "string", default: "60000" },
    jobs: { type: "string", default: "1" },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(
    `usage: npm run fuzz -- [--inputs N] [--only ${TARGETS.map((t) => t.name).join(",")}] [--seed S] [--timeout-ms T] [--stall-ms T] [--jobs J]`,
  );
  process.exit(0);
}
const inputs = Number(values.inputs);
const timeoutMs = Number(values["timeout-ms"]);
const stallMs = Number(values["stall-ms"]);
const jobs = Math.max(1, Math.min(Number(values.jobs), cpus().length));
const seed =
  values.seed === undefined ? (Date.now() ^ (Math.random() * 0x7fffffff)) | 0 : Number(values.seed);
const only = values.only?.split(",").map((s) => s.trim());
const unknown = only?.filter((n) => !TARGETS.some((t) => t.name === n)) ?? [];
if (![inputs, timeoutMs, stallMs, jobs, seed].every(Number.isFinite) || inputs < 1 || unknown.length > 0) {
  console.error(
    unknown.length > 0
      ? `fuzz: unknown target ${unknown.join(", ")}; targets: ${TARGETS.map((t) => t.name).join(", ")}`
      : "fuzz: --inputs, --timeout-ms, --stall-ms, --jobs and --seed take numbers (see --help)",
  );
  process.exit(2);
}
const selected = TARGETS.filter((t) => only === undefined || only.includes(t.name));

interface Outcome extends WorkerResult {
  readonly hang?: { readonly afterRuns: number };
}

function runTarget(name: string): Promise<Outcome> {
  const progress = new SharedArrayBuffer(4);
  const counter = new Int32Array(progress);
  const data: WorkerInput = { target: name, inputs, seed, timeoutMs, progress };
  const worker = new Worker(new URL("./worker-entry.mjs", import.meta.url), { workerData: data });
  const started = Date.now();
  return new Promise((resolve, reject) => {
    let last = -1;
    let lastChange = Date.now();
    let lastPrint = Date.now();
    const watchdog = setInterval(() => {
      const done = Atomics.load(counter, 0);
      const now = Date.now();
      if (done !== last) {
        last = done;
        lastChange = now;
      } else if (now - lastChange > stallMs) {
        clearInterval(watchdog);
        void worker.terminate();
        resolve({
          target: name,
          runs: done,
          ms: now - started,
          seed,
          slowestMs: now - lastChange,
          hang: { afterRuns: done },
        });
        return;
      }
      if (now - lastPrint >= 30_000) {
        lastPrint = now;
        const rate = done / ((now - started) / 1000);
        console.error(
          `  ${name}: ${done.toLocaleString("en")} inputs, ${Math.round(rate).toLocaleString("en")}/s`,
        );
      }
    }, 1000);
    worker.once("message", (r: WorkerResult) => {
      clearInterval(watchdog);
      resolve(r);
    });
    worker.once("error", (e) => {
      clearInterval(watchdog);
      // An error outside the property (the harness, an arbitrary) is reported like a finding.
      const done = Atomics.load(counter, 0);
      resolve({
        target: name,
        runs: done,
        ms: Date.now() - started,
        seed,
        slowestMs: 0,
        failure: { error: `harness error: ${e.stack ?? e.message}`, counterexample: "(none)", path: "" },
      });
    });
    worker.once("exit", (code) => {
      clearInterval(watchdog);
      if (code !== 0) reject(new Error(`the ${name} worker exited with code ${code}`));
    });
  });
}

console.log(
  `fuzz: ${selected.length} targets, ${inputs.toLocaleString("en")} inputs each, seed ${seed}, ${jobs} at a time`,
);
const outcomes: Outcome[] = [];
const queue = [...selected];
await Promise.all(
  Array.from({ length: jobs }, async () => {
    for (let t = queue.shift(); t !== undefined; t = queue.shift()) {
      const o = await runTarget(t.name);
      outcomes.push(o);
      const rate = o.runs / (o.ms / 1000);
      const verdict = o.hang
        ? `HANG after ${o.hang.afterRuns} inputs (replay: --only ${o.target} --seed ${seed}; fast-check path starts at ${o.hang.afterRuns})`
        : o.failure
          ? `FINDING: ${o.failure.error.split("\n")[0]}\n    input: ${o.failure.counterexample}\n    replay: --only ${o.target} --seed ${seed} (fast-check path ${o.failure.path})`
          : "no crashes, no hangs";
      console.log(
        `${o.target.padEnd(15)} ${o.runs.toLocaleString("en").padStart(11)} inputs ${(o.ms / 1000).toFixed(1).padStart(7)} s ${Math.round(rate).toLocaleString("en").padStart(8)}/s  slowest ${o.slowestMs.toFixed(1)} ms  ${verdict}`,
      );
      if (o.failure) console.log(o.failure.error);
    }
  }),
);

const results = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(results, { recursive: true });
const order = new Map(selected.map((t, i) => [t.name, i]));
outcomes.sort((a, b) => (order.get(a.target) ?? 0) - (order.get(b.target) ?? 0));
writeFileSync(
  join(results, "latest.json"),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      node: process.version,
      seed,
      inputsPerTarget: inputs,
      timeoutMs,
      targets: outcomes.map((o) => ({
        target: o.target,
        covers: TARGETS.find((t) => t.name === o.target)?.covers,
        inputs: o.runs,
        seconds: Math.round(o.ms) / 1000,
        inputsPerSecond: Math.round(o.runs / (o.ms / 1000)),
        slowestInputMs: Math.round(o.slowestMs * 10) / 10,
        result: o.hang ? "hang" : o.failure ? "finding" : "ok",
        ...(o.failure ? { failure: o.failure } : {}),
      })),
    },
    null,
    2,
  )}\n`,
);
const total = outcomes.reduce((n, o) => n + o.runs, 0);
const bad = outcomes.filter((o) => o.hang || o.failure);
console.log(
  `fuzz: ${total.toLocaleString("en")} inputs in all; ${bad.length === 0 ? "no findings" : `${bad.length} target(s) with findings`}`,
);
process.exit(bad.length === 0 ? 0 : 1);
