import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FileModeError } from "../../src/files/permissions.js";
import { MasterKeyError } from "../../src/store/errors.js";
import { loadMasterKey, MASTER_KEY_ENV, MASTER_KEY_FILE } from "../../src/store/master-key.js";
import { tempDir } from "../iam/fixtures.js";

describe("master key", () => {
  it("creates a 0600 key file on first use and reads the same key afterwards", () => {
    const t = tempDir();
    try {
      const k1 = loadMasterKey({ dataDir: t.dir, env: {} });
      assert.equal(k1.length, 32);
      const file = join(t.dir, MASTER_KEY_FILE);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.deepEqual(loadMasterKey({ dataDir: t.dir, env: {} }), k1);
      assert.equal(Buffer.from(readFileSync(file, "utf8").trim(), "base64").length, 32);
    } finally {
      t.remove();
    }
  });

  it("refuses a key file readable by group or others and says to chmod 600", () => {
    const t = tempDir();
    try {
      loadMasterKey({ dataDir: t.dir, env: {} });
      const file = join(t.dir, MASTER_KEY_FILE);
      for (const mode of [0o640, 0o604, 0o644]) {
        chmodSync(file, mode);
        assert.throws(
          () => loadMasterKey({ dataDir: t.dir, env: {} }),
          (e: unknown) => e instanceof FileModeError && e.message.includes(`chmod 600 ${file}`),
        );
      }
      chmodSync(file, 0o400);
      assert.equal(loadMasterKey({ dataDir: t.dir, env: {} }).length, 32);
    } finally {
      t.remove();
    }
  });

  it("prefers IAMDB_MASTER_KEY and validates it", () => {
    const t = tempDir();
    try {
      const key = randomBytes(32);
      assert.deepEqual(
        loadMasterKey({ dataDir: t.dir, env: { [MASTER_KEY_ENV]: key.toString("base64") } }),
        key,
      );
      assert.throws(
        () => loadMasterKey({ env: { [MASTER_KEY_ENV]: "c2hvcnQ=" } }),
        /openssl rand -base64 32/,
      );
      assert.throws(() => loadMasterKey({ env: {} }), MasterKeyError);
    } finally {
      t.remove();
    }
  });

  it("rejects a corrupt key file", () => {
    const t = tempDir();
    try {
      const file = join(t.dir, MASTER_KEY_FILE);
      writeFileSync(file, "not a key\n", { mode: 0o600 });
      assert.throws(() => loadMasterKey({ dataDir: t.dir, env: {} }), /32 bytes in base64/);
    } finally {
      t.remove();
    }
  });
});
