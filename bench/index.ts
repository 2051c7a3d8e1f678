// `npm run bench` (`-- --quick` for a smoke run): writes bench/results/latest.json and
// latest.md. Benchmarks are never assertions; they report ratios against a baseline
// measured in the same run, because this machine is noisy.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuthzResult, benchAuthz } from "./authz.js";
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

function authzTable(a: AuthzResult): string {
  const ms = (n: number) => n.toFixed(3);
  return [
    "## Authorization decisions",
    "",
    `${fmt(a.users)} users, ${a.groups} groups (2 per user), ${fmt(a.statements)} statements in SQLite; key lookup + policy set + evaluate rds-db:connect (${fmt(a.allowed)} of ${fmt(a.cached.samples)} allowed). Setup ${a.setupSeconds.toFixed(1)} s.`,
    "",
    "| path | p50 ms | p99 ms | max ms | samples |",
    "|---|---|---|---|---|",
    `| cold (principal not cached) | ${ms(a.cold.p50Ms)} | ${ms(a.cold.p99Ms)} | ${ms(a.cold.maxMs)} | ${a.cold.samples} |`,
    `| cached | ${ms(a.cached.p50Ms)} | ${ms(a.cached.p99Ms)} | ${ms(a.cached.maxMs)} | ${a.cached.samples} |`,
    "",
    "Target: p99 <= 1 ms.",
    "",
  ].join("\n");
}

const started = new Date();
const tokens = await benchTokens(rounds, msPerRound);
const authz = await benchAuthz(quick);
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
  authzTable(authz),
].join("\n");

const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, "latest.json"),
  `${JSON.stringify({ started: started.toISOString(), quick, rounds, msPerRound, node: process.version, tokens, authz }, null, 2)}\n`,
);
writeFileSync(join(dir, "latest.md"), markdown);
process.stdout.write(`${markdown}\nwrote ${join("bench", "results", "latest.json")} and latest.md\n`);
