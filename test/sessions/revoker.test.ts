// The revoker on its own (no gateway, no store): which sessions a change re-evaluates, what a
// failed check does, and gateway.sessionsFollowCredentialExpiry (a session ends when the
// temporary credentials that signed its token expire; off by default, as RDS).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Invalidation } from "../../src/iam/repository.js";
import { LiveSessions, type Termination } from "../../src/sessions/live.js";
import { SessionRevoker } from "../../src/sessions/revocation.js";

const feed = { subscribe: () => () => undefined, poll: () => undefined, live: true };

/** Live sessions with a revoker that allows every session (only expiry can end one). */
function withRevoker(followCredentialExpiry: boolean) {
  const live = new LiveSessions();
  const revoker = new SessionRevoker({
    sessions: live,
    changes: feed,
    begin: () => async () => ({ ok: true }),
    mode: "terminate",
    followCredentialExpiry,
  });
  return { live, revoker };
}

function session(
  live: LiveSessions,
  id: string,
  expiresInMs: number | undefined,
  ended: Termination[],
  accessKeyId = "ASIAEXAMPLE",
) {
  return live.add({
    record: {
      sessionId: id,
      memberId: "",
      instance: "pg1",
      engine: "postgres",
      dbUser: "app",
      database: "test",
      principalArn: "arn:aws:sts::123456789012:assumed-role/app/s",
      accessKeyId,
      temporary: expiresInMs !== undefined,
      credentialExpiresAt: expiresInMs === undefined ? undefined : new Date(Date.now() + expiresInMs),
      client: "127.0.0.1:1",
      started: new Date(),
      backendReused: false,
    },
    sourceIp: "127.0.0.1",
    secureTransport: true,
    terminate: (t) => ended.push(t),
  });
}

describe("sessions that follow their credentials' expiry", () => {
  it("on: ends the session at expiry with the reason; a long-term key's session is untouched", async () => {
    const { live, revoker } = withRevoker(true);
    const ended: Termination[] = [];
    session(live, "temp", 150, ended);
    session(live, "long", undefined, ended);
    const removed = session(live, "gone", 150, ended);
    removed(); // a session that ended before its credentials did: no timer fires for it
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(ended.length, 1);
    assert.equal(ended[0]?.kind, "credentials-expired");
    assert.match(
      ended[0]?.reason ?? "",
      /the temporary credentials ASIAEXAMPLE that signed its token expired at /,
    );
    revoker.close();
  });

  it("off (the default): the session outlives its credentials", async () => {
    const { live, revoker } = withRevoker(false);
    const ended: Termination[] = [];
    session(live, "temp", 50, ended);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(ended, []);
    revoker.close();
  });
});

/** A change feed the test drives. */
function manualFeed() {
  const listeners = new Set<(c: Invalidation) => void>();
  return {
    subscribe: (l: (c: Invalidation) => void) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    poll: () => undefined,
    live: true,
    emit: (c: Invalidation) => {
      for (const l of listeners) l(c);
    },
  };
}

describe("which sessions a change re-evaluates", () => {
  it("a credential's change checks only the sessions its key signed; any other change checks all", async () => {
    const live = new LiveSessions();
    const changes = manualFeed();
    const checked: string[] = [];
    const revoker = new SessionRevoker({
      sessions: live,
      changes,
      begin: () => async (s) => {
        checked.push(s.record.sessionId);
        return s.record.accessKeyId === "AKIADENIED" ? { ok: false, reason: "denied now" } : { ok: true };
      },
      mode: "terminate",
      followCredentialExpiry: false,
    });
    const ended: Termination[] = [];
    session(live, "a", undefined, ended, "AKIAONE");
    session(live, "b", undefined, ended, "AKIADENIED");
    changes.emit({ scope: "credential", accessKeyId: "AKIAONE" });
    await new Promise((r) => setImmediate(r));
    await revoker.run();
    assert.deepEqual(checked, ["a"]);
    assert.equal(ended.length, 0);
    changes.emit({ scope: "all" });
    await new Promise((r) => setImmediate(r));
    await revoker.run();
    assert.deepEqual(checked.slice(1).sort(), ["a", "b"]);
    assert.deepEqual(
      ended.map((t) => [t.kind, t.reason]),
      [["revoked", "denied now"]],
    );
    // The fleet's own bookkeeping is no reason to check anyone.
    changes.emit({ scope: "deployment", kind: "fleet" });
    await new Promise((r) => setImmediate(r));
    await revoker.run();
    assert.equal(checked.length, 3);
    revoker.close();
  });

  it("a check that cannot complete (the store is down) keeps the session; the next change checks it again", async () => {
    const live = new LiveSessions();
    const changes = manualFeed();
    let storeDown = true;
    const revoker = new SessionRevoker({
      sessions: live,
      changes,
      begin: () => async () => {
        if (storeDown) throw new Error("connection refused");
        return { ok: false, reason: "denied now" };
      },
      mode: "terminate",
      followCredentialExpiry: false,
    });
    const ended: Termination[] = [];
    session(live, "a", undefined, ended, "AKIAONE");
    changes.emit({ scope: "all" });
    await new Promise((r) => setImmediate(r));
    await revoker.run();
    assert.deepEqual(ended, []);
    storeDown = false;
    changes.emit({ scope: "all" });
    await new Promise((r) => setImmediate(r));
    await revoker.run();
    assert.equal(ended.length, 1);
    revoker.close();
  });

  it('"keep" (RDS\'s behaviour) does not listen to changes at all', async () => {
    const live = new LiveSessions();
    const changes = manualFeed();
    let checks = 0;
    const revoker = new SessionRevoker({
      sessions: live,
      changes,
      begin: () => async () => {
        checks++;
        return { ok: false, reason: "denied now" };
      },
      mode: "keep",
      followCredentialExpiry: false,
    });
    const ended: Termination[] = [];
    session(live, "a", undefined, ended);
    changes.emit({ scope: "all" });
    await new Promise((r) => setImmediate(r));
    await revoker.run();
    assert.equal(checks, 0);
    assert.deepEqual(ended, []);
    revoker.close();
  });
});
