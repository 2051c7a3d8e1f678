// Run by http-limits.test.ts under `prlimit --nofile=N`: a gateway in front of the machine's
// PostgreSQL whose process has few file descriptors. Prints {"port"} on start; on "report" the
// accept-error counter and the out-of-descriptor auth-log lines; on "login" whether a real
// login works; exits when stdin ends.
import { createInterface } from "node:readline";
import { pgClient } from "./clients.js";
import { startTestGateway } from "./fixture.js";

const USER = "iamdb_gw_emfile";
const gw = await startTestGateway({
  limits: { maxPendingLogins: 10_000, maxPendingLoginsPerSource: 10_000, loginTimeoutMs: 60_000 },
});
const creds = await gw.userWithAccess("emfile-user", USER);
await gw.provision(USER);
process.stdout.write(`${JSON.stringify({ port: gw.port })}\n`);

const input = createInterface({ input: process.stdin });
input.on("line", async (line) => {
  if (line === "report") {
    process.stdout.write(
      `${JSON.stringify({
        acceptErrors: await gw.metrics.processCounter("iamdb_accept_errors_total"),
        outOfDescriptorLines: gw.log().filter((l) => /out of file descriptors/.test(String(l.detail))).length,
      })}\n`,
    );
  } else if (line === "login") {
    let ok = 0;
    try {
      const token = gw.token(USER, creds);
      const c = pgClient(gw.port, USER, token, gw.caPem);
      await c.connect();
      await c.query("select 1");
      await c.end();
      ok = 1;
    } catch (err) {
      process.stderr.write(`login failed: ${(err as Error).message}\n`);
    }
    process.stdout.write(`${JSON.stringify({ ok })}\n`);
  }
});
input.on("close", async () => {
  const { postgresAccounts } = await import("../../src/engines/postgres/provision.js");
  await postgresAccounts.drop(gw.instance().backend, USER).catch(() => undefined);
  await gw.close();
  process.exit(0);
});
