// `npm run bench` (`-- --quick` for a smoke run): writes bench/results/latest.json and
// latest.md. Benchmarks are never assertions; they report ratios against a baseline
// measured in the same run, because this machine is noisy.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { fmt, type PathResult } from "./harness.js";
import { benchTokens } from "./tokens.js";

const quick = process.argv.includes("--quick");
const rounds = quick ? 3 : 5;
const msPerRound = quick ? 300 : 1500;

function table(title: string, results: PathResult[], baseline: PathResult): string {
  const rows = results.map(
    (r) =>
      `| ${r.name} | ${(r.opsPerSec.median / baseline.opsPerSec.median).toFixed(2)}x | ${fmt(r.opsPerSec.median)} | ${fmt(r.opsPerSec.min)} | ${fmt(r.opsPerSec.max)} |`,
  );
  return [
    `### ${title} (baseline: ${baseline.name})`,
    "",
    "| path | ratio (median) | ops/s median | min | max |",
    "|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

const started = new Date();
const tokens = await benchTokens(rounds, msPerRound);
const [ourSign, awsSign] = tokens.sign as [PathResult, PathResult];
const [cachedVerify] = tokens.verify as [PathResult, PathResult];

const markdown = [
  `# iamdb benchmarks — ${started.toISOString()}${quick ? " (quick)" : ""}`,
  "",
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}. ${rounds} interleaved rounds of ${msPerRound} ms per path; one process, so one core.`,
  "",
  "## Tokens",
  "",
  table("Signing", tokens.sign, awsSign),
  table("Verification", tokens.verify, cachedVerify),
  `Signing: iamdb is ${(ourSign.opsPerSec.median / awsSign.opsPerSec.median).toFixed(1)}x @aws-sdk/rds-signer (target >= 10x).`,
  `Verification with the derived-key cache: ${fmt(cachedVerify.opsPerSec.median)}/s on one core (target >= 100,000/s).`,
  "",
].join("\n");

const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, "latest.json"),
  `${JSON.stringify({ started: started.toISOString(), quick, rounds, msPerRound, node: process.version, tokens }, null, 2)}\n`,
);
writeFileSync(join(dir, "latest.md"), markdown);
process.stdout.write(`${markdown}\nwrote ${join("bench", "results", "latest.json")} and latest.md\n`);
