// Files named in the configuration file are found next to it (TLS files and backend.caFile, as
// dataDir already was), and each instance's listener serves its own TLS files: an instance
// with operator files serves them, the others the generated certificate (the first instance's
// files used to be served on every listener).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { connect, type PeerCertificate } from "node:tls";
import { startIamdb } from "../../src/app/start.js";
import { loadConfig, parseConfig } from "../../src/config/load.js";
import { Capability } from "../../src/wire/mysql/constants.js";
import { sslRequest } from "../../src/wire/mysql/handshake.js";
import { encodePacket } from "../../src/wire/mysql/packets.js";

/** The certificate a PostgreSQL listener serves for `servername` (SSLRequest, then TLS). */
async function served(port: number, servername: string): Promise<PeerCertificate> {
  const raw = netConnect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    raw.once("connect", () => raw.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    raw.once("data", (b: Buffer) => (b.toString() === "S" ? resolve() : reject(new Error(`answer ${b}`))));
    raw.once("error", reject);
  });
  return new Promise<PeerCertificate>((resolve, reject) => {
    const s = connect({ socket: raw, servername, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate());
      s.destroy();
    });
    s.on("error", reject);
  });
}

/** The certificate a MySQL listener serves for `servername` (its greeting, an SSLRequest, then TLS). */
async function servedMysql(port: number, servername: string): Promise<PeerCertificate> {
  const raw = netConnect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    let got = Buffer.alloc(0);
    const onData = (b: Buffer) => {
      got = Buffer.concat([got, b]);
      if (got.length < 4 || got.length < 4 + got.readUIntLE(0, 3)) return;
      raw.off("data", onData);
      raw.write(encodePacket(1, sslRequest(Capability.PROTOCOL_41 | Capability.SECURE_CONNECTION, 45)));
      resolve();
    };
    raw.on("data", onData);
    raw.once("error", reject);
  });
  return new Promise<PeerCertificate>((resolve, reject) => {
    const s = connect({ socket: raw, servername, rejectUnauthorized: false }, () => {
      resolve(s.getPeerCertificate());
      s.destroy();
    });
    s.on("error", reject);
  });
}

/** A self-signed certificate for `name`, as an operator brings one: DIR/certs/NAME.pem and .key (0600). */
function operatorCertificate(dir: string, name: string): void {
  mkdirSync(join(dir, "certs"), { recursive: true });
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      join(dir, "certs", `${name}.key`),
      "-out",
      join(dir, "certs", `${name}.pem`),
      "-subj",
      `/CN=${name}`,
      "-addext",
      `subjectAltName=DNS:${name}`,
      "-days",
      "30",
    ],
    { stdio: "ignore" },
  );
  chmodSync(join(dir, "certs", `${name}.key`), 0o600);
}

describe("configuration paths", () => {
  it("tls files and backend.caFile are resolved against the config file's directory; absolute paths stay", () => {
    const c = parseConfig(
      {
        instances: [
          {
            identifier: "a",
            tls: { certFile: "certs/a.pem", keyFile: "/abs/a.key", caFile: "../ca.pem" },
            backend: {
              host: "db",
              port: 5432,
              database: "x",
              adminUser: "u",
              tls: "verify-full",
              caFile: "db-ca.pem",
            },
          },
        ],
      },
      "/etc/iamdb",
    );
    const i = c.instances[0];
    assert.deepEqual(i?.tls, {
      certFile: "/etc/iamdb/certs/a.pem",
      keyFile: "/abs/a.key",
      caFile: "/etc/ca.pem",
    });
    assert.equal(i?.backend.type === "server" ? i.backend.caFile : undefined, "/etc/iamdb/db-ca.pem");
  });
});

describe("each instance serves its own TLS material", () => {
  it("an instance with operator files serves them; one without serves the generated certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-itls-"));
    try {
      mkdirSync(join(dir, "certs"));
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:P-256",
          "-nodes",
          "-keyout",
          join(dir, "certs", "op.key"),
          "-out",
          join(dir, "certs", "op.pem"),
          "-subj",
          "/CN=operator.test",
          "-addext",
          "subjectAltName=DNS:operator.test",
          "-days",
          "30",
        ],
        { stdio: "ignore" },
      );
      chmodSync(join(dir, "certs", "op.key"), 0o600);
      const backend = { host: "127.0.0.1", port: 5432, database: "test", adminUser: "postgres" };
      writeFileSync(
        join(dir, "iamdb.json"),
        JSON.stringify({
          dataDir: "data",
          api: { port: 0 },
          ops: { port: 0 },
          instances: [
            {
              identifier: "op1",
              listen: { port: 0 },
              port: 0,
              endpoints: ["operator.test"],
              tls: { certFile: "certs/op.pem", keyFile: "certs/op.key" },
              backend,
            },
            { identifier: "gen1", listen: { port: 0 }, port: 0, endpoints: ["localhost"], backend },
          ],
        }),
      );
      const running = await startIamdb(loadConfig(join(dir, "iamdb.json")));
      try {
        const port = (id: string) => running.gateway.listeners.get(id)?.port ?? 0;
        const op = await served(port("op1"), "operator.test");
        assert.equal(op.subject.CN, "operator.test");
        const gen = await served(port("gen1"), "localhost");
        assert.notEqual(gen.subject.CN, "operator.test");
        assert.match(String(gen.issuer.CN ?? gen.issuer.O), /iamdb/i);
        assert.equal(running.status.instances.find((i) => i.identifier === "op1")?.caFile, undefined);
        assert.match(
          String(running.status.instances.find((i) => i.identifier === "gen1")?.caFile),
          /ca\.pem$/,
        );
      } finally {
        await running.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("each MySQL instance serves its own TLS material", () => {
  it("instance tls: a MariaDB instance with operator files serves them over MySQL's SSL upgrade; one without, the generated certificate", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-itls-my-"));
    try {
      operatorCertificate(dir, "maria.test");
      const backend = { host: "127.0.0.1", port: 3306, adminUser: "root" };
      writeFileSync(
        join(dir, "iamdb.json"),
        JSON.stringify({
          dataDir: "data",
          api: { port: 0 },
          ops: { port: 0 },
          instances: [
            {
              identifier: "myop",
              engine: "mariadb",
              listen: { port: 0 },
              port: 0,
              endpoints: ["maria.test"],
              tls: { certFile: "certs/maria.test.pem", keyFile: "certs/maria.test.key" },
              backend,
            },
            {
              identifier: "mygen",
              engine: "mariadb",
              listen: { port: 0 },
              port: 0,
              endpoints: ["localhost"],
              backend,
            },
          ],
        }),
      );
      const running = await startIamdb(loadConfig(join(dir, "iamdb.json")));
      try {
        const port = (id: string) => running.gateway.listeners.get(id)?.port ?? 0;
        assert.equal((await servedMysql(port("myop"), "maria.test")).subject.CN, "maria.test");
        const gen = await servedMysql(port("mygen"), "localhost");
        assert.notEqual(gen.subject.CN, "maria.test");
        assert.match(String(gen.issuer.CN ?? gen.issuer.O), /iamdb/i);
      } finally {
        await running.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
