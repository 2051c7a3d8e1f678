// A backend's CA file is read once, not at every backend TLS connection, and again when it changes.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { backendCa } from "../../src/gateway/backend-socket.js";

describe("backendCa", () => {
  it("returns the cached contents until the file changes; a missing file throws", () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-backend-ca-"));
    try {
      const file = join(dir, "ca.pem");
      writeFileSync(file, "first");
      const a = backendCa(file);
      assert.equal(a.toString(), "first");
      assert.equal(backendCa(file), a, "the same buffer: not read again");
      writeFileSync(file, "second, longer");
      utimesSync(file, new Date(), new Date(Date.now() + 5_000));
      assert.equal(backendCa(file).toString(), "second, longer");
      assert.throws(() => backendCa(join(dir, "missing.pem")), /ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
