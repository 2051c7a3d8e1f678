// `iamdb proxy` for MySQL/MariaDB end to end: a real iamdb gateway in front of the machine's
// MariaDB, the proxy in process, the real mariadb CLI (without --enable-cleartext-plugin) and
// mysql2 (without enableCleartextPlugin) as local clients, with no password.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import mysql from "mysql2/promise";
import type { RunningProxy } from "../../src/client/proxy/proxy.js";
import {
  Capability,
  encodePacket,
  parseErrPacket,
  parseServerHandshake,
  sslRequest,
} from "../../src/wire/mysql/index.js";
import { type MysqlTestGateway, startMysqlTestGateway } from "../gateway/mysql-fixture.js";
import { kitName, opLog, startForward, startKitProxy } from "./helpers.js";

const run = promisify(execFile);
let gw: MysqlTestGateway;
let creds: { accessKeyId: string; secretAccessKey: string };
const dbUser = kitName();
const proxies: RunningProxy[] = [];

async function proxy(
  extra: Parameters<typeof startKitProxy>[0] = {},
  o: Parameters<typeof startKitProxy>[2] = {},
) {
  const p = await startKitProxy(
    {
      engine: "mysql",
      target: `127.0.0.1:${gw.port}`,
      tokenHost: `localhost:${gw.port}`,
      listen: "127.0.0.1:0",
      username: dbUser,
      caFile: gw.caFile,
      ...extra,
    },
    creds,
    o,
  );
  proxies.push(p);
  return p;
}

const portOf = (p: RunningProxy) => p.listeners[0]?.port as number;

/** The real mariadb client: no password, no TLS to the proxy, no cleartext plugin flag, no option files. */
async function mariadb(
  args: string[],
  sql: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(
      "mariadb",
      ["--no-defaults", "--skip-ssl", "-N", "-B", "--connect-timeout=10", ...args, "-e", sql],
      { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: tmpdir() }, timeout: 30_000 },
    );
    return { code: 0, stdout: stdout.trimEnd(), stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const tcp = (p: RunningProxy) => ["--protocol=TCP", "-h", "127.0.0.1", "-P", String(portOf(p))];

before(async () => {
  gw = await startMysqlTestGateway();
  creds = await gw.userWithAccess(kitName("kitiam"), dbUser);
  await gw.provision(dbUser);
});

after(async () => {
  try {
    for (const p of proxies) await p.stop(0);
  } finally {
    await gw.close();
  }
  const text = opLog.join("");
  assert.ok(!text.includes(creds.secretAccessKey), "the secret key reached the operational log");
  assert.ok(!text.includes("X-Amz-Signature"), "a token reached the operational log");
});

describe("iamdb proxy (MySQL / MariaDB)", () => {
  it("the mariadb CLI with no password and no --enable-cleartext-plugin logs in through the proxy", async () => {
    const p = await proxy();
    const r = await mariadb([...tcp(p), "-u", dbUser, "-D", "test"], "select current_user(), database()");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${dbUser}@%\ttest`);
    assert.equal(gw.log().at(-1)?.decision, "success");
  });

  it("announces the server's own version, and ignores a password the client sends", async () => {
    const p = await proxy({ database: "test" });
    const r = await mariadb(
      [...tcp(p), "-u", "whoever", "--password=not-a-token"],
      "select version(), database()",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\S*MariaDB\S*\ttest$/);
  });

  it("mysql2 without enableCleartextPlugin: queries, multi-statements, a prepared statement", async () => {
    const p = await proxy();
    const c = await mysql.createConnection({
      host: "127.0.0.1",
      port: portOf(p),
      user: dbUser,
      database: "test",
      multipleStatements: true,
    });
    try {
      const [rows] = await c.query("select current_user() as u; select 2 as two");
      assert.deepEqual(rows, [[{ u: `${dbUser}@%` }], [{ two: 2 }]]);
      const [prepared] = await c.execute("select ? + 1 as n", [41]);
      assert.deepEqual(prepared, [{ n: 42 }]);
    } finally {
      await c.end();
    }
  });

  it("a pool of 20 connections signs one token", async () => {
    const p = await proxy();
    const pool = mysql.createPool({
      host: "127.0.0.1",
      port: portOf(p),
      user: dbUser,
      database: "test",
      connectionLimit: 20,
    });
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, async (_, i) => {
          const c = await pool.getConnection();
          try {
            const [rows] = await c.query("select ? as i, sleep(0.05)", [i]);
            return (rows as Array<{ i: number }>)[0]?.i;
          } finally {
            c.release();
          }
        }),
      );
      assert.deepEqual(
        results,
        Array.from({ length: 20 }, (_, i) => i),
      );
      const signed = (await p.metrics.registry.getSingleMetric("iamdb_proxy_tokens_signed_total")?.get())
        ?.values[0]?.value;
      assert.equal(signed, 1);
    } finally {
      await pool.end();
    }
  });

  it("over a Unix socket in --unix-socket-dir", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kit-sock-"));
    try {
      const p = await proxy({ unixSocketDir: dir });
      const path = p.listeners[0]?.socketPath as string;
      const r = await mariadb(
        ["--protocol=SOCKET", `--socket=${path}`, "-u", dbUser, "-D", "test"],
        "select current_user()",
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${dbUser}@%`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("through a port-forward with --token-host", async () => {
    const fwd = await startForward({ host: "127.0.0.1", port: gw.port });
    try {
      const p = await proxy({ target: `127.0.0.1:${fwd.port}`, tokenHost: `localhost:${gw.port}` });
      const r = await mariadb([...tcp(p), "-u", dbUser, "-D", "test"], "select current_user()");
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${dbUser}@%`);
    } finally {
      await fwd.close();
    }
  });

  it("a refused token reaches the client as ERROR 1045 with a hint naming rds-db:connect", async () => {
    const nobody = await gw.userWithAccess(kitName("kitiam"), "kit_not_this_one");
    const p = await startKitProxy(
      {
        engine: "mysql",
        target: `127.0.0.1:${gw.port}`,
        tokenHost: `localhost:${gw.port}`,
        listen: "127.0.0.1:0",
        username: dbUser,
        caFile: gw.caFile,
      },
      nobody,
    );
    proxies.push(p);
    const r = await mariadb([...tcp(p), "-u", dbUser], "select 1");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /ERROR 1045 \(28000\): Access denied for user/);
    assert.match(r.stderr, /rds-db:connect to arn:aws:rds-db:us-east-1:<account>:dbuser:<DbiResourceId>\//);
    assert.equal(gw.log().at(-1)?.cause, "not-authorized");
  });

  it("--max-connections: the next client gets ERROR 1040", async () => {
    const p = await proxy({}, { maxConnections: 1 });
    const c = await mysql.createConnection({
      host: "127.0.0.1",
      port: portOf(p),
      user: dbUser,
      database: "test",
    });
    try {
      const r = await mariadb([...tcp(p), "-u", dbUser], "select 1");
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /ERROR 1040.*--max-connections/);
      const [rows] = await c.query("select 1 as one");
      assert.deepEqual(rows, [{ one: 1 }]);
    } finally {
      await c.end();
    }
  });

  it("a client that sends an SSLRequest anyway (none was offered) is told to connect without TLS", async () => {
    const p = await proxy();
    const socket = netConnect({ host: "127.0.0.1", port: portOf(p) });
    const received: Buffer[] = [];
    socket.on("data", (d: Buffer) => {
      received.push(d);
      if (received.length === 1) {
        const greeting = parseServerHandshake(d.subarray(4));
        assert.equal(greeting.capabilities & Capability.SSL, 0);
        socket.write(encodePacket(1, sslRequest(Capability.PROTOCOL_41 | Capability.SSL, 45)));
      }
    });
    await new Promise((resolve) => socket.on("close", resolve));
    const err = parseErrPacket(Buffer.concat(received.slice(1)).subarray(4));
    assert.equal(err.code, 1043);
    assert.match(err.message, /offers no TLS to local clients.*--ssl=0/);
  });
});
