// Secrets never reach the operational log: a login flow (a session, a refused token, a wrong
// user) with the logger at trace, every line captured and searched for the token, the secret
// access key and the gateway-held DB password.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { configureLogger, log } from "../../src/log/logger.js";
import { pgClient, refusal } from "./clients.js";
import { startTestGateway, type TestGateway } from "./fixture.js";

const USER = "iamdb_ob_logsecret";
const lines: string[] = [];
let gw: TestGateway;

before(async () => {
  configureLogger({
    level: "trace",
    destination: { write: (l: string) => void lines.push(l) },
    pretty: false,
  });
  gw = await startTestGateway();
});

after(async () => {
  await gw?.close();
  configureLogger({ level: "info" });
});

describe("operational log at trace", () => {
  it("has the login's lines and none of the token, the secret access key or the gateway-held password", async () => {
    const creds = await gw.userWithAccess("log-secret-user", USER);
    await gw.provision(USER);
    const dbPassword = await gw.accounts.password(gw.instance().identifier, USER);
    assert.ok(dbPassword, "the gateway holds a password for the account");
    const token = gw.token(USER, creds);

    const c = pgClient(gw.port, USER, token, gw.caPem);
    await c.connect();
    await c.query("select 1");
    await c.end();
    // Refusals: a token for another user, and a token as the password of the wrong login.
    assert.equal((await refusal(pgClient(gw.port, "iamdb_ob_other", token, gw.caPem))).code, "28000");
    const forged = `${token.slice(0, -4)}0000`;
    assert.equal((await refusal(pgClient(gw.port, USER, forged, gw.caPem))).code, "28000");
    log().flush();

    const text = lines.join("");
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(
      entries.some((e) => e.msg === "session started" && e.dbUser === USER),
      `the session is logged at debug: ${text}`,
    );
    assert.ok(entries.some((e) => e.msg === "login refused" && e.cause === "user-mismatch"));
    assert.ok(entries.some((e) => e.msg === "connection accepted" && e.level === "trace"));
    const signature = /X-Amz-Signature=([0-9a-f]{64})/.exec(token)?.[1] as string;
    for (const [what, secret] of [
      ["token", token],
      ["token's signature", signature],
      ["forged token's signature", /X-Amz-Signature=([0-9a-f]{64})/.exec(forged)?.[1] as string],
      ["secret access key", creds.secretAccessKey],
      ["gateway-held DB password", dbPassword],
    ] as const) {
      assert.ok(!text.includes(secret), `the ${what} is not in the operational log`);
    }
  });
});
