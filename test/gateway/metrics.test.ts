// /metrics on prom-client: a real gateway and its ops endpoint on port 0, scraped over HTTP and
// parsed; the earlier families keep their names and labels, the new ones (failures by cause,
// login latency by instance and engine, process and event-loop metrics) are there and move.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { GatewayMetrics, LOGIN_FAILURE_CAUSES } from "../../src/gateway/metrics.js";
import { type OpsServer, startOpsServer } from "../../src/gateway/ops.js";
import { generateAuthToken } from "../../src/index.js";
import { pgClient, refusal } from "./clients.js";
import { REGION, startTestGateway, type TestGateway } from "./fixture.js";

const USER = "iamdb_ob_metrics";
let gw: TestGateway;
let ops: OpsServer;
let creds: { accessKeyId: string; secretAccessKey: string };

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format, enough of it for these checks: TYPE lines and samples. */
function parse(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      types.set(type[1] as string, type[2] as string);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[k as string] = v as string;
    }
    samples.push({ name: m[1] as string, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

async function scrape(): Promise<ReturnType<typeof parse> & { contentType: string }> {
  const res = await fetch(`${ops.url}/metrics`);
  assert.equal(res.status, 200);
  return { ...parse(await res.text()), contentType: res.headers.get("content-type") ?? "" };
}

function value(samples: Sample[], name: string, labels: Record<string, string>): number | undefined {
  return samples.find(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}

const token = (user: string, c = creds) =>
  generateAuthToken({ hostname: "localhost", port: gw.port, username: user, region: REGION, credentials: c });

async function login(): Promise<void> {
  const c = pgClient(gw.port, USER, token(USER) as string, gw.caPem);
  await c.connect();
  await c.query("select 1");
  await c.end();
}

before(async () => {
  gw = await startTestGateway();
  creds = await gw.userWithAccess("metrics-user", USER);
  await gw.provision(USER);
  ops = await startOpsServer(gw.metrics, () => ({ ok: true, detail: "ok" }), "127.0.0.1", 0);
});

after(async () => {
  await ops?.close();
  await gw?.close();
});

describe("/metrics (prom-client)", () => {
  it("keeps every earlier family with its labels, zero-filled before any login", async () => {
    const { types, samples, contentType } = await scrape();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    for (const name of [
      "iam_db_auth_connection_requests_total",
      "iam_db_auth_connection_success_total",
      "iam_db_auth_connection_failure_total",
      "iam_db_auth_connection_failure_invalid_token_total",
      "iam_db_auth_connection_failure_insufficient_permissions_total",
      "iam_db_auth_connection_failure_throttling_total",
      "iam_db_auth_connection_failure_server_error_total",
      "iamdb_backend_logins_total",
      "iamdb_backend_reused_total",
    ]) {
      assert.equal(types.get(name.replace(/_total$/, "")) ?? types.get(name), "counter", name);
      assert.equal(typeof value(samples, name, { instance: "pg1" }), "number", `${name}{instance="pg1"}`);
    }
    for (const cause of ["tls-required", "client-closed", "protocol-violation", "login-timeout"]) {
      assert.equal(typeof value(samples, "iamdb_login_ended_total", { instance: "pg1", cause }), "number");
    }
    assert.equal(value(samples, "iamdb_active_sessions", { instance: "pg1" }), 0);
    assert.equal(types.get("iamdb_active_sessions"), "gauge");
    assert.equal(types.get("iamdb_handshake_seconds"), "histogram");
    for (const name of [
      "iamdb_auth_log_write_failures_total",
      "iamdb_auth_log_suppressed_total",
      "iamdb_accept_errors_total",
    ]) {
      assert.equal(value(samples, name, {}), 0, name);
    }
  });

  it("has the process and event-loop metrics a Prometheus user expects", async () => {
    const { types, samples } = await scrape();
    for (const name of [
      "process_cpu_user_seconds_total",
      "process_resident_memory_bytes",
      "process_open_fds",
      "process_start_time_seconds",
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_heap_size_used_bytes",
      "nodejs_version_info",
    ]) {
      assert.ok(
        samples.some((s) => s.name === name),
        `${name} is scraped (types known: ${[...types.keys()].filter((t) => !t.startsWith("iam")).join(", ")})`,
      );
    }
    assert.ok((value(samples, "process_resident_memory_bytes", {}) ?? 0) > 0);
  });

  it("zero-fills iamdb_login_failures_total for every known cause, and counts a refusal under its cause", async () => {
    const before = (await scrape()).samples;
    for (const cause of LOGIN_FAILURE_CAUSES) {
      assert.equal(
        typeof value(before, "iamdb_login_failures_total", { instance: "pg1", cause }),
        "number",
        `cause="${cause}" is zero-filled`,
      );
    }
    const wrongSecret = { ...creds, secretAccessKey: `${creds.secretAccessKey.slice(0, -1)}x` };
    const r = await refusal(pgClient(gw.port, USER, token(USER, wrongSecret) as string, gw.caPem));
    assert.equal(r.code, "28000");
    const after = (await scrape()).samples;
    const at = (s: Sample[], cause: string) =>
      value(s, "iamdb_login_failures_total", { instance: "pg1", cause }) ?? Number.NaN;
    assert.equal(at(after, "signature-mismatch"), at(before, "signature-mismatch") + 1);
    assert.equal(
      value(after, "iam_db_auth_connection_failure_invalid_token_total", { instance: "pg1" }),
      (value(before, "iam_db_auth_connection_failure_invalid_token_total", { instance: "pg1" }) ?? 0) + 1,
    );
    assert.equal(at(after, "expired"), at(before, "expired"));
  });

  it("observes a login in iamdb_login_duration_seconds{instance,engine} and iamdb_handshake_seconds", async () => {
    const labels = { instance: "pg1", engine: "postgres" };
    const before = (await scrape()).samples;
    await login();
    const { samples, types } = await scrape();
    assert.equal(types.get("iamdb_login_duration_seconds"), "histogram");
    const count = (s: Sample[]) => value(s, "iamdb_login_duration_seconds_count", labels) ?? Number.NaN;
    assert.equal(count(samples), count(before) + 1);
    assert.equal(
      value(samples, "iamdb_handshake_seconds_count", { instance: "pg1" }),
      (value(before, "iamdb_handshake_seconds_count", { instance: "pg1" }) ?? 0) + 1,
    );
    // Buckets from 1 ms to 10 s, cumulative, +Inf equal to the count.
    const buckets = samples.filter(
      (s) =>
        s.name === "iamdb_login_duration_seconds_bucket" &&
        s.labels.instance === "pg1" &&
        s.labels.engine === "postgres",
    );
    assert.deepEqual(
      buckets.map((b) => b.labels.le),
      ["0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2", "5", "10", "+Inf"],
    );
    for (let i = 1; i < buckets.length; i++) {
      assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0), "cumulative");
    }
    assert.equal(buckets.at(-1)?.value, count(samples));
    assert.ok((value(samples, "iamdb_login_duration_seconds_sum", labels) ?? 0) > 0);
    assert.equal(
      value(samples, "iam_db_auth_connection_success_total", { instance: "pg1" }),
      (value(before, "iam_db_auth_connection_success_total", { instance: "pg1" }) ?? 0) + 1,
    );
  });

  it("a registry per GatewayMetrics: two in one process do not share or collide", async () => {
    const a = new GatewayMetrics([{ identifier: "a1", engine: "mysql" }], { defaultMetrics: false });
    const b = new GatewayMetrics(["b1"], { defaultMetrics: false });
    a.request("a1");
    a.success("a1", 0.01, 0.004, "mysql");
    assert.equal(await a.counter("iam_db_auth_connection_requests_total", "a1"), 1);
    assert.equal(await b.counter("iam_db_auth_connection_requests_total", "a1"), 0);
    const text = await b.render();
    assert.doesNotMatch(text, /a1/);
    assert.doesNotMatch(text, /^process_/m, "default metrics can be left out");
    const { samples } = parse(await a.render());
    assert.equal(
      value(samples, "iamdb_login_duration_seconds_count", { instance: "a1", engine: "mysql" }),
      1,
    );
    assert.equal(
      value(samples, "iamdb_login_duration_seconds_bucket", { instance: "a1", engine: "mysql", le: "0.002" }),
      0,
    );
    assert.equal(
      value(samples, "iamdb_login_duration_seconds_bucket", { instance: "a1", engine: "mysql", le: "0.005" }),
      1,
    );
  });
});
