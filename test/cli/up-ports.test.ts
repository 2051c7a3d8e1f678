// `iamdb up` when a port it wants is taken: one line naming the listener, the address and
// the configuration key to change; exit 1; no stack trace, no "bug in iamdb". The bin checks
// the ports before it starts anything; a port taken after that check fails the listener
// itself, which `listenFailure` words the same way (tested here with a real EADDRINUSE).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { listenFailure } from "../../src/cli/commands/listen-error.js";
import { loadConfig } from "../../src/config/load.js";
import { iamdb } from "../helpers/cli.js";

let dir: string;
let holder: Server;
let held: number;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "iamdb-ports-"));
  holder = createServer();
  held = await new Promise<number>((resolve) =>
    holder.listen(0, "127.0.0.1", () => resolve((holder.address() as { port: number }).port)),
  );
});

after(async () => {
  await new Promise((resolve) => holder.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

async function up(name: string, config: object) {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify({ dataDir: join(dir, name), ...config }));
  const r = await iamdb(["up", "--config", file], { HOME: dir });
  return { ...r, file };
}

function assertPlainFailure(r: { code: number | null; stdout: string; stderr: string }) {
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.doesNotMatch(r.stderr, /bug in iamdb|unexpected error|\n\s+at /);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
}

describe("iamdb up with a port already in use", () => {
  it("an instance's port: names the instance, the address and instances[N].listen.port", async () => {
    const r = await up("instance", {
      api: { port: 0 },
      ops: { port: 0 },
      instances: [{ identifier: "iamdb-postgres", listen: { port: held } }],
    });
    assertPlainFailure(r);
    assert.match(
      r.stderr,
      new RegExp(`instance iamdb-postgres cannot listen on 127\\.0\\.0\\.1:${held}: the port is in use`),
    );
    assert.match(r.stderr, /set `instances\[0\]\.listen\.port` in .*instance\.json to a free port/);
  });

  it("the ops port: names the ops endpoint and ops.port", async () => {
    const r = await up("ops", {
      api: { port: 0 },
      ops: { port: held },
      instances: [{ identifier: "iamdb-postgres", listen: { port: 0 } }],
    });
    assertPlainFailure(r);
    assert.match(r.stderr, new RegExp(`the ops endpoint .* cannot listen on 127\\.0\\.0\\.1:${held}`));
    assert.match(r.stderr, /set `ops\.port`/);
  });

  it("two of iamdb's own listeners on one port: says so and names both keys", async () => {
    const r = await up("same", {
      api: { port: 25999 },
      ops: { port: 0 },
      instances: [{ identifier: "iamdb-postgres", listen: { port: 25999 } }],
    });
    assertPlainFailure(r);
    assert.match(r.stderr, /the admin API and instance iamdb-postgres are configured on the same port/);
    assert.match(r.stderr, /`api\.port`, `instances\[0\]\.listen\.port`/);
  });

  it("a listener that loses the race after the check: the same wording from the listen error itself", async () => {
    const err = await new Promise<Error>((resolve) => {
      const s = createServer();
      s.once("error", resolve);
      s.listen(held, "127.0.0.1");
    });
    const file = join(dir, "race.json");
    writeFileSync(file, "{}");
    const config = loadConfig(file, { dataDir: join(dir, "race") });
    const withOps = { ...config, ops: { ...config.ops, port: held } };
    const e = listenFailure(err, withOps, file);
    assert.ok(e);
    assert.equal(e.exitCode, 1);
    assert.match(
      e.message,
      new RegExp(`^the ops endpoint .* cannot listen on 127\\.0\\.0\\.1:${held}: the port is in use`),
    );
    assert.match(e.message, /set `ops\.port` in .*race\.json/);
    assert.equal(listenFailure(new Error("something else"), withOps, file), undefined);
  });
});
