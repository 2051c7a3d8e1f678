// Backend faults through the dialer seam (src/gateway/dialer.ts, test/helpers/dialers.ts), on
// both engines: a refused connection, one that never completes, a reset mid-login and a backend
// certificate the gateway does not trust. Each asserts the client's protocol error, the
// auth log's cause and detail, and that the same gateway then serves a login end to end.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import { mysqlAccounts, withMysqlAdmin } from "../../src/engines/mysql/provision.js";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import type { BackendSpec } from "../../src/instances/types.js";
import { createCa, issueServerCert } from "../../src/tls/generate.js";
import {
  hangingDialer,
  mysqlTlsDialer,
  type PeerCertificate,
  postgresTlsDialer,
  refusingDialer,
  resettingDialer,
  type ScriptedDialer,
  SwitchDialer,
} from "../helpers/dialers.js";
import { pgClient, refusal } from "./clients.js";
import { type EngineFixture, MACHINE_PG, startGatewayFixture, type TestGateway } from "./fixture.js";
import { MACHINE_MARIADB } from "./mysql-fixture.js";

const USER = "iamdb_dialfault";
/** Short enough for the hanging dialer, long enough for a real login on a busy machine. */
const CONNECT_TIMEOUT_MS = 1_000;

interface Side {
  readonly name: string;
  fixture(backend: BackendSpec): EngineFixture;
  /** Logs in through the gateway and runs a query: proof that the gateway serves. */
  works(gw: TestGateway, token: string): Promise<void>;
  /** Logs in and returns the protocol error the client got; fails if the login succeeds. */
  refused(gw: TestGateway, token: string): Promise<{ code: string; message: string }>;
  /** The client's error for a backend the gateway could not reach. */
  readonly unavailable: { code: string; message: RegExp };
  readonly backend: BackendSpec;
  /** A TLS front of this protocol, over the real backend (test/helpers/dialers.ts). */
  tlsDialer(certificate: PeerCertificate): ScriptedDialer;
}

const postgres: Side = {
  name: "PostgreSQL",
  backend: MACHINE_PG,
  fixture: (backend) => ({
    identifier: "pg1",
    engine: "postgres",
    backend,
    // Provisioning talks to the machine's PostgreSQL directly (it has no TLS), whatever the instance says.
    async provision(_spec, dbUser, password) {
      await postgresAccounts.drop(MACHINE_PG, dbUser).catch(() => undefined);
      await postgresAccounts.create(MACHINE_PG, dbUser, password);
    },
    drop: (_spec, dbUser) => postgresAccounts.drop(MACHINE_PG, dbUser),
  }),
  async works(gw, token) {
    const c = pgClient(gw.port, USER, token, gw.caPem);
    await c.connect();
    try {
      assert.equal((await c.query("select current_user u")).rows[0].u, USER);
    } finally {
      await c.end();
    }
  },
  refused: (gw, token) => refusal(pgClient(gw.port, USER, token, gw.caPem)),
  unavailable: {
    code: "08006",
    message: /^could not connect to the database \(iamdb correlation id [0-9a-f-]+\)$/,
  },
  tlsDialer: postgresTlsDialer,
};

const mariadb: Side = {
  name: "MariaDB",
  backend: MACHINE_MARIADB,
  fixture: (backend) => ({
    identifier: "my1",
    engine: "mariadb",
    backend,
    async provision(_spec, dbUser, password) {
      await mysqlAccounts.drop(MACHINE_MARIADB, dbUser);
      await mysqlAccounts.create(MACHINE_MARIADB, dbUser, password);
      await withMysqlAdmin(MACHINE_MARIADB, async (c) => {
        for (const host of await mysqlAccounts.hosts(MACHINE_MARIADB, dbUser))
          await c.query("GRANT SELECT ON test.* TO ?@?", [dbUser, host]);
      });
    },
    drop: (_spec, dbUser) => mysqlAccounts.drop(MACHINE_MARIADB, dbUser),
  }),
  async works(gw, token) {
    const c = await mysqlConnection(gw, token);
    try {
      const [rows] = await c.query("select current_user() u");
      assert.match(String((rows as Array<{ u: string }>)[0]?.u), new RegExp(`^${USER}@`));
    } finally {
      await c.end();
    }
  },
  async refused(gw, token) {
    try {
      const c = await mysqlConnection(gw, token);
      await c.end();
    } catch (err) {
      const e = err as { errno?: number; message: string };
      return { code: String(e.errno), message: e.message };
    }
    throw new Error("the connection was accepted");
  },
  unavailable: {
    code: "1105",
    message:
      /^could not connect to the database \(iamdb correlation id [0-9a-f-]+\); the operator's auth log has the cause$/,
  },
  tlsDialer: mysqlTlsDialer,
};

function mysqlConnection(gw: TestGateway, token: string): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: "127.0.0.1",
    port: gw.port,
    user: USER,
    password: token,
    database: "test",
    ssl: { ca: gw.caPem },
    enableCleartextPlugin: true,
    connectTimeout: 20_000,
  });
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await sleep(25);
  }
  assert.fail(`never happened: ${what}`);
}

/** A gateway for `side` in front of `backend`, with a user allowed to log in as USER, provisioned. */
async function gatewayFor(side: Side, backend: BackendSpec, dialer: SwitchDialer) {
  const gw = await startGatewayFixture(side.fixture(backend), {
    dialer,
    // No idle backend connections kept: every login dials, so every fault is met.
    limits: { backendConnectTimeoutMs: CONNECT_TIMEOUT_MS, backendPoolMaxIdle: 0 },
  });
  try {
    const credentials = await gw.userWithAccess("dialfault", USER);
    await gw.provision(USER);
    return { gw, token: () => gw.token(USER, credentials) };
  } catch (err) {
    await gw.close();
    throw err;
  }
}

/**
 * The login during a fault: the client's protocol error, the auth log's cause and detail, no
 * session, and neither the token nor anything after it in the log.
 */
async function assertUnavailable(side: Side, gw: TestGateway, token: string, detail: RegExp): Promise<void> {
  const r = await side.refused(gw, token);
  assert.equal(r.code, side.unavailable.code, r.message);
  assert.match(r.message, side.unavailable.message);
  const failure = () => gw.log().findLast((l) => l.decision === "failure");
  await eventually(() => failure() !== undefined, "the failure is logged");
  assert.equal(failure()?.cause, "backend-unavailable");
  assert.match(String(failure()?.detail), detail);
  // The client's message names the attempt the operator's log has.
  assert.equal(r.message.match(/correlation id ([0-9a-f-]+)/)?.[1], failure()?.correlationId);
  assert.ok(!gw.logText().includes(token), "the token stays out of the auth log");
  assert.equal(gw.gateway.sessions.size, 0);
}

for (const side of [postgres, mariadb]) {
  describe(`dialer faults: ${side.name}`, () => {
    const dialer = new SwitchDialer();
    let gw: TestGateway;
    let token: () => string;
    const scripted: ScriptedDialer[] = [];

    before(async () => {
      ({ gw, token } = await gatewayFor(side, side.backend, dialer));
    });

    after(async () => {
      await gw?.close();
      for (const d of scripted) await d.close();
    });

    it(`dialer faults: ${side.name}: a refused connection is the client's generic error and the log's ECONNREFUSED; the next login is served`, async () => {
      const refusing = refusingDialer();
      dialer.use(refusing);
      try {
        const { host, port } = side.backend;
        await assertUnavailable(
          side,
          gw,
          token(),
          new RegExp(`^backend ${host.replaceAll(".", "\\.")}:${port} is unreachable: connect ECONNREFUSED`),
        );
        assert.ok(refusing.refused >= 1);
      } finally {
        dialer.use(undefined);
      }
      await side.works(gw, token());
    });

    it(`dialer faults: ${side.name}: a connection that never completes is given up at the connect timeout; the next login is served`, async () => {
      const hanging = hangingDialer();
      dialer.use(hanging);
      try {
        await assertUnavailable(
          side,
          gw,
          token(),
          new RegExp(`did not accept a connection within ${CONNECT_TIMEOUT_MS} ms`),
        );
        // The gateway told the dialer to give up on every connection it asked for (MySQL's version probe too).
        await eventually(() => hanging.aborted === hanging.dials, "every hanging dial is aborted");
        assert.ok(hanging.dials >= 1);
      } finally {
        dialer.use(undefined);
      }
      await side.works(gw, token());
    });

    it(`dialer faults: ${side.name}: a backend that resets mid-login is the client's generic error; the next login is served`, async () => {
      const resetting = resettingDialer(1);
      scripted.push(resetting);
      dialer.use(resetting);
      try {
        await assertUnavailable(side, gw, token(), /^backend closed the connection during login$/);
        // Mid-login: the gateway had sent the backend its login (the user's name is in it).
        assert.ok(Buffer.concat(resetting.received).includes(USER), "the gateway sent its login first");
      } finally {
        dialer.use(undefined);
      }
      await side.works(gw, token());
    });
  });

  describe(`dialer faults: ${side.name} backend TLS`, () => {
    const dialer = new SwitchDialer();
    const dir = mkdtempSync(join(tmpdir(), "iamdb-dialer-tls-"));
    const scripted: ScriptedDialer[] = [];
    let gw: TestGateway | undefined;
    let token: () => string;
    let trusted: PeerCertificate;
    let rogue: PeerCertificate;

    before(async () => {
      const now = new Date();
      const sans = [{ type: "ip", value: "127.0.0.1" }] as const;
      const ca = await createCa({ algorithm: "ECDSA-P256", now, sans });
      const otherCa = await createCa({ algorithm: "ECDSA-P256", now, sans });
      trusted = await issueServerCert({ ca, sans, commonName: "backend", algorithm: "ECDSA-P256", now });
      rogue = await issueServerCert({
        ca: otherCa,
        sans,
        commonName: "backend",
        algorithm: "ECDSA-P256",
        now,
      });
      const caFile = join(dir, "backend-ca.pem");
      writeFileSync(caFile, ca.certPem);
      ({ gw, token } = await gatewayFor(side, { ...side.backend, tls: "verify-full", caFile }, dialer));
    });

    after(async () => {
      try {
        await gw?.close();
        for (const d of scripted) await d.close();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it(`dialer faults: ${side.name}: a backend certificate from another CA is rejected (verify-full), logged, and the next login is served`, async () => {
      const g = gw as TestGateway;
      const untrusted = side.tlsDialer(rogue);
      const good = side.tlsDialer(trusted);
      scripted.push(untrusted, good);
      dialer.use(untrusted);
      const upgrades = dialer.upgrades;
      await assertUnavailable(
        side,
        g,
        token(),
        new RegExp(`^TLS to backend 127\\.0\\.0\\.1:${side.backend.port} failed: .*certificate`),
      );
      assert.ok(dialer.upgrades > upgrades, "the gateway's TLS step went through the dialer");
      // The same backend presenting the certificate of the instance's CA: served end to end over TLS.
      dialer.use(good);
    });
  });
}
