import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";
import { ensureListenerTls, type ListenerTls, TLS_FILES, TlsConfigError } from "../../src/tls/index.js";
import { missingSans, requiredSans, toSanEntry } from "../../src/tls/names.js";

const DAY_MS = 24 * 60 * 60 * 1000;
const NAMES = ["db.example.test", "10.1.2.3", "fd00::5"];

let root: string;
let n = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "iamdb-tls-"));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});
const freshDir = () => join(root, `case-${n++}`, "tls");

async function readAll(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of Object.values(TLS_FILES)) out[name] = await readFile(join(dir, name), "utf8");
  return out;
}

/** Serves `material` on 127.0.0.1 and connects with verify-full semantics as `servername` (or the IP). */
async function handshake(material: ListenerTls, servername?: string): Promise<void> {
  const server = tls.createServer({ key: material.key, cert: material.cert }, (s) => s.end());
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await new Promise<void>((resolve, reject) => {
      const socket = tls.connect({ host: "127.0.0.1", port, ca: material.caPem, servername }, () => {
        socket.end();
        resolve();
      });
      socket.on("error", reject);
    });
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

const leafOf = (t: ListenerTls) => new X509Certificate(t.cert);

describe("listener names", () => {
  it("tells DNS names from IPv4/IPv6 literals and canonicalises them", () => {
    assert.deepEqual(toSanEntry("DB.Example.test."), { type: "dns", value: "db.example.test" });
    assert.deepEqual(toSanEntry("10.0.0.1"), { type: "ip", value: "10.0.0.1" });
    assert.deepEqual(toSanEntry("0:0:0:0:0:0:0:1"), { type: "ip", value: "::1" });
    assert.deepEqual(toSanEntry("[fe80::1%eth0]"), { type: "ip", value: "fe80::1" });
    assert.deepEqual(toSanEntry("*.db.example.test"), { type: "dns", value: "*.db.example.test" });
    assert.throws(() => toSanEntry("db example"), TlsConfigError);
    assert.throws(() => toSanEntry(""), TlsConfigError);
  });

  it("always adds the loopback names and reports what a certificate lacks", () => {
    const required = requiredSans(["localhost", "a.test"]);
    assert.deepEqual(
      required.map((e) => e.value),
      ["localhost", "127.0.0.1", "::1", "a.test"],
    );
    const present = [
      { type: "dns" as const, value: "LOCALHOST" },
      { type: "ip" as const, value: "127.0.0.1" },
      { type: "ip" as const, value: "0:0:0:0:0:0:0:1" },
      { type: "dns" as const, value: "127.0.0.1" },
    ];
    assert.deepEqual(missingSans(present, required), [{ type: "dns", value: "a.test" }]);
  });
});

describe("ensureListenerTls (generated)", () => {
  let dir: string;
  let first: ListenerTls;
  before(async () => {
    dir = freshDir();
    first = await ensureListenerTls({ dir, names: NAMES });
  });

  it("verify-full succeeds for a DNS alias, an IP address and localhost", async () => {
    await handshake(first, "db.example.test");
    await handshake(first, "localhost");
    await handshake(first); // no SNI: Node checks the IP SAN against host 127.0.0.1
  });

  it("verify-full fails for a name that is not in the SANs", async () => {
    await assert.rejects(handshake(first, "other.example.test"), { code: "ERR_TLS_CERT_ALTNAME_INVALID" });
  });

  it("verify fails against a different CA", async () => {
    const other = await ensureListenerTls({ dir: freshDir(), names: NAMES });
    await assert.rejects(handshake({ ...first, caPem: other.caPem }, "db.example.test"), {
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
  });

  it("writes keys 0600, certificates 0644, the directory 0700", async () => {
    const mode = async (p: string) => (await stat(p)).mode & 0o777;
    assert.equal(await mode(dir), 0o700);
    assert.equal(await mode(join(dir, TLS_FILES.caKey)), 0o600);
    assert.equal(await mode(join(dir, TLS_FILES.serverKey)), 0o600);
    assert.equal(await mode(join(dir, TLS_FILES.caCert)), 0o644);
    assert.equal(await mode(join(dir, TLS_FILES.serverCert)), 0o644);
    assert.equal(first.caFile, join(dir, TLS_FILES.caCert));
    assert.equal(first.caPem, await readFile(join(dir, TLS_FILES.caCert), "utf8"));
  });

  it("openssl shows the SANs, the EC key and the extensions", () => {
    const leaf = execFileSync(
      "openssl",
      ["x509", "-noout", "-text", "-in", join(dir, TLS_FILES.serverCert)],
      {
        encoding: "utf8",
      },
    );
    assert.match(leaf, /DNS:localhost/);
    assert.match(leaf, /DNS:db\.example\.test/);
    assert.match(leaf, /IP Address:127\.0\.0\.1/);
    assert.match(leaf, /IP Address:10\.1\.2\.3/);
    assert.match(leaf, /IP Address:0:0:0:0:0:0:0:1/);
    assert.match(leaf, /IP Address:FD00:0:0:0:0:0:0:5/i);
    assert.match(leaf, /id-ecPublicKey/);
    assert.match(leaf, /prime256v1|P-256/);
    assert.match(leaf, /ecdsa-with-SHA256/);
    assert.match(leaf, /CA:FALSE/);
    assert.match(leaf, /TLS Web Server Authentication/);
    assert.match(leaf, /Subject Key Identifier/);
    assert.match(leaf, /Authority Key Identifier/);
    const ca = execFileSync("openssl", ["x509", "-noout", "-text", "-in", join(dir, TLS_FILES.caCert)], {
      encoding: "utf8",
    });
    assert.match(ca, /CA:TRUE/);
    assert.match(ca, /Certificate Sign/);
    const verify = execFileSync(
      "openssl",
      [
        "verify",
        "-CAfile",
        join(dir, TLS_FILES.caCert),
        "-purpose",
        "sslserver",
        join(dir, TLS_FILES.serverCert),
      ],
      { encoding: "utf8" },
    );
    assert.match(verify, /OK/);
  });

  it("has an 825-day leaf and a 10-year CA", () => {
    const days = (c: X509Certificate) => (Date.parse(c.validTo) - Date.parse(c.validFrom)) / DAY_MS;
    assert.ok(days(leafOf(first)) <= 825);
    assert.ok(days(leafOf(first)) > 800);
    const ca = new X509Certificate(first.caPem ?? "");
    assert.ok(days(ca) >= 3649);
    assert.ok(leafOf(first).checkIssued(ca));
  });

  it("reuses the files byte for byte on the next start", async () => {
    const before = await readAll(dir);
    const again = await ensureListenerTls({ dir, names: [...NAMES].reverse() });
    assert.deepEqual(await readAll(dir), before);
    assert.deepEqual(again, first);
  });

  it("re-issues the server certificate under the same CA when the names change", async () => {
    const d = freshDir();
    const a = await ensureListenerTls({ dir: d, names: ["a.test"] });
    const b = await ensureListenerTls({ dir: d, names: ["a.test", "b.test"] });
    assert.equal(b.caPem, a.caPem);
    assert.notEqual(b.cert, a.cert);
    assert.notEqual(b.key, a.key);
    await handshake(b, "b.test");
    await handshake(b, "a.test");
    // Dropping a name does not need a new certificate: the old one still covers what is asked.
    const c = await ensureListenerTls({ dir: d, names: ["b.test"] });
    assert.equal(c.cert, b.cert);
  });

  it("re-issues a server certificate that expires within 30 days (same CA)", async () => {
    const d = freshDir();
    const t0 = new Date("2026-01-01T00:00:00Z");
    const a = await ensureListenerTls({ dir: d, names: ["a.test"], now: () => t0 });
    const later = new Date(t0.getTime() + 780 * DAY_MS);
    const b = await ensureListenerTls({ dir: d, names: ["a.test"], now: () => later });
    assert.equal(b.cert, a.cert, "45 days before expiry the certificate is kept");
    const muchLater = new Date(t0.getTime() + 800 * DAY_MS);
    const c = await ensureListenerTls({ dir: d, names: ["a.test"], now: () => muchLater });
    assert.notEqual(c.cert, a.cert);
    assert.equal(c.caPem, a.caPem);
    assert.ok(Date.parse(leafOf(c).validTo) > muchLater.getTime() + 800 * DAY_MS);
  });

  it("re-issues a server certificate whose files were damaged, keeping the CA", async () => {
    const d = freshDir();
    const a = await ensureListenerTls({ dir: d, names: ["a.test"] });
    await writeFile(join(d, TLS_FILES.serverKey), "garbage");
    const b = await ensureListenerTls({ dir: d, names: ["a.test"] });
    assert.equal(b.caPem, a.caPem);
    await handshake(b, "a.test");
  });

  it("refuses to replace a CA whose key is gone", async () => {
    const d = freshDir();
    await ensureListenerTls({ dir: d, names: ["a.test"] });
    await rm(join(d, TLS_FILES.caKey));
    await assert.rejects(ensureListenerTls({ dir: d, names: ["a.test"] }), (e: unknown) => {
      assert.ok(e instanceof TlsConfigError);
      assert.match(e.message, /ca\.key is missing.*restore it, or remove/);
      return true;
    });
  });

  it("rejects a name that is neither a DNS name nor an IP address", async () => {
    await assert.rejects(ensureListenerTls({ dir: freshDir(), names: ["bad name"] }), TlsConfigError);
  });

  it("generates RSA-2048 keys when asked", async () => {
    const d = freshDir();
    const rsa = await ensureListenerTls({ dir: d, names: ["rsa.test"], algorithm: "RSA-2048" });
    const leaf = leafOf(rsa);
    assert.equal(leaf.publicKey.asymmetricKeyType, "rsa");
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.equal(new X509Certificate(rsa.caPem ?? "").publicKey.asymmetricKeyType, "rsa");
    await handshake(rsa, "rsa.test");
    const text = execFileSync("openssl", ["x509", "-noout", "-text", "-in", join(d, TLS_FILES.serverCert)], {
      encoding: "utf8",
    });
    assert.match(text, /rsaEncryption/);
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /Key Encipherment/);
  });
});

describe("ensureListenerTls (operator files)", () => {
  let src: ListenerTls;
  let other: ListenerTls;
  let d: string;
  before(async () => {
    d = freshDir();
    src = await ensureListenerTls({ dir: d, names: ["ops.test"] });
    other = await ensureListenerTls({ dir: freshDir(), names: ["ops.test"] });
  });

  it("loads a matching certificate and key as they are", async () => {
    const certFile = join(d, TLS_FILES.serverCert);
    const keyFile = join(d, TLS_FILES.serverKey);
    const caFile = join(d, TLS_FILES.caCert);
    const loaded = await ensureListenerTls({ dir: "/nonexistent", names: [], certFile, keyFile, caFile });
    assert.deepEqual(loaded, { key: src.key, cert: src.cert, caFile, caPem: src.caPem });
    await handshake(loaded, "ops.test");
    const noCa = await ensureListenerTls({ dir: "/nonexistent", names: [], certFile, keyFile });
    assert.equal(noCa.caFile, undefined);
  });

  it("rejects a key that does not match the certificate", async () => {
    const keyFile = join(root, `other-${n++}.key`);
    await writeFile(keyFile, other.key, { mode: 0o600 });
    const certFile = join(d, TLS_FILES.serverCert);
    await assert.rejects(ensureListenerTls({ dir: d, names: [], certFile, keyFile }), (e: unknown) => {
      assert.ok(e instanceof TlsConfigError);
      assert.match(e.message, /^the key does not match the certificate/);
      return true;
    });
  });

  it("says which file is unreadable or malformed", async () => {
    const keyFile = join(d, TLS_FILES.serverKey);
    const missing = join(root, "missing.pem");
    await assert.rejects(
      ensureListenerTls({ dir: d, names: [], certFile: missing, keyFile }),
      (e: unknown) =>
        e instanceof TlsConfigError && e.message.startsWith(`cert file ${missing} is not readable: `),
    );
    const notPem = join(root, `not-pem-${n++}.pem`);
    await writeFile(notPem, "hello", { mode: 0o600 });
    await assert.rejects(
      ensureListenerTls({ dir: d, names: [], certFile: notPem, keyFile }),
      /contains no PEM certificate/,
    );
    await assert.rejects(
      ensureListenerTls({ dir: d, names: [], certFile: join(d, TLS_FILES.serverCert), keyFile: notPem }),
      /is not a usable private key/,
    );
    await assert.rejects(
      ensureListenerTls({ dir: d, names: [], certFile: join(d, TLS_FILES.serverCert) }),
      /needs both a cert file and a key file/,
    );
  });

  it("rejects an expired certificate", async () => {
    await assert.rejects(
      ensureListenerTls({
        dir: d,
        names: [],
        certFile: join(d, TLS_FILES.serverCert),
        keyFile: join(d, TLS_FILES.serverKey),
        now: () => new Date(Date.now() + 900 * DAY_MS),
      }),
      /expired on .*; install a renewed certificate/,
    );
  });
});
