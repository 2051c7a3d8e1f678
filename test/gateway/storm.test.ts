// Checklist 21: thousands of simultaneous handshakes. The admission caps (per source and in
// total) hold, what is held per pending handshake is bounded, and once the storm is over the
// gateway's memory is back where it started and a real login goes through.
import assert from "node:assert/strict";
import { type Socket, connect as tcpConnect } from "node:net";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { generateAuthToken } from "../../src/index.js";
import { pgClient, startupPacket } from "./clients.js";
import { REGION, startTestGateway, type TestGateway } from "./fixture.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const PER_SOURCE = 1_000;
const TOTAL = 1_400;
const SSL_REQUEST = (1234 << 16) | 5679;

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway({
    limits: { maxPendingLogins: TOTAL, maxPendingLoginsPerSource: PER_SOURCE, loginTimeoutMs: 60_000 },
  });
});

after(async () => {
  await gw?.close();
});

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

type Outcome = { kind: "pending"; socket: TLSSocket; raw: Socket } | { kind: "refused"; code: string };

/**
 * From `localAddress`, asks for TLS and completes the handshake, then says nothing more (a
 * login stuck before its startup packet); or is refused, which the gateway says with an
 * ErrorResponse instead of 'S'.
 */
function handshake(localAddress: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const raw = tcpConnect({ host: "127.0.0.1", port: gw.port, localAddress }, () => {
      raw.write(startupPacket(SSL_REQUEST));
    });
    raw.once("error", reject);
    raw.once("data", (answer: Buffer) => {
      if (answer[0] !== 0x53 /* S */) {
        const code = /C(\w{5})\0/.exec(answer.toString("latin1"))?.[1] ?? "";
        raw.destroy();
        resolve({ kind: "refused", code });
        return;
      }
      const socket = tlsConnect({ socket: raw, rejectUnauthorized: false });
      socket.once("error", reject);
      socket.once("secureConnect", () => resolve({ kind: "pending", socket, raw }));
    });
  });
}

async function storm(from: string, n: number, into: Outcome[]): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    into.push(...(await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => handshake(from)))));
  }
}

describe("thousands of simultaneous handshakes (checklist 21)", () => {
  it("caps per source and in total, a bounded amount held per handshake, memory back to flat after", async () => {
    // Warm up first (code compiled and modules loaded on first use are not per-connection state).
    const warm: Outcome[] = [];
    await storm("127.0.0.1", 200, warm);
    for (const o of warm) if (o.kind === "pending") o.socket.destroy();
    await sleep(500);
    const baseline = heapAfterGc();
    const fromA: Outcome[] = [];
    const fromB: Outcome[] = [];
    // 1,200 from one address: 1,000 admitted (the per-source cap), 200 refused.
    await storm("127.0.0.1", PER_SOURCE + 200, fromA);
    // 600 from another: 400 admitted until 1,400 are pending in all (the total cap), 200 refused.
    await storm("127.0.0.2", TOTAL - PER_SOURCE + 200, fromB);
    const count = (list: Outcome[], kind: Outcome["kind"]) => list.filter((o) => o.kind === kind).length;
    assert.equal(count(fromA, "pending"), PER_SOURCE);
    assert.equal(count(fromB, "pending"), TOTAL - PER_SOURCE);
    const refusals = [...fromA, ...fromB].filter((o) => o.kind === "refused");
    assert.equal(refusals.length, 400);
    assert.ok(refusals.every((o) => o.kind === "refused" && o.code === "53300"));

    // Both ends of every handshake live in this process: still a bound per pending login.
    const perLogin = (heapAfterGc() - baseline) / TOTAL;
    assert.ok(perLogin < 48 * 1024, `heap per pending TLS login: ${Math.round(perLogin / 1024)} KiB`);

    for (const o of [...fromA, ...fromB]) if (o.kind === "pending") o.socket.destroy();
    // This test's own references to the sockets go too: only the gateway's memory is in question.
    fromA.length = 0;
    fromB.length = 0;
    refusals.length = 0;
    // Every pending count is released: the full per-source allowance is available again.
    for (let i = 0; i < 100; i++) {
      const probe = await handshake("127.0.0.1");
      if (probe.kind === "pending") {
        probe.socket.destroy();
        break;
      }
      await sleep(50);
    }
    const again: Outcome[] = [];
    await storm("127.0.0.1", PER_SOURCE, again);
    assert.equal(count(again, "pending"), PER_SOURCE);
    for (const o of again) if (o.kind === "pending") o.socket.destroy();
    again.length = 0;
    // Refused sockets are held up to a second in case their client never closes.
    await sleep(1_500);

    const grown = heapAfterGc() - baseline;
    assert.ok(grown < 4 * 1024 * 1024, `heap after the storms grew by ${Math.round(grown / 1024)} KiB`);

    // And the gateway still logs people in.
    const creds = await gw.userWithAccess("after-storm", "iamdb_storm");
    await gw.provision("iamdb_storm");
    const token = generateAuthToken({
      hostname: "localhost",
      port: gw.port,
      username: "iamdb_storm",
      region: REGION,
      credentials: creds,
    });
    const c = pgClient(gw.port, "iamdb_storm", token, gw.caPem);
    await c.connect();
    assert.equal((await c.query("select current_user u")).rows[0].u, "iamdb_storm");
    await c.end();
  });
});
