// A drain as a load balancer sees it: /readyz turns 503 the moment SIGTERM's stop begins, while
// the listener still accepts for fleet.drainDelayMs; then the listener closes and the member
// leaves the fleet.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startIamdb } from "../../src/app/start.js";
import { parseConfig } from "../../src/config/load.js";

const accepts = (port: number) =>
  new Promise<boolean>((resolve) => {
    const s = connect(port, "127.0.0.1", () => {
      s.destroy();
      resolve(true);
    });
    s.on("error", () => resolve(false));
  });

describe("draining", () => {
  it("/readyz answers 503 at once while the listener still accepts; then the listener closes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-drain-"));
    const running = await startIamdb(
      parseConfig({
        dataDir: join(dir, "data"),
        api: { port: 0 },
        ops: { port: 0 },
        fleet: { drainDelayMs: 1_500 },
        instances: [
          {
            identifier: "pg1",
            listen: { port: 0 },
            port: 0,
            backend: { host: "127.0.0.1", port: 5432, database: "test", adminUser: "postgres" },
          },
        ],
      }),
    );
    try {
      const port = running.gateway.listeners.get("pg1")?.port ?? 0;
      assert.equal((await fetch(`${running.status.opsUrl}/readyz`)).status, 200);
      assert.equal(running.fleet.members().length, 1);
      const stopped = running.stop();
      assert.equal(
        (await fetch(`${running.status.opsUrl}/readyz`)).status,
        503,
        "503 as soon as the drain starts",
      );
      assert.ok(await accepts(port), "the listener still accepts during the drain delay");
      await stopped;
      assert.equal(await accepts(port), false, "the listener is closed once stopped");
    } finally {
      await running.stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
