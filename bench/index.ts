// `npm run bench` (`-- --quick` for a ~2-minute smoke run; `-- --only proxy|mysql|tokens|client|revocation` for
// one part; `-- --soak [--soak-minutes M]` for the soak alone, see bench/soak.ts): writes bench/results/latest.json, latest.md and latest.png. Benchmarks are never
// assertions; they report ratios against baselines measured in the same run, paths
// interleaved round by round, because this machine is noisy.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuthzResult, benchAuthz } from "./authz.js";
import { writeChart } from "./chart.js";
import { benchClientProxy, clientProxySection } from "./client-proxy.js";
import { fmt, type PathResult, type Stat } from "./harness.js";
import { benchMysql, type MysqlPathStats, type MysqlResults, NODE_RELAY } from "./mysql.js";
import type { ProfileSummary } from "./profile.js";
import { benchProxies, type PathStats, type ProxyResults } from "./proxy.js";
import { benchRevocation, revocationSection } from "./revocation.js";
import { runSoak } from "./soak.js";
import { benchTokens } from "./tokens.js";

const quick = process.argv.includes("--quick");
const onlyAt = process.argv.indexOf("--only");
const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
if (only !== undefined && !["proxy", "mysql", "tokens", "client", "revocation"].includes(only)) {
  console.error(`bench: --only takes proxy, mysql, tokens, client or revocation (got ${only})`);
  process.exit(2);
}
const rounds = quick ? 3 : 5;
const msPerRound = quick ? 300 : 1500;
const dir = join(dirname(fileURLToPath(import.meta.url)), "results");

// `--soak` runs the soak alone (bench/soak.ts): it takes minutes and wants the machine to itself.
if (process.argv.includes("--soak")) {
  const arg = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at > 0 ? Number(process.argv[at + 1]) : fallback;
  };
  mkdirSync(dir, { recursive: true });
  await runSoak(
    {
      minutes: arg("--soak-minutes", 10),
      sessions: arg("--soak-sessions", 10_000),
      churnPerSecond: arg("--soak-churn", 10),
      junkPerSecond: arg("--soak-junk", 10),
      sampleEveryMs: 10_000,
      warmupMs: 60_000,
      resultsDir: dir,
    },
    (s) => console.error(`bench: ${s}`),
  );
  process.exit(0);
}

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

const x = (a: number, b: number) => (Number.isFinite(a / b) ? `${(a / b).toFixed(2)}x` : "–");
const stat = (s: { min: number; median: number; max: number }, f: (n: number) => string) =>
  `${f(s.median)} | ${f(s.min)} | ${f(s.max)}`;
const num = (digits: number) => (n: number) =>
  Number.isFinite(n) ? n.toLocaleString("en-US", { maximumFractionDigits: digits }) : "–";
const kib = (n: number) => num(1)(n / 1024);

function ratiosTable(p: ProxyResults): string {
  const get = (list: PathStats[], name: string) => list.find((s) => s.name === name);
  const med = (list: PathStats[], name: string, cpu = false) =>
    (cpu ? get(list, name)?.cpu?.median : get(list, name)?.value.median) ?? Number.NaN;
  const row = (
    what: string,
    list: PathStats[],
    cpu: boolean,
    iamdbAbs: string,
    target: string,
    met: (r: { bouncer: number; direct: number; abs: number }) => boolean | undefined,
  ) => {
    const abs = med(list, "iamdb", cpu);
    const bouncer = abs / med(list, "pgbouncer", cpu);
    const direct = cpu ? Number.NaN : abs / med(list, "direct", cpu);
    const ok = met({ bouncer, direct, abs });
    return `| ${what} | ${x(abs, med(list, "pgbouncer", cpu))} | ${cpu ? "–" : x(abs, med(list, "direct", cpu))} | ${iamdbAbs} | ${target} | ${ok === undefined ? "" : ok ? "yes" : "**no**"} |`;
  };
  return [
    "| metric | iamdb / pgbouncer | iamdb / direct | iamdb (median) | target | met |",
    "|---|---|---|---|---|---|",
    row(
      "relay TPS, pgbench -S -c 8 -j 2 (higher is better)",
      p.relay,
      false,
      `${num(0)(med(p.relay, "iamdb"))} TPS`,
      ">= 0.8x pgbouncer",
      (r) => r.bouncer >= 0.8,
    ),
    row(
      "proxy CPU per transaction (lower is better)",
      p.relay,
      true,
      `${num(1)(med(p.relay, "iamdb", true))} µs`,
      "<= 18 µs",
      (r) => r.abs <= 18,
    ),
    row(
      "new TLS connections/s, pgbench -C -S (higher is better)",
      p.connect,
      false,
      `${num(1)(med(p.connect, "iamdb"))}/s`,
      ">= 0.9x direct",
      (r) => r.direct >= 0.9,
    ),
    row(
      "proxy CPU per connection (lower is better)",
      p.connect,
      true,
      `${num(0)(med(p.connect, "iamdb", true))} µs`,
      "",
      () => undefined,
    ),
    row(
      `RSS per idle TLS session, ${p.setup.idleSessions} sessions (lower is better)`,
      p.idle,
      false,
      `${kib(med(p.idle, "iamdb"))} KiB`,
      "<= 40 KiB",
      (r) => r.abs <= 40 * 1024,
    ),
    row(
      "COPY out MB/s, 1M rows (higher is better)",
      p.copy,
      false,
      `${num(1)(med(p.copy, "iamdb"))} MB/s`,
      ">= 0.95x direct",
      (r) => r.direct >= 0.95,
    ),
    row(
      "proxy CPU per GB of COPY (lower is better)",
      p.copy,
      true,
      `${num(2)(med(p.copy, "iamdb", true))} s`,
      "",
      () => undefined,
    ),
    "",
  ].join("\n");
}

function absTable(
  title: string,
  unit: string,
  list: PathStats[],
  f: (n: number) => string,
  cpuUnit?: string,
): string {
  return [
    `### ${title}`,
    "",
    `| path | ${unit} median | min | max |${cpuUnit ? ` proxy CPU ${cpuUnit} median | min | max |` : ""}`,
    `|---|---|---|---|${cpuUnit ? "---|---|---|" : ""}`,
    ...list.map(
      (s) =>
        `| ${s.name} | ${stat(s.value, f)} |${cpuUnit ? ` ${s.cpu ? stat(s.cpu, num(2)) : "– | – | –"} |` : ""}`,
    ),
    "",
  ].join("\n");
}

function profileSection(p: ProxyResults): string {
  return profileBlocks("## Where the gateway's time goes (V8 CPU profile)", [
    ["relay (pgbench -S)", p.profiles.relay],
    ["new connections (pgbench -C -S)", p.profiles.connect],
  ]);
}

function profileBlocks(title: string, profiles: Array<[string, ProfileSummary]>, heading = "###"): string {
  const out: string[] = [title, ""];
  for (const [what, prof] of profiles) {
    const cats = Object.entries(prof.categories)
      .filter(([k]) => k !== "idle")
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${((100 * v) / Math.max(prof.busyMs, 1)).toFixed(0)}%`)
      .join(", ");
    out.push(
      `${heading} ${what}: busy ${fmt(prof.busyMs)} of ${fmt(prof.wallMs)} ms sampled`,
      "",
      `Self time: ${cats}.`,
      "",
      "| top self time | % busy |",
      "|---|---|",
      ...prof.topSelf.slice(0, 8).map((e) => `| \`${e.fn}\` | ${e.pct.toFixed(1)} |`),
      "",
      "| iamdb function, inclusive | % busy |",
      "|---|---|",
      ...prof.topIamdbInclusive.slice(0, 8).map((e) => `| \`${e.fn}\` | ${e.pct.toFixed(1)} |`),
      "",
    );
  }
  return out.join("\n");
}

function proxySection(p: ProxyResults): string {
  const ecdsa = p.connect.find((s) => s.name === "iamdb");
  const rsa = p.connect.find((s) => s.name === "iamdb (RSA-2048)");
  const relayPlain = p.relay.find((s) => s.name === "iamdb");
  const audited = p.relay.find((s) => s.name === "iamdb (statement audit)");
  const direct = p.relay.find((s) => s.name === "direct");
  return [
    "## PostgreSQL proxies: iamdb vs pgbouncer (session mode) vs direct",
    "",
    `Every path over TLS (sslmode=require) with the same ECDSA P-256 certificate; trust auth behind the proxies and for direct, so iamdb's token check + policy evaluation is compared with no auth at all. ${p.setup.rounds} interleaved rounds of ${p.setup.seconds} s per pgbench run; proxy CPU is utime+stime of the proxy process from /proc. pgbench, psql, PostgreSQL and the proxy share the machine's cores.`,
    "",
    "### Ratios (medians)",
    "",
    ratiosTable(p),
    absTable("Relay: pgbench -S -c 8 -j 2", "TPS", p.relay, num(0), "µs/txn"),
    ...(audited
      ? [
          `Statement audit on (a JSON line per statement to a file): ${num(0)(audited.value.median)} TPS, ${x(audited.value.median, direct?.value.median ?? Number.NaN)} of direct, ${x(audited.value.median, relayPlain?.value.median ?? Number.NaN)} of iamdb without it; ${num(1)(audited.cpu?.median ?? Number.NaN)} vs ${num(1)(relayPlain?.cpu?.median ?? Number.NaN)} µs proxy CPU per transaction.`,
          "",
        ]
      : []),
    absTable("New TLS connections: pgbench -C -S -c 8 -j 2", "conn/s", p.connect, num(1), "µs/conn"),
    `Certificate type through iamdb: ECDSA P-256 ${num(1)(ecdsa?.value.median ?? Number.NaN)}/s vs RSA-2048 ${num(1)(rsa?.value.median ?? Number.NaN)}/s (${x(ecdsa?.value.median ?? Number.NaN, rsa?.value.median ?? Number.NaN)}).`,
    "",
    absTable(
      `Idle authenticated TLS sessions (${p.setup.idleSessions}, one query each)`,
      "RSS KiB/session",
      p.idle,
      kib,
    ),
    absTable(
      `COPY pgbench_accounts TO STDOUT (${num(1)(p.setup.copyBytes / 1e6)} MB)`,
      "MB/s",
      p.copy,
      num(1),
      "s/GB",
    ),
    ...(p.multiplex ? [multiplexSection(p.multiplex)] : []),
    profileSection(p),
  ].join("\n");
}

function multiplexSection(m: NonNullable<ProxyResults["multiplex"]>): string {
  const get = (prefix: string) => m.paths.find((s) => s.name.startsWith(prefix));
  const prepared = get("iamdb transaction mode, -M prepared");
  const extended = get("iamdb transaction mode, -M extended");
  const bouncer = get("pgbouncer");
  const direct = get("direct");
  const med = (s: PathStats | undefined) => s?.value.median ?? Number.NaN;
  return [
    `### Transaction pooling: pgbench -S, ${m.clients} clients over ${m.backends} backend connections`,
    "",
    `iamdb with \`pool.mode: "transaction"\` (maxBackendConnections ${m.backends}) vs pgbouncer in transaction mode (pool size ${m.backends}; Debian's 1.18 has no max_prepared_statements, so it runs -M extended) vs direct (one backend per client). Ratios: iamdb -M extended / pgbouncer -M extended ${x(med(extended), med(bouncer))}; iamdb -M prepared / pgbouncer -M extended ${x(med(prepared), med(bouncer))}; iamdb -M prepared / direct -M prepared ${x(med(prepared), med(direct))}.`,
    "",
    "| path | TPS median | min | max | proxy CPU µs/txn median | min | max | proxy RSS MB | most backends | errors |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...m.paths.map(
      (s) =>
        `| ${s.name} | ${stat(s.value, num(0))} | ${s.cpu ? stat(s.cpu, num(1)) : "– | – | –"} | ${s.rss ? num(1)(s.rss.median / 1e6) : "–"} | ${s.maxBackends} | ${s.errors} |`,
    ),
    "",
  ].join("\n");
}

function mysqlSection(m: MysqlResults | { skipped: string }): string {
  if ("skipped" in m) return `## MySQL: iamdb vs direct to MariaDB\n\nSkipped: ${m.skipped}\n`;
  const get = (list: MysqlPathStats[], name: string) => list.find((s) => s.name === name);
  const med = (list: MysqlPathStats[], name: string, f: (s: MysqlPathStats) => Stat | undefined) => {
    const s = get(list, name);
    return (s && f(s)?.median) ?? Number.NaN;
  };
  const total = (s: MysqlPathStats) => s.clientCpu.median + (s.gatewayCpu?.median ?? 0) + s.serverCpu.median;
  const totalOf = (list: MysqlPathStats[], name: string) => {
    const s = get(list, name);
    return s ? total(s) : Number.NaN;
  };
  const ratioRow = (what: string, list: MysqlPathStats[], unit: string, digits: number) => {
    const [a, b] = [med(list, "iamdb", (s) => s.value), med(list, "direct", (s) => s.value)];
    return `| ${what} | ${x(a, b)} | ${num(digits)(a)} ${unit} | ${num(digits)(b)} ${unit} |`;
  };
  const cpuRow = (what: string, list: MysqlPathStats[]) => {
    const [a, b] = [totalOf(list, "iamdb"), totalOf(list, "direct")];
    return `| ${what} | ${x(a, b)} | ${num(1)(a)} µs | ${num(1)(b)} µs |`;
  };
  const gatewayRow = (what: string, list: MysqlPathStats[]) =>
    `| ${what} | – | ${num(1)(med(list, "iamdb", (s) => s.gatewayCpu))} µs | – |`;
  /** The bare Node relay's rows: its rate against direct's, then iamdb's against its own (rate and CPU). */
  const ceilingRows = (list: MysqlPathStats[]) => {
    const rate = (n: string) => med(list, n, (s) => s.value);
    const cpu = (n: string) => med(list, n, (s) => s.gatewayCpu);
    const [r, d, i, rc, ic] = [
      rate(NODE_RELAY),
      rate("direct"),
      rate("iamdb"),
      cpu(NODE_RELAY),
      cpu("iamdb"),
    ];
    return [
      `| point selects/s through a bare Node TLS→TCP relay (${NODE_RELAY}: no auth, no parsing), the ceiling for a relay in Node: ${NODE_RELAY} / direct | ${x(r, d)} | ${num(0)(r)} q/s (${NODE_RELAY}) | ${num(0)(d)} q/s |`,
      `| point selects/s, iamdb / ${NODE_RELAY}: what iamdb costs beyond the ceiling | ${x(i, r)} | ${num(0)(i)} q/s | ${num(0)(r)} q/s (${NODE_RELAY}) |`,
      `| relaying process CPU per query, iamdb / ${NODE_RELAY} (lower is better) | ${x(ic, rc)} | ${num(1)(ic)} µs | ${num(1)(rc)} µs (${NODE_RELAY}) |`,
    ];
  };
  const detail = (title: string, unit: string, per: string, list: MysqlPathStats[], digits: number) =>
    [
      `### ${title}`,
      "",
      `| path | ${unit} median | min | max | gateway CPU µs/${per} median | min | max | client µs/${per} | mariadbd µs/${per} | machine busy % | of it others % |`,
      "|---|---|---|---|---|---|---|---|---|---|---|",
      ...list.map(
        (s) =>
          `| ${s.name} | ${stat(s.value, num(digits))} | ${s.gatewayCpu ? stat(s.gatewayCpu, num(1)) : "– | – | –"} | ${num(1)(s.clientCpu.median)} | ${num(1)(s.serverCpu.median)} | ${num(0)(s.machineBusy.median)} | ${num(0)(s.othersBusy.median)} |`,
      ),
      "",
    ].join("\n");
  const { setup } = m;
  return [
    "## MySQL: iamdb vs direct to MariaDB",
    "",
    `Both paths over TLS with the same ECDSA P-256 certificate, to a ${setup.server} the bench started (${num(0)(100 * setup.directTlsShare)}% of direct connections completed a TLS handshake at MariaDB). iamdb: the token as mysql_clear_password inside TLS, token check + rds-db:connect policy, then the gateway's mysql_native_password login to MariaDB over plaintext loopback; direct: a mysql_native_password login; ${NODE_RELAY} (point selects only): the direct login through bench/bare-mysql-relay.ts, a Node process that ends TLS and relays chunks to MariaDB over plaintext loopback as the gateway does, and nothing else (no token, no parsing, no pool), so the ceiling for any relay written in Node here; its "gateway CPU" is that process's. Load generators (C, libmariadb), ${setup.threads} connections each, the same client and options on both paths: ${setup.loadGenerators.join(" and ")}. They run on the same ${setup.cores} cores as MariaDB and the gateway; their CPU per unit ("client") and the machine's busy share are in the tables (others = CPU of processes outside this bench). ${setup.rounds} interleaved rounds of ${setup.seconds} s per run, the order alternating; CPU is utime+stime from /proc.`,
    "",
    "### Ratios (medians)",
    "",
    "| metric | iamdb / direct | iamdb | direct |",
    "|---|---|---|---|",
    ratioRow(
      `point selects/s, sysbench oltp_point_select (${num(0)(setup.tableSize)} rows) (higher is better)`,
      m.pointSelect,
      "q/s",
      0,
    ),
    ratioRow(
      "new TLS connections/s, mariadb-slap: connect + SELECT 1 + quit (higher is better)",
      m.connect,
      "/s",
      1,
    ),
    ...ceilingRows(m.pointSelect),
    gatewayRow("gateway CPU per query (lower is better)", m.pointSelect),
    gatewayRow("gateway CPU per connection (lower is better)", m.connect),
    cpuRow("CPU per query, client + gateway + mariadbd (lower is better)", m.pointSelect),
    cpuRow("CPU per connection, client + gateway + mariadbd (lower is better)", m.connect),
    "",
    detail(
      `Point selects: sysbench oltp_point_select, ${setup.threads} threads`,
      "q/s",
      "query",
      m.pointSelect,
      0,
    ),
    detail(
      `New TLS connections: mariadb-slap --detach=1, ${setup.threads} threads, connect + SELECT 1 + quit`,
      "conn/s",
      "conn",
      m.connect,
      1,
    ),
    profileBlocks(
      "### Where the MySQL gateway's time goes (V8 CPU profile)",
      [
        ["point selects", m.profiles.pointSelect],
        ["new connections", m.profiles.connect],
      ],
      "####",
    ),
  ].join("\n");
}

function chartPanels(p: ProxyResults) {
  const bars = (list: PathStats[], cpu = false) =>
    list.flatMap((s) => {
      const st = cpu ? s.cpu : s.value;
      return st ? [{ name: s.name, stat: st }] : [];
    });
  const inKiB = (list: PathStats[]) =>
    list.map((s) => ({
      name: s.name,
      stat: { ...s.value, min: s.value.min / 1024, median: s.value.median / 1024, max: s.value.max / 1024 },
    }));
  return [
    { title: "Relay (pgbench -S)", unit: "TPS, higher is better", bars: bars(p.relay) },
    { title: "New TLS connections", unit: "conn/s, higher is better", bars: bars(p.connect) },
    { title: "COPY out, 1M rows", unit: "MB/s, higher is better", bars: bars(p.copy) },
    { title: "Proxy CPU per transaction", unit: "µs, lower is better", bars: bars(p.relay, true) },
    { title: "Proxy CPU per connection", unit: "µs, lower is better", bars: bars(p.connect, true) },
    { title: "Memory per idle TLS session", unit: "KiB RSS, lower is better", bars: inKiB(p.idle) },
  ];
}

const started = new Date();
const log = (s: string) => console.error(`bench: ${s}`);
const doTokens = only === undefined || only === "tokens";
const doProxy = only === undefined || only === "proxy";
const doMysql = only === undefined || only === "mysql";
const doClient = only === undefined || only === "client";
const doRevocation = only === undefined || only === "revocation";
if (doTokens) log("tokens and authorization ...");
const tokens = doTokens ? await benchTokens(rounds, msPerRound) : undefined;
const authz = doTokens ? await benchAuthz(quick) : undefined;
const proxies = doProxy
  ? await benchProxies(
      {
        rounds,
        seconds: quick ? 2 : 6,
        idleSessions: quick ? 150 : 2000,
        profileDir: join(dir, "profiles"),
        // 2 cores: pgbench with -j 2 saturates before 400 clients do.
        multiplexClients: quick ? 100 : 200,
      },
      log,
    )
  : undefined;
// A MySQL failure (no mariadbd, no sysbench) must not lose the rest of a long run.
const mysqlResults = doMysql
  ? await benchMysql({ rounds, seconds: quick ? 2 : 5, profileDir: join(dir, "profiles") }, log).catch(
      (err: Error) => {
        log(`MySQL skipped: ${err.message}`);
        return { skipped: err.message };
      },
    )
  : undefined;
// The client kit's proxy; like MySQL, a failure here must not lose the rest of a long run.
const clientProxy = doClient
  ? await benchClientProxy({ rounds, seconds: quick ? 2 : 5 }, log).catch((err: Error) => {
      log(`client proxy skipped: ${err.message}`);
      return undefined;
    })
  : undefined;

// Revocation of live sessions: fleet latency and the cost of a pass over 10,000 sessions.
if (doRevocation) log("revocation ...");
const revocation = doRevocation
  ? await benchRevocation(quick).catch((err: Error) => {
      log(`revocation skipped: ${err.message}`);
      return undefined;
    })
  : undefined;

const sections: string[] = [
  `# iamdb benchmarks — ${started.toISOString()}${quick ? " (quick)" : ""}${only ? ` (only ${only})` : ""}`,
  "",
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? "cpu"}, Node ${process.version}. Chart: latest.png.`,
  "",
];
if (proxies) sections.push(proxySection(proxies));
if (mysqlResults) sections.push(mysqlSection(mysqlResults));
if (clientProxy) sections.push(clientProxySection(clientProxy));
if (revocation) sections.push(revocationSection(revocation));
if (tokens && authz) {
  const [ourSign, awsSign] = tokens.sign as [PathResult, PathResult];
  const [cachedVerify] = tokens.verify as [PathResult, PathResult];
  sections.push(
    "## Tokens",
    "",
    `${rounds} interleaved rounds of ${msPerRound} ms per path; one process, so one core.`,
    "",
    table("Signing", tokens.sign, awsSign),
    table("Verification", tokens.verify, cachedVerify),
    `Signing: iamdb is ${(ourSign.opsPerSec.median / awsSign.opsPerSec.median).toFixed(1)}x @aws-sdk/rds-signer (target >= 10x).`,
    `Verification with the derived-key cache: ${fmt(cachedVerify.opsPerSec.median)}/s on one core (target >= 100,000/s).`,
    "",
    authzTable(authz),
  );
}
const markdown = sections.join("\n");

mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, "latest.json"),
  `${JSON.stringify({ started: started.toISOString(), quick, only, rounds, msPerRound, node: process.version, proxies, mysql: mysqlResults, clientProxy, revocation, tokens, authz }, null, 2)}\n`,
);
writeFileSync(join(dir, "latest.md"), markdown);
const written = proxies
  ? writeChart(
      `iamdb vs pgbouncer vs direct, PostgreSQL over TLS — ${started.toISOString().slice(0, 16)}Z${quick ? " (quick)" : ""}, median with min–max`,
      chartPanels(proxies),
      join(dir, "latest.svg"),
      join(dir, "latest.png"),
    )
  : [];
process.stdout.write(
  `${markdown}\nwrote bench/results/latest.json, latest.md${written.length > 1 ? ", latest.svg, latest.png" : ""}\n`,
);
