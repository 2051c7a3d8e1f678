/**
 * The listener's pending-login count: a connection leaves it when its session starts relaying
 * (the connection tells the listener through ListenerContext.relaying), not only when it closes.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pgClient, raw, refusal } from "./clients.js";
import { startTestGateway, type TestGateway } from "./fixture.js";

let gw: TestGateway;
let jane: { accessKeyId: string; secretAccessKey: string };

before(async () => {
  gw = await startTestGateway({ limits: { maxPendingLogins: 1, maxPendingLoginsPerSource: 1 } });
  jane = await gw.userWithAccess("jane", "iamdb_admission_jane");
  await gw.provision("iamdb_admission_jane");
});

after(async () => {
  await gw.close();
});

describe("admission: a relaying session no longer counts as a pending login", () => {
  it("admission: with maxPendingLogins 1, a second login succeeds while the first session relays", async () => {
    const first = pgClient(gw.port, "iamdb_admission_jane", gw.token("iamdb_admission_jane", jane), gw.caPem);
    await first.connect();
    try {
      // Had the first session kept its pending slot, this login would be refused with 53300.
      const second = pgClient(
        gw.port,
        "iamdb_admission_jane",
        gw.token("iamdb_admission_jane", jane),
        gw.caPem,
      );
      await second.connect();
      try {
        const [a, b] = await Promise.all([first.query("select 1 n"), second.query("select 2 n")]);
        assert.equal(a.rows[0].n, 1);
        assert.equal(b.rows[0].n, 2);
      } finally {
        await second.end();
      }
    } finally {
      await first.end();
    }
  });

  it("admission: a connection still logging in holds the only slot, and the next one is refused with 53300", async () => {
    // Accepted before the next connection is (the listener takes them in order), and silent.
    const idle = await raw(gw.port);
    try {
      // Without TLS, so that pg reads the refusal as an ErrorResponse (the gateway sends it before any handshake).
      const r = await refusal(pgClient(gw.port, "iamdb_admission_jane", "unused", gw.caPem, { ssl: false }));
      assert.equal(r.code, "53300");
      assert.match(r.message, /too many clients/);
    } finally {
      idle.destroy();
    }
  });
});
