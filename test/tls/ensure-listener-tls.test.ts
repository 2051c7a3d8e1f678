import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { webcrypto, X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";
import { issueServerCert } from "../../src/tls/generate.js";
import { ensureListenerTls, type ListenerTls, TLS_FILES, TlsConfigError } from "../../src/tls/index.js";
import { missingSans, requiredSans, toSanEntry } from "../../src/tls/names.js";
import { loadX509 } from "../../src/tls/x509.js";

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

/** A CA as iamdb generated them before name constraints: 10 years, no NameConstraints. */
async function createLegacyCa(now: Date): Promise<{ certPem: string; keyPem: string }> {
  const x509 = await loadX509();
  const alg = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=iamdb local CA legacy",
    notBefore: now,
    notAfter: new Date(now.getTime() + 3650 * DAY_MS),
    keys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", keys.privateKey)).toString("base64");
  return {
    certPem: cert.toString("pem"),
    keyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8.match(/.{1,64}/g)?.join("\n")}\n-----END PRIVATE KEY-----\n`,
  };
}

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

  it("has a 397-day leaf and a 2-year CA", () => {
    const days = (c: X509Certificate) => (Date.parse(c.validTo) - Date.parse(c.validFrom)) / DAY_MS;
    assert.ok(days(leafOf(first)) <= 397);
    assert.ok(days(leafOf(first)) > 396);
    const ca = new X509Certificate(first.caPem ?? "");
    assert.ok(days(ca) <= 730);
    assert.ok(days(ca) > 729);
    assert.ok(leafOf(first).checkIssued(ca));
  });

  it("constrains the CA to the listener names (critical NameConstraints, permitted subtrees only)", () => {
    const ca = execFileSync(
      "openssl",
      ["x509", "-noout", "-ext", "nameConstraints", "-in", join(dir, TLS_FILES.caCert)],
      {
        encoding: "utf8",
      },
    );
    assert.match(ca, /X509v3 Name Constraints: critical/);
    const permitted = ca
      .slice(ca.indexOf("Permitted:"))
      .split("\n")
      .slice(1)
      .map((l) => l.trim())
      .filter(Boolean);
    assert.deepEqual(permitted.sort(), [
      "DNS:db.example.test",
      "DNS:localhost",
      "IP:0:0:0:0:0:0:0:1/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF",
      "IP:10.1.2.3/255.255.255.255",
      "IP:127.0.0.1/255.255.255.255",
      "IP:FD00:0:0:0:0:0:0:5/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF",
    ]);
    assert.doesNotMatch(ca, /Excluded/);
  });

  it("a certificate the CA key signs for any other name is refused by OpenSSL and by Node", async () => {
    const caKey = await readFile(join(dir, TLS_FILES.caKey), "utf8");
    const ca = { certPem: first.caPem ?? "", keyPem: caKey };
    const now = new Date();
    for (const [sans, name] of [
      [[{ type: "dns", value: "evil.example.com" }], "evil.example.com"],
      [
        [
          { type: "dns", value: "db.example.test" },
          { type: "dns", value: "example.test" },
        ],
        "example.test",
      ],
      [[{ type: "ip", value: "10.1.2.4" }], undefined],
    ] as const) {
      const rogue = await issueServerCert({
        ca,
        sans: [...sans],
        commonName: "rogue",
        algorithm: "ECDSA-P256",
        now,
      });
      const file = join(root, `rogue-${n++}.pem`);
      await writeFile(file, rogue.certPem);
      const r = spawnSync(
        "openssl",
        ["verify", "-CAfile", join(dir, TLS_FILES.caCert), "-purpose", "sslserver", file],
        {
          encoding: "utf8",
        },
      );
      assert.notEqual(r.status, 0, r.stdout);
      assert.match(`${r.stdout}${r.stderr}`, /permitted subtree violation/);
      await assert.rejects(
        handshake({ key: rogue.keyPem, cert: rogue.certPem, caPem: first.caPem ?? "" }, name),
        { message: "permitted subtree violation" },
      );
    }
    // A subdomain of a permitted DNS name is inside its subtree (RFC 5280 §4.2.1.10).
    const sub = await issueServerCert({
      ca,
      sans: [{ type: "dns", value: "replica.db.example.test" }],
      commonName: "replica.db.example.test",
      algorithm: "ECDSA-P256",
      now,
    });
    await handshake(
      { key: sub.keyPem, cert: sub.certPem, caPem: first.caPem ?? "" },
      "replica.db.example.test",
    );
  });

  it("reuses the files byte for byte on the next start", async () => {
    const before = await readAll(dir);
    const again = await ensureListenerTls({ dir, names: [...NAMES].reverse() });
    assert.deepEqual(await readAll(dir), before);
    assert.deepEqual(again, first);
  });

  it("re-issues the server certificate under the same CA while the CA's constraints permit the names", async () => {
    const d = freshDir();
    const a = await ensureListenerTls({ dir: d, names: ["a.test"] });
    const b = await ensureListenerTls({ dir: d, names: ["a.test", "replica.a.test"] });
    assert.equal(b.caPem, a.caPem);
    assert.notEqual(b.cert, a.cert);
    assert.notEqual(b.key, a.key);
    await handshake(b, "replica.a.test");
    await handshake(b, "a.test");
    // Dropping a name does not need a new certificate: the old one still covers what is asked.
    const c = await ensureListenerTls({ dir: d, names: ["replica.a.test"] });
    assert.equal(c.cert, b.cert);
  });

  it("replaces the CA when a new name lies outside its constraints", async () => {
    const d = freshDir();
    const a = await ensureListenerTls({ dir: d, names: ["a.test"] });
    const b = await ensureListenerTls({ dir: d, names: ["a.test", "b.test"] });
    assert.notEqual(b.caPem, a.caPem);
    await handshake(b, "b.test");
    await handshake(b, "a.test");
    await assert.rejects(handshake({ ...b, caPem: a.caPem }, "b.test"));
  });

  it("replaces a CA without name constraints (generated by an earlier iamdb)", async () => {
    const d = freshDir();
    const now = new Date();
    const legacy = await createLegacyCa(now);
    await ensureListenerTls({ dir: d, names: ["a.test"] });
    await writeFile(join(d, TLS_FILES.caKey), legacy.keyPem, { mode: 0o600 });
    await writeFile(join(d, TLS_FILES.caCert), legacy.certPem);
    const b = await ensureListenerTls({ dir: d, names: ["a.test"] });
    assert.notEqual(b.caPem, legacy.certPem);
    assert.match(
      execFileSync(
        "openssl",
        ["x509", "-noout", "-ext", "nameConstraints", "-in", join(d, TLS_FILES.caCert)],
        { encoding: "utf8" },
      ),
      /DNS:a\.test/,
    );
    await handshake(b, "a.test");
  });

  it("renews the leaf 30 days before its end under the same CA, and the CA 30 days before its end", async () => {
    const d = freshDir();
    const t0 = new Date("2026-01-01T00:00:00Z");
    const at = (days: number) => () => new Date(t0.getTime() + days * DAY_MS);
    const a = await ensureListenerTls({ dir: d, names: ["a.test"], now: at(0) });
    const kept = await ensureListenerTls({ dir: d, names: ["a.test"], now: at(360) });
    assert.equal(kept.cert, a.cert, "37 days before expiry the certificate is kept");
    const b = await ensureListenerTls({ dir: d, names: ["a.test"], now: at(370) });
    assert.notEqual(b.cert, a.cert);
    assert.equal(b.caPem, a.caPem);
    // The second leaf ends with the CA, never after it.
    assert.equal(Date.parse(leafOf(b).validTo), Date.parse(new X509Certificate(a.caPem ?? "").validTo));
    const sameCa = await ensureListenerTls({ dir: d, names: ["a.test"], now: at(695) });
    assert.equal(sameCa.caPem, a.caPem);
    const c = await ensureListenerTls({ dir: d, names: ["a.test"], now: at(705) });
    assert.notEqual(c.caPem, a.caPem, "25 days before the CA's end a new CA is generated");
    assert.notEqual(c.cert, b.cert);
    assert.ok(leafOf(c).checkIssued(new X509Certificate(c.caPem ?? "")));
    assert.ok(Date.parse(leafOf(c).validTo) >= at(705 + 396)().getTime());
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
