// The admin API and the ops endpoint against slow and numerous clients, and the gateway's
// file descriptors (issue 19, finding 7): ~20,000 half-sent requests used to take every
// descriptor, a 1-byte-per-5-s body was held for minutes, and gateway logins then failed with
// nothing in any log. Connection caps, header / whole-request deadlines, a descriptor reserve
// for the gateway listeners, and a word on stderr when a listener cannot accept.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { type AdminApi, startAdminApi } from "../../src/api/server.js";
import { DescriptorWatch } from "../../src/gateway/descriptors.js";
import { type OpsServer, startOpsServer } from "../../src/gateway/ops.js";
import { pgClient, raw, readUntilClose } from "./clients.js";
import { startTestGateway, type TestGateway } from "./fixture.js";

const USER = "iamdb_gw_limits";
let gw: TestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };

before(async () => {
  gw = await startTestGateway();
  creds = await gw.userWithAccess("limits-user", USER);
  await gw.provision(USER);
});

after(async () => {
  await gw?.close();
});

/** A real login through the gateway and a query. */
async function gatewayLogin(): Promise<void> {
  const token = gw.token(USER, creds);
  const c = pgClient(gw.port, USER, token, gw.caPem);
  await c.connect();
  try {
    assert.equal((await c.query("select 1 one")).rows[0].one, 1);
  } finally {
    await c.end();
  }
}

const portOf = (url: string) => Number(new URL(url).port);

/** `count` connections that each sent half a request and wait. */
async function halfSent(port: number, count: number) {
  const sockets = [];
  for (let i = 0; i < count; i++) {
    const s = await raw(port);
    s.on("error", () => undefined);
    s.write("POST / HTTP/1.1\r\nHost: x\r\n");
    sockets.push(s);
  }
  return sockets;
}

describe("admin API and ops endpoint: connection caps and deadlines", () => {
  let api: AdminApi;
  let ops: OpsServer;

  before(async () => {
    const limits = { maxConnections: 5, headersTimeoutMs: 30_000, requestTimeoutMs: 30_000 };
    api = await startAdminApi({ iam: gw.iam, instances: gw.registry, host: "127.0.0.1", port: 0, limits });
    ops = await startOpsServer(gw.metrics, () => ({ ok: true, detail: "ok" }), "127.0.0.1", 0, limits);
  });

  after(async () => {
    await api?.close();
    await ops?.close();
  });

  it("at the connection cap new connections are closed at once, while gateway logins go on", async () => {
    for (const port of [portOf(api.url), portOf(ops.url)]) {
      const held = await halfSent(port, 5);
      await new Promise((r) => setTimeout(r, 50));
      const extra = await raw(port);
      const closed = readUntilClose(extra, 5_000);
      extra.write("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await closed).length, 0, "the connection over the cap got no answer");
      await gatewayLogin();
      for (const s of held) s.destroy();
      await new Promise((r) => setTimeout(r, 50));
      // Below the cap again: served.
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      await res.text();
    }
  });

  it("the descriptor reserve: with few descriptors left the admin API takes no connection, the gateway still does", async () => {
    let open = 0;
    const watch = new DescriptorWatch({
      reserve: 100,
      limit: 1000,
      count: () => open,
      sampleMs: 0,
      log: () => undefined,
    });
    const guarded = await startAdminApi({
      iam: gw.iam,
      instances: gw.registry,
      host: "127.0.0.1",
      port: 0,
      admitConnection: () => watch.admitsAuxiliary("admin API"),
    });
    try {
      open = 950;
      const s = await raw(portOf(guarded.url));
      const closed = readUntilClose(s, 5_000);
      s.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
      assert.equal((await closed).length, 0);
      assert.ok(watch.admitsGateway("gateway"), "the gateway keeps the reserve");
      await gatewayLogin();
      open = 100;
      assert.ok(watch.admitsAuxiliary("admin API"));
    } finally {
      await guarded.close();
    }
  });

  it("a body sent 1 byte per 5 s is cut off at the request deadline (408); a silent connection at the header deadline", async () => {
    const slow = await startAdminApi({
      iam: gw.iam,
      instances: gw.registry,
      host: "127.0.0.1",
      port: 0,
      limits: { maxConnections: 10, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 },
    });
    try {
      const port = portOf(slow.url);
      const s = await raw(port);
      const answer = readUntilClose(s, 15_000);
      s.write(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\nA",
      );
      let sent = 1;
      const drip = setInterval(() => {
        if (!s.destroyed) {
          s.write("A");
          sent++;
        }
      }, 5_000);
      const text = (await answer).toString();
      clearInterval(drip);
      assert.equal(sent, 1, "cut off before the second byte was due");
      assert.match(text, /^HTTP\/1\.1 408/);

      // Nothing sent at all: closed at the header deadline (readUntilClose fails otherwise).
      await readUntilClose(await raw(port), 15_000);
    } finally {
      await slow.close();
    }
  });
});

describe("a gateway out of file descriptors (a child process under prlimit)", () => {
  it("refuses in its protocol's words while it can, counts and says on stderr what is wrong, and stays up", async () => {
    const here = dirname(fileURLToPath(import.meta.url));
    const child = spawn(
      "prlimit",
      ["--nofile=120", process.execPath, "--import", "tsx", join(here, "emfile-child.ts")],
      { stdio: ["pipe", "pipe", "pipe"], cwd: join(here, "..", "..") },
    );
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    const lines: string[] = [];
    let wake: (() => void) | undefined;
    let buffered = "";
    child.stdout.on("data", (d) => {
      buffered += d;
      let nl = buffered.indexOf("\n");
      while (nl >= 0) {
        lines.push(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        nl = buffered.indexOf("\n");
        wake?.();
      }
    });
    const nextLine = async () => {
      while (lines.length === 0) {
        await new Promise<void>((r) => {
          wake = r;
          setTimeout(r, 100);
        });
        if (child.exitCode !== null) assert.fail(`the child exited: ${stderr}`);
      }
      return JSON.parse(lines.shift() as string) as Record<string, number>;
    };
    const sockets: Array<Awaited<ReturnType<typeof raw>>> = [];
    try {
      const { port } = await nextLine();
      assert.ok(port);
      // Connections that stay in their login phase: one descriptor each in the child.
      let refusals = 0;
      for (let i = 0; i < 200; i++) {
        const s = await raw(port as number).catch(() => undefined);
        if (!s) continue;
        s.on("error", () => undefined);
        s.on("data", (d: Buffer) => {
          // FATAL 53300 "sorry, too many clients already", before any handshake.
          if (d.includes("53300")) refusals++;
        });
        sockets.push(s);
      }
      await new Promise((r) => setTimeout(r, 300));
      child.stdin.write("report\n");
      const report = await nextLine();
      assert.ok(
        refusals > 0,
        `refused with 53300 while descriptors were left to do it: ${JSON.stringify(report)} ${stderr}`,
      );
      assert.ok((report.acceptErrors ?? 0) > 0, "counted in iamdb_accept_errors_total");
      assert.ok((report.outOfDescriptorLines ?? 0) > 0, "an auth log line names the cause");
      assert.match(
        stderr,
        /refused a connection: the process is out of file descriptors .*of 120 descriptors open.*ulimit -n/,
      );
      // Descriptors back: the gateway accepts again.
      for (const s of sockets) s.destroy();
      sockets.length = 0;
      await new Promise((r) => setTimeout(r, 300));
      child.stdin.write("login\n");
      const login = await nextLine();
      assert.equal(login.ok, 1, stderr);
    } finally {
      for (const s of sockets) s.destroy();
      child.stdin.end();
      if (child.exitCode === null) await once(child, "exit");
    }
  });
});
