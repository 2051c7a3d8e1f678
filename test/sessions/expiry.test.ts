// gateway.sessionsFollowCredentialExpiry: a session ends when the temporary credentials that
// signed its token expire (off by default: RDS keeps such sessions).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
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

function session(live: LiveSessions, id: string, expiresInMs: number | undefined, ended: Termination[]) {
  return live.add({
    record: {
      sessionId: id,
      memberId: "",
      instance: "pg1",
      engine: "postgres",
      dbUser: "app",
      database: "test",
      principalArn: "arn:aws:sts::123456789012:assumed-role/app/s",
      accessKeyId: "ASIAEXAMPLE",
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
