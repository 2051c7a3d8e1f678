import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isLoopbackHost, plaintextBackendWarnings } from "../../src/config/backend-tls.js";
import { parseConfig } from "../../src/config/load.js";

const config = (backends: object[]) =>
  parseConfig({
    instances: backends.map((backend, n) => ({
      identifier: `db-${n}`,
      listen: { port: 0 },
      backend: { port: 5432, adminUser: "postgres", ...backend },
    })),
  });

describe("plaintext backend warning", () => {
  it("tells loopback hosts from the rest", () => {
    for (const h of [
      "127.0.0.1",
      "127.8.9.10",
      "::1",
      "[::1]",
      "0:0:0:0:0:0:0:1",
      "::ffff:127.0.0.1",
      "localhost",
      "LOCALHOST.",
      "db.localhost",
      "/var/run/postgresql",
    ]) {
      assert.equal(isLoopbackHost(h), true, h);
    }
    for (const h of [
      "10.0.0.5",
      "128.0.0.1",
      "::2",
      "fd00::1",
      "db.internal.example.com",
      "localhost.example.com",
      "0.0.0.0",
    ]) {
      assert.equal(isLoopbackHost(h), false, h);
    }
  });

  it("warns once per instance whose backend is off loopback with TLS off, and says what to set", () => {
    const warnings = plaintextBackendWarnings(
      config([
        { host: "db.internal.example.com" },
        { host: "10.0.0.5", tls: "disable" },
        { host: "10.0.0.6", tls: "require" },
        { host: "10.0.0.7", tls: "verify-full", caFile: "/etc/ssl/db-ca.pem" },
        { host: "127.0.0.1" },
        { host: "localhost" },
      ]),
    );
    assert.equal(warnings.length, 2);
    assert.match(
      warnings[0] ?? "",
      /^iamdb: warning: instance db-0 reaches its backend db\.internal\.example\.com:5432 without TLS: /,
    );
    assert.match(
      warnings[1] ?? "",
      /^iamdb: warning: instance db-1 reaches its backend 10\.0\.0\.5:5432 without TLS: /,
    );
    for (const w of warnings) {
      assert.match(w, /set "backend": \{"tls": "verify-full", "caFile": \.\.\.\} \(or "require"\)/);
      assert.doesNotMatch(w, /\n/);
    }
  });

  it("says nothing for the embedded backend", () => {
    assert.deepEqual(
      plaintextBackendWarnings(parseConfig({ instances: [{ identifier: "e", listen: { port: 0 } }] })),
      [],
    );
  });
});
