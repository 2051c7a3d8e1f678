// `iamdb proxy` (the client kit) in front of the iamdb PostgreSQL gateway, against clients
// going straight to the gateway with a token made beforehand, paths interleaved round by round:
//   connect   pgbench -C -c 4 -j 2, one `select 1` per connection   connections/s
//   cpu       the proxy process's utime+stime (/proc) per connection  µs
// The gateway runs in this process (the test fixture's, in front of the machine's PostgreSQL
// at 127.0.0.1:5432); the proxy is a child process (`iamdb proxy` from the sources), signing
// with an access key of the gateway's IAM store. pgbench, the gateway, the proxy and
// PostgreSQL share the machine's cores: the ratio is what this run says, not an absolute.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestGateway } from "../test/gateway/fixture.js";
import { cpuSeconds, execFileP, sleep } from "./env/proc.js";
import { type Stat, summarize } from "./harness.js";

const DB_USER = "kit_bench";

export interface ClientProxyResults {
  setup: { rounds: number; seconds: number; clients: number };
  /** Connections/s straight to the gateway with a pre-made token (the baseline). */
  direct: Stat;
  /** Connections/s through `iamdb proxy`. */
  proxy: Stat;
  /** proxy / direct, per round's medians. */
  ratio: number;
  /** The proxy's CPU per connection, µs. */
  proxyCpuMicros: Stat;
  /** Tokens the proxy signed over all rounds (its cache at work). */
  tokensSigned: number;
}

async function pgbench(
  host: string,
  port: number,
  env: Record<string, string>,
  script: string,
  seconds: number,
  clients: number,
): Promise<{ tps: number; transactions: number }> {
  const { stdout } = await execFileP(
    "pgbench",
    [
      "-n",
      "-C",
      "-c",
      String(clients),
      "-j",
      "2",
      "-T",
      String(seconds),
      "-f",
      script,
      "-h",
      host,
      "-p",
      String(port),
      "-U",
      DB_USER,
      "test",
    ],
    { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir(), ...env }, maxBuffer: 1 << 20 },
  );
  const tps = Number(/^tps = ([\d.]+)/m.exec(stdout)?.[1]);
  const transactions = Number(/actually processed: (\d+)/.exec(stdout)?.[1]);
  if (!Number.isFinite(tps) || !transactions) throw new Error(`pgbench failed:\n${stdout}`);
  return { tps, transactions };
}

export async function benchClientProxy(
  options: { rounds: number; seconds: number },
  log: (s: string) => void,
): Promise<ClientProxyResults> {
  const clients = 4;
  const dir = mkdtempSync(join(tmpdir(), "iamdb-bench-kit-"));
  const script = join(dir, "select.sql");
  writeFileSync(script, "select 1;\n");
  log("client proxy: starting the gateway (in process) and iamdb proxy (child process) ...");
  const gw = await startTestGateway();
  let proxy: ChildProcess | undefined;
  try {
    const creds = await gw.userWithAccess("kit-bench", DB_USER);
    await gw.provision(DB_USER);
    const entry = join(dirname(fileURLToPath(import.meta.url)), "env", "iamdb-cli.ts");
    proxy = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        entry,
        "proxy",
        "--engine",
        "postgres",
        "--target",
        `127.0.0.1:${gw.port}`,
        "--token-host",
        "localhost",
        "--ca-file",
        gw.caFile,
        "--listen",
        "127.0.0.1:0",
        "--username",
        DB_USER,
        "--region",
        "us-east-1",
        "--ops",
        "127.0.0.1:0",
        "--log-level",
        "warn",
      ],
      {
        env: {
          PATH: process.env.PATH ?? "/usr/bin:/bin",
          HOME: dir,
          AWS_ACCESS_KEY_ID: creds.accessKeyId,
          AWS_SECRET_ACCESS_KEY: creds.secretAccessKey,
          AWS_EC2_METADATA_DISABLED: "true",
        },
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    proxy.stdout?.on("data", (d) => {
      out += d;
    });
    let port = 0;
    for (let i = 0; i < 400 && port === 0; i++) {
      port = Number(/iamdb proxy: postgres [\d.]+:(\d+)/.exec(out)?.[1] ?? 0);
      if (port === 0) await sleep(50);
    }
    if (port === 0) throw new Error(`iamdb proxy did not start: ${out}`);
    const opsUrl = /(http:\/\/[\d.:]+)\/healthz/.exec(out)?.[1];
    const pid = proxy.pid ?? 0;
    const token = gw.token(DB_USER, creds);
    const directEnv = { PGPASSWORD: token, PGSSLMODE: "verify-full", PGSSLROOTCERT: gw.caFile };
    const direct = (s: number) => pgbench("localhost", gw.port, directEnv, script, s, clients);
    const viaProxy = async (s: number) => {
      const cpu0 = cpuSeconds(pid);
      const r = await pgbench("127.0.0.1", port, {}, script, s, clients);
      return { ...r, cpu: cpuSeconds(pid) - cpu0 };
    };
    // Warm-up: JIT in both processes, the gateway's caches.
    await direct(1);
    await viaProxy(1);
    const d: number[] = [];
    const p: number[] = [];
    const cpu: number[] = [];
    for (let r = 0; r < options.rounds; r++) {
      log(`client proxy: round ${r + 1}/${options.rounds}`);
      d.push((await direct(options.seconds)).tps);
      const run = await viaProxy(options.seconds);
      p.push(run.tps);
      cpu.push((run.cpu / run.transactions) * 1e6);
    }
    let tokensSigned = Number.NaN;
    if (opsUrl) {
      const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
      tokensSigned = Number(/iamdb_proxy_tokens_signed_total\{[^}]*\} (\d+)/.exec(metrics)?.[1]);
    }
    const direct_ = summarize(d);
    const proxy_ = summarize(p);
    return {
      setup: { rounds: options.rounds, seconds: options.seconds, clients },
      direct: direct_,
      proxy: proxy_,
      ratio: proxy_.median / direct_.median,
      proxyCpuMicros: summarize(cpu),
      tokensSigned,
    };
  } finally {
    proxy?.kill("SIGTERM");
    await gw.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export function clientProxySection(r: ClientProxyResults): string {
  const n = (v: number, d = 0) => v.toFixed(d);
  return [
    "## Client kit: iamdb proxy",
    "",
    `New connections per second through \`iamdb proxy\` → iamdb gateway, against straight to the gateway with a token made beforehand (pgbench -C -c ${r.setup.clients} -j 2, one \`select 1\` per connection, ${r.setup.rounds} interleaved rounds of ${r.setup.seconds} s; backend: the machine's PostgreSQL).`,
    "",
    "| metric | proxy / direct | proxy (median) | direct (median) |",
    "|---|---|---|---|",
    `| new connections/s (higher is better) | ${r.ratio.toFixed(2)}x | ${n(r.proxy.median, 1)}/s | ${n(r.direct.median, 1)}/s |`,
    `| proxy CPU per connection | – | ${n(r.proxyCpuMicros.median)} µs | – |`,
    "",
    `Tokens the proxy signed over the whole run: ${r.tokensSigned} (the cache keeps signing off the connection path).`,
    "",
  ].join("\n");
}
