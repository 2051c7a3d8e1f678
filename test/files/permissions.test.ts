// Finding 12 of the security review: every secret-bearing path is checked like master.key, and
// a refusal names the file, its mode and the chmod to run, and reaches the user without a stack.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ensureAdministrator } from "../../src/api/bootstrap.js";
import {
  assertPrivateDirectory,
  assertPrivateFile,
  assertPrivateKeyFile,
  FileModeError,
} from "../../src/files/permissions.js";
import type { IamService } from "../../src/iam/service.js";
import { loadMasterKey, MASTER_KEY_FILE } from "../../src/store/master-key.js";
import { ensureListenerTls, TLS_FILES } from "../../src/tls/index.js";
import { isolatedHome } from "../helpers/cli.js";

let root: string;
let n = 0;
before(() => {
  root = mkdtempSync(join(tmpdir(), "iamdb-modes-"));
});
after(() => rmSync(root, { recursive: true, force: true }));
const fresh = () => {
  const d = join(root, `case-${n++}`);
  mkdirSync(d, { mode: 0o700 });
  return d;
};
const check = { what: "The test file", why: "it is a test" };

/** Asserts `e` is the typed refusal for `path` at `mode` with exactly `fix`. */
function refusal(path: string, mode: number, fix: string) {
  return (e: unknown) => {
    assert.ok(e instanceof FileModeError, `expected FileModeError, got ${String(e)}`);
    assert.equal(e.path, path);
    assert.equal(e.mode, mode);
    assert.equal(e.fix, fix);
    assert.ok(e.message.includes(path), e.message);
    assert.ok(e.message.includes(`(mode ${mode.toString(8).padStart(4, "0")})`), e.message);
    assert.ok(e.message.endsWith(`Restrict it with: ${fix}`), e.message);
    return true;
  };
}

describe("file mode checks", () => {
  it("accept owner-only modes and missing paths, refuse any group or other bit", () => {
    const d = fresh();
    const f = join(d, "secret");
    assertPrivateFile(f, check); // missing: the caller creates it 0600
    writeFileSync(f, "x", { mode: 0o600 });
    assertPrivateFile(f, check);
    chmodSync(f, 0o400);
    assertPrivateFile(f, check);
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o644, 0o666]) {
      chmodSync(f, mode);
      assert.throws(() => assertPrivateFile(f, check), refusal(f, mode, `chmod 600 ${f}`));
    }
    assertPrivateDirectory(d, check);
    for (const mode of [0o750, 0o705, 0o755, 0o711]) {
      chmodSync(d, mode);
      assert.throws(() => assertPrivateDirectory(d, check), refusal(d, mode, `chmod 700 ${d}`));
    }
    chmodSync(d, 0o700);
  });

  it("quote a path the shell would split, so the chmod can be pasted", () => {
    const d = join(fresh(), "my data's dir");
    mkdirSync(d, { mode: 0o755 });
    chmodSync(d, 0o755);
    assert.throws(
      () => assertPrivateDirectory(d, check),
      refusal(d, 0o755, `chmod 700 '${d.replace("'", "'\\''")}'`),
    );
  });

  it("hold an operator's TLS key to PostgreSQL's rule (0600 if ours, 0640 if root's)", () => {
    const f = join(fresh(), "server.key");
    writeFileSync(f, "x", { mode: 0o600 });
    assertPrivateKeyFile(f, check);
    chmodSync(f, 0o640);
    const root = statSync(f).uid === 0;
    if (root) assertPrivateKeyFile(f, check);
    else assert.throws(() => assertPrivateKeyFile(f, check), refusal(f, 0o640, `chmod 600 ${f}`));
    for (const mode of [0o644, 0o660, 0o604]) {
      chmodSync(f, mode);
      assert.throws(() => assertPrivateKeyFile(f, check), refusal(f, mode, `chmod ${root ? 640 : 600} ${f}`));
    }
  });
});

describe("where the checks apply", () => {
  it("the data directory and the master key", () => {
    const d = fresh();
    loadMasterKey({ dataDir: d, env: {} });
    chmodSync(d, 0o755);
    assert.throws(() => loadMasterKey({ dataDir: d, env: {} }), refusal(d, 0o755, `chmod 700 ${d}`));
    chmodSync(d, 0o700);
    const key = join(d, MASTER_KEY_FILE);
    chmodSync(key, 0o644);
    assert.throws(() => loadMasterKey({ dataDir: d, env: {} }), refusal(key, 0o644, `chmod 600 ${key}`));
  });

  it("the administrator's aws-credentials and aws-config", async () => {
    // The check comes before any IAM call, so no service is needed to reach it.
    const iam = {} as IamService;
    for (const name of ["aws-credentials", "aws-config"]) {
      const d = fresh();
      const f = join(d, name);
      writeFileSync(f, "[iamdb-admin]\n", { mode: 0o600 });
      chmodSync(f, 0o644);
      await assert.rejects(
        ensureAdministrator({ iam, dataDir: d, endpointUrl: "http://127.0.0.1:1", region: "us-east-1" }),
        refusal(f, 0o644, `chmod 600 ${f}`),
      );
    }
  });

  it("generated and operator-supplied TLS private keys", async () => {
    const d = join(fresh(), "tls");
    await ensureListenerTls({ dir: d, names: ["db.modes.test"] });
    for (const name of [TLS_FILES.caKey, TLS_FILES.serverKey]) {
      const f = join(d, name);
      chmodSync(f, 0o640);
      await assert.rejects(
        ensureListenerTls({ dir: d, names: ["db.modes.test"] }),
        refusal(f, 0o640, `chmod 600 ${f}`),
      );
      chmodSync(f, 0o600);
    }
    const keyFile = join(d, TLS_FILES.serverKey);
    chmodSync(keyFile, 0o604);
    await assert.rejects(
      ensureListenerTls({ dir: "/nonexistent", names: [], certFile: join(d, TLS_FILES.serverCert), keyFile }),
      refusal(keyFile, 0o604, `chmod ${statSync(keyFile).uid === 0 ? 640 : 600} ${keyFile}`),
    );
  });
});

const BIN = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bin", "iamdb.js");

/** `iamdb up` expected to refuse at once; killed after 60 s should it start instead. */
function up(dataDir: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "up", "--data-dir", dataDir], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: isolatedHome() },
      stdio: ["ignore", "ignore", "pipe"],
      timeout: 60_000,
    });
    let stderr = "";
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

describe("the CLI", () => {
  const noStack = (stderr: string) => {
    assert.doesNotMatch(stderr, /^\s+at /m, stderr);
    assert.doesNotMatch(stderr, /unexpected error|bug in iamdb/, stderr);
  };

  it("prints the refusal of an open data directory without a stack and exits 1", async () => {
    const d = fresh();
    chmodSync(d, 0o755);
    const r = await up(d);
    assert.equal(r.code, 1, r.stderr);
    assert.equal(
      r.stderr.trim(),
      `iamdb: The data directory ${d} is accessible to group or others (mode 0755); it holds the master key, ` +
        `the administrator's AWS credentials and TLS private keys. Restrict it with: chmod 700 ${d}`,
    );
    noStack(r.stderr);
  });

  it("prints the refusal of a readable master key without a stack and exits 1", async () => {
    const d = fresh();
    loadMasterKey({ dataDir: d, env: {} });
    const key = join(d, MASTER_KEY_FILE);
    chmodSync(key, 0o644);
    const r = await up(d);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^iamdb: The master key file .* is accessible to group or others \(mode 0644\)/);
    assert.ok(r.stderr.trim().endsWith(`Restrict it with: chmod 600 ${key}`), r.stderr);
    noStack(r.stderr);
  });
});
