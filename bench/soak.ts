// `npm run bench -- --soak [--soak-minutes M] [--soak-sessions N]`: the gateway under a long,
// steady load — N idle TLS sessions held open (10,000 by default, as many as the descriptor
// limit allows), plus login churn and junk connections — for M minutes (10 by default) after
// the sessions are open. RSS, open descriptors and event-loop delay of the gateway process are
// sampled every 10 s into bench/results/soak.json and charted in soak.svg; after warm-up
// each should be flat within 5%. See docs/BENCHMARKS.md ("Soak") for what the backend is.
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ensureListenerTls, TLS_FILES } from "../src/tls/index.js";
import { FrontendParser } from "../src/wire/postgres/frontend.js";
import {
  authenticationOk,
  backendKeyData,
  parameterStatus,
  readyForQuery,
  sslResponse,
} from "../src/wire/postgres/serialize.js";
import { startGatewayProcess } from "./env/gateway.js";
import { rssBytes, sleep, spawnTracked, stopChild } from "./env/proc.js";
import type { SoakLoadConfig } from "./soak-load.js";

export interface SoakOptions {
  minutes: number;
  sessions: number;
  churnPerSecond: number;
  junkPerSecond: number;
  sampleEveryMs: number;
  /** Excluded from the flatness verdict after the sessions are open. */
  warmupMs: number;
  resultsDir: string;
}

export interface Sample {
  /** Seconds since the soak started (ramp included). */
  t: number;
  phase: "ramp" | "warm-up" | "steady";
  /** From /proc before the sample's GC: what the operator's tools see. */
  rssBytes: number;
  rssAfterGcBytes: number;
  fds: number;
  heapUsedBytes: number;
  loopDelayMs: { p50: number; p99: number; max: number; mean: number };
  gatewaySessions: number;
  load: Record<string, number | string>;
}

export interface Flatness {
  metric: string;
  unit: string;
  firstThird: number;
  lastThird: number;
  /** (last third − first third) / first third, in %. */
  changePercent: number;
  min: number;
  max: number;
  flat: boolean;
  note?: string;
}

/** The descriptor limit a child inherits: the soft "Max open files" of this process. */
function fdLimit(): { soft: number; hard: number } {
  const line = readFileSync("/proc/self/limits", "utf8")
    .split("\n")
    .find((l) => l.startsWith("Max open files"));
  const [soft = "1024", hard = "1024"] = line?.slice("Max open files".length).trim().split(/\s+/) ?? [];
  const n = (s: string) => (s === "unlimited" ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: n(soft), hard: n(hard) };
}

/**
 * A stand-in for PostgreSQL that logs every connection in at once (trust) and answers each
 * simple query with an empty result: enough for the gateway's backend login, its DISCARD ALL
 * reset and the churn's SELECT 1. Each gateway session still holds one real TCP connection to
 * it; what PostgreSQL would do with 10,000 connections is not what the soak measures.
 */
function startStandIn(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const cstring = (s: string) => Buffer.from(`${s}\0`);
  const typed = (type: string, body: Buffer) => {
    const b = Buffer.alloc(5 + body.length);
    b.write(type, 0, "latin1");
    b.writeInt32BE(4 + body.length, 1);
    body.copy(b, 5);
    return b;
  };
  const hello = Buffer.concat([
    authenticationOk(),
    parameterStatus("server_version", "16.0"),
    parameterStatus("server_encoding", "UTF8"),
    parameterStatus("client_encoding", "UTF8"),
    parameterStatus("DateStyle", "ISO, MDY"),
    parameterStatus("integer_datetimes", "on"),
    parameterStatus("standard_conforming_strings", "on"),
  ]);
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    const parser = new FrontendParser();
    socket.on("data", (chunk: Buffer) => {
      for (const e of parser.push(chunk)) {
        if (e.kind === "error") return void socket.destroy();
        if (e.kind === "startup") {
          if (e.packet.kind === "SSLRequest" || e.packet.kind === "GSSENCRequest") {
            socket.write(sslResponse(false));
            parser.expectStartup();
          } else if (e.packet.kind === "StartupMessage") {
            socket.write(
              Buffer.concat([hello, backendKeyData(process.pid, randomBytes(4)), readyForQuery("I")]),
            );
          } else socket.destroy();
        } else if (e.type === "Q") {
          socket.write(Buffer.concat([typed("C", cstring("SELECT 0")), readyForQuery("I")]));
        } else if (e.type === "S") socket.write(readyForQuery("I"));
        else if (e.type === "X") socket.end();
      }
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      resolve({ server, port: typeof address === "object" && address ? address.port : 0, sockets });
    }),
  );
}

function flatness(
  metric: string,
  unit: string,
  values: number[],
  absoluteSlack = 0,
  note?: string,
): Flatness {
  const third = Math.max(1, Math.floor(values.length / 3));
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const firstThird = mean(values.slice(0, third));
  const lastThird = mean(values.slice(-third));
  const changePercent = firstThird === 0 ? 0 : ((lastThird - firstThird) / firstThird) * 100;
  return {
    metric,
    unit,
    firstThird,
    lastThird,
    changePercent,
    min: Math.min(...values),
    max: Math.max(...values),
    flat: Math.abs(changePercent) <= 5 || Math.abs(lastThird - firstThird) <= absoluteSlack,
    ...(note ? { note } : {}),
  };
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** One line chart per metric, the warm-up shaded. */
function chart(title: string, samples: Sample[], steadyFrom: number): string {
  const panels: Array<{
    title: string;
    unit: string;
    series: Array<{ name: string; color: string; values: number[] }>;
  }> = [
    {
      title: "Gateway RSS",
      unit: "MiB",
      series: [{ name: "RSS", color: "#2b6cb0", values: samples.map((s) => s.rssBytes / 2 ** 20) }],
    },
    {
      title: "Open file descriptors",
      unit: "count",
      series: [{ name: "fds", color: "#dd6b20", values: samples.map((s) => s.fds) }],
    },
    {
      title: "Event-loop delay per 10 s",
      unit: "ms",
      series: [
        { name: "p99", color: "#2f855a", values: samples.map((s) => s.loopDelayMs.p99) },
        { name: "p50", color: "#9ae6b4", values: samples.map((s) => s.loopDelayMs.p50) },
      ],
    },
    {
      title: "Gateway sessions",
      unit: "count",
      series: [{ name: "sessions", color: "#718096", values: samples.map((s) => s.gatewaySessions) }],
    },
  ];
  const w = 560;
  const h = 260;
  const pad = { l: 60, r: 15, t: 34, b: 30 };
  const tMax = Math.max(...samples.map((s) => s.t), 1);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * w + 30}" height="${2 * h + 70}" font-family="DejaVu Sans, Arial, sans-serif">`,
    `<rect width="100%" height="100%" fill="#f7f7f7"/>`,
    `<text x="10" y="28" font-size="16" font-weight="bold">${esc(title)}</text>`,
  ];
  panels.forEach((p, i) => {
    const x0 = 10 + (i % 2) * (w + 10);
    const y0 = 50 + Math.floor(i / 2) * (h + 10);
    const all = p.series.flatMap((s) => s.values).filter(Number.isFinite);
    const max = Math.max(...all, 1e-9) * 1.1;
    const plotW = w - pad.l - pad.r;
    const plotH = h - pad.t - pad.b;
    const X = (t: number) => pad.l + (plotW * t) / tMax;
    const Y = (v: number) => pad.t + plotH - (plotH * v) / max;
    out.push(
      `<g transform="translate(${x0},${y0})">`,
      `<rect width="${w}" height="${h}" fill="#fff" stroke="#ddd"/>`,
      `<rect x="${pad.l}" y="${pad.t}" width="${Math.max(0, X(steadyFrom) - pad.l)}" height="${plotH}" fill="#eee"/>`,
      `<text x="10" y="20" font-size="14" font-weight="bold">${esc(p.title)}</text>`,
      `<text x="${w - 10}" y="20" font-size="11" text-anchor="end" fill="#555">${esc(p.unit)}; shaded: ramp + warm-up</text>`,
      `<line x1="${pad.l}" x2="${w - pad.r}" y1="${pad.t + plotH}" y2="${pad.t + plotH}" stroke="#999"/>`,
      `<line x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${pad.t + plotH}" stroke="#999"/>`,
      `<text x="${pad.l - 5}" y="${pad.t + 4}" font-size="10" text-anchor="end">${max.toFixed(max < 10 ? 1 : 0)}</text>`,
      `<text x="${pad.l - 5}" y="${pad.t + plotH}" font-size="10" text-anchor="end">0</text>`,
      `<text x="${w - pad.r}" y="${h - 8}" font-size="10" text-anchor="end">${Math.round(tMax)} s</text>`,
    );
    p.series.forEach((s, k) => {
      const points = s.values
        .map((v, j) => `${X(samples[j]?.t ?? 0).toFixed(1)},${Y(v).toFixed(1)}`)
        .join(" ");
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${points}"/>`,
        `<text x="${pad.l + 8 + k * 80}" y="${pad.t + 14}" font-size="11" fill="${s.color}">${esc(s.name)}</text>`,
      );
    });
    out.push("</g>");
  });
  out.push("</svg>");
  return out.join("\n");
}

/** The flat-within-5% verdicts over the samples after warm-up. */
export function flatVerdicts(steady: readonly Sample[]): Flatness[] {
  return [
    flatness(
      "RSS after GC",
      "bytes",
      steady.map((s) => s.rssAfterGcBytes),
    ),
    flatness(
      "RSS as sampled (GC sawtooth included)",
      "bytes",
      steady.map((s) => s.rssBytes),
    ),
    flatness(
      "open file descriptors",
      "count",
      steady.map((s) => s.fds),
    ),
    flatness(
      "event-loop delay p99",
      "ms",
      steady.map((s) => s.loopDelayMs.p99),
      1,
      "within 5% or within 1 ms (a 10 ms-resolution histogram: single-digit milliseconds move by more than 5% between samples)",
    ),
    flatness(
      "heap used after GC",
      "bytes",
      steady.map((s) => s.heapUsedBytes),
    ),
  ];
}

export async function runSoak(options: SoakOptions, log: (s: string) => void): Promise<void> {
  const limit = fdLimit();
  // The gateway holds two descriptors per session (client and backend); keep 200 for the rest.
  const fit = Math.floor((limit.soft - 200) / 2);
  const sessions = Math.min(options.sessions, fit);
  if (sessions < options.sessions) {
    log(
      `soak: ${options.sessions} sessions need ${2 * options.sessions + 200} descriptors in the gateway; the limit here is ${limit.soft} (hard ${limit.hard}): running ${sessions}. Raise it with \`ulimit -n\` (or prlimit) before npm run bench.`,
    );
  }
  const scratch = mkdtempSync(join(tmpdir(), "iamdb-soak-"));
  const standIn = await startStandIn();
  const tlsDir = join(scratch, "tls");
  const tls = await ensureListenerTls({ dir: tlsDir, names: ["localhost", "127.0.0.1"] });
  const gateway = await startGatewayProcess({
    backend: { port: standIn.port, database: "soak" },
    dbUser: "iamdb_sf_soak",
    instances: [
      {
        identifier: "soak",
        certFile: join(tlsDir, TLS_FILES.serverCert),
        keyFile: join(tlsDir, TLS_FILES.serverKey),
      },
    ],
    provision: false,
  });
  const port = gateway.ports.soak ?? 0;
  const loadConfig: SoakLoadConfig = {
    port,
    caPem: tls.caPem ?? "",
    user: "iamdb_sf_soak",
    database: "soak",
    sessions,
    concurrency: 32,
    churnPerSecond: options.churnPerSecond,
    junkPerSecond: options.junkPerSecond,
    statsEveryMs: 5_000,
  };
  const load = spawnTracked(
    process.execPath,
    [
      "--import",
      "tsx",
      join(dirname(fileURLToPath(import.meta.url)), "soak-load.ts"),
      JSON.stringify(loadConfig),
    ],
    { name: "soak load", stdio: ["pipe", "pipe", "pipe"] },
  );
  let loadStats: Record<string, number | string> = {};
  let rampedAt: number | undefined;
  const started = Date.now();
  createInterface({ input: load.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    const msg = JSON.parse(line) as Record<string, number | string | boolean>;
    if (msg.ramped) {
      rampedAt = Date.now();
      log(
        `soak: ${msg.open} sessions open after ${msg.seconds} s (${msg.openFailed} failed${msg.lastError ? `: ${msg.lastError}` : ""})`,
      );
    }
    const { ramped: _r, stats: _s, ...rest } = msg;
    loadStats = rest as Record<string, number | string>;
  });
  const giveToken = async () =>
    load.stdin?.write(`${JSON.stringify({ token: await gateway.token("soak") })}\n`);
  await giveToken();
  // Tokens live 15 minutes; churn logins get a fresh one every 5.
  const tokenTimer = setInterval(() => void giveToken(), 5 * 60_000);

  const samples: Sample[] = [];
  const fds = () => readdirSync(`/proc/${gateway.pid}/fd`).length;
  const endAt = () =>
    rampedAt === undefined ? Number.POSITIVE_INFINITY : rampedAt + options.minutes * 60_000;
  log(
    `soak: gateway pid ${gateway.pid}, ${sessions} sessions to open, then ${options.minutes} min of churn (${options.churnPerSecond}/s) and junk (${options.junkPerSecond}/s)`,
  );
  try {
    for (let next = started + options.sampleEveryMs; Date.now() < endAt(); next += options.sampleEveryMs) {
      await sleep(Math.max(0, next - Date.now()));
      if (load.exitCode !== null) throw new Error(`the soak's load process exited (${load.exitCode})`);
      const rssNow = rssBytes(gateway.pid);
      const fdsNow = fds();
      const g = await gateway.soakSample();
      const now = Date.now();
      const phase =
        rampedAt === undefined ? "ramp" : now - rampedAt < options.warmupMs ? "warm-up" : "steady";
      const s: Sample = {
        t: Math.round((now - started) / 100) / 10,
        phase,
        rssBytes: rssNow,
        rssAfterGcBytes: g.rssAfterGc,
        fds: fdsNow,
        heapUsedBytes: g.heapUsed,
        loopDelayMs: g.loopDelayMs,
        gatewaySessions: g.sessions,
        load: loadStats,
      };
      samples.push(s);
      log(
        `soak: ${s.t.toFixed(0)} s ${phase}: RSS ${(s.rssBytes / 2 ** 20).toFixed(1)} MiB (${(s.rssAfterGcBytes / 2 ** 20).toFixed(1)} after GC), ${s.fds} fds, loop delay p99 ${s.loopDelayMs.p99.toFixed(1)} ms (max ${s.loopDelayMs.max.toFixed(1)}), ${s.gatewaySessions} sessions; churn ${loadStats.churnOk ?? 0} ok / ${loadStats.churnFailed ?? 0} failed, junk ${loadStats.junk ?? 0}, lost ${loadStats.lost ?? 0}`,
      );
    }
  } finally {
    clearInterval(tokenTimer);
    load.stdin?.end();
    await stopChild(load, "SIGTERM", 10_000);
    await gateway.stop();
    for (const s of standIn.sockets) s.destroy();
    standIn.server.close();
    rmSync(scratch, { recursive: true, force: true });
  }

  const steady = samples.filter((s) => s.phase === "steady");
  const verdicts = flatVerdicts(steady);
  const steadyFrom = steady[0]?.t ?? 0;
  const last = samples[samples.length - 1];
  const result = {
    started: new Date(started).toISOString(),
    node: process.version,
    requestedSessions: options.sessions,
    sessions,
    fdLimit: limit,
    minutes: options.minutes,
    churnPerSecond: options.churnPerSecond,
    junkPerSecond: options.junkPerSecond,
    sampleEveryMs: options.sampleEveryMs,
    warmupMs: options.warmupMs,
    backend:
      "stand-in PostgreSQL protocol server (trust login, empty results) in the bench process; one TCP connection per session",
    rampSeconds: rampedAt === undefined ? null : (rampedAt - started) / 1000,
    load: last?.load ?? {},
    flat: verdicts,
    samples,
  };
  writeFileSync(join(options.resultsDir, "soak.json"), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(
    join(options.resultsDir, "soak.svg"),
    chart(
      `iamdb soak — ${sessions.toLocaleString("en")} idle TLS sessions + churn ${options.churnPerSecond}/s + junk ${options.junkPerSecond}/s, ${options.minutes} min — ${result.started.slice(0, 16)}Z`,
      samples,
      steadyFrom,
    ),
  );
  const fmt = (v: Flatness) =>
    `${v.metric}: ${v.flat ? "flat" : "NOT flat"} (first third ${v.firstThird.toFixed(v.unit === "bytes" ? 0 : 2)}, last third ${v.lastThird.toFixed(v.unit === "bytes" ? 0 : 2)} ${v.unit}, ${v.changePercent >= 0 ? "+" : ""}${v.changePercent.toFixed(2)}%; range ${v.min.toFixed(v.unit === "bytes" ? 0 : 2)}–${v.max.toFixed(v.unit === "bytes" ? 0 : 2)})`;
  process.stdout.write(
    [
      `soak: ${steady.length} samples after warm-up; churn ${result.load.churnOk ?? 0} ok / ${result.load.churnFailed ?? 0} failed, junk ${result.load.junk ?? 0}, idle sessions lost ${result.load.lost ?? 0}`,
      ...verdicts.map((v) => `  ${fmt(v)}`),
      "wrote bench/results/soak.json, soak.svg",
      "",
    ].join("\n"),
  );
}
