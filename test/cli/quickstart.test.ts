// The quickstart `iamdb up` prints: the deployment's flags on every command, an endpoint name
// that resolves, and the instance's own database.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { IamdbStatus } from "../../src/app/status.js";
import { deploymentFlags } from "../../src/cli/commands/context.js";
import { quickstart, reachableEndpoint } from "../../src/cli/commands/up.js";

const status = (database: string, endpoints: string[]): IamdbStatus => ({
  pid: 1,
  startedAt: "2026-01-01T00:00:00Z",
  dataDir: "/srv/iamdb/state",
  apiUrl: "http://127.0.0.1:18400",
  opsUrl: "http://127.0.0.1:18401",
  authLog: "/srv/iamdb/state/auth.log",
  adminCredentials: {
    credentialsFile: "/srv/iamdb/state/aws-credentials",
    configFile: "/srv/iamdb/state/aws-config",
    profile: "iamdb-admin",
  },
  instances: [
    {
      identifier: "app-postgres",
      engine: "postgres",
      listen: { host: "0.0.0.0", port: 15432 },
      endpoints,
      port: 15432,
      region: "us-east-1",
      dbiResourceId: "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
      iamAuthEnabled: true,
      caFile: "/srv/iamdb/state/tls/ca.pem",
      backend: { host: "10.0.0.5", port: 5432, database, embedded: false },
    },
  ],
});

const resolver = (known: string[]) => async (name: string) => {
  if (!known.includes(name))
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
};

describe("quickstart", () => {
  it("connects to the backend's database, not a hard-coded postgres", () => {
    const text = quickstart(status("appdb", ["db.internal"]), "000000000000", {
      flags: "--data-dir .iamdb",
      endpoint: { host: "db.internal" },
    });
    assert.match(text, /psql "host=db\.internal port=15432 .* dbname=appdb user=jane password=\$TOKEN"/);
    assert.doesNotMatch(text, /dbname=postgres/);
  });

  it("signs for the first endpoint that resolves, and says so", async () => {
    const e = await reachableEndpoint(
      ["db.example.internal", "gw.local", "localhost"],
      resolver(["gw.local", "localhost"]),
    );
    assert.deepEqual(e, {
      host: "gw.local",
      note: "the first endpoint, db.example.internal, does not resolve on this host; signing for gw.local",
    });
    const text = quickstart(status("appdb", ["db.example.internal", "gw.local"]), "000000000000", {
      flags: "--config app.json",
      endpoint: e,
    });
    assert.match(text, /--hostname gw\.local --port 15432 /);
    assert.match(text, /\(the first endpoint, db\.example\.internal, does not resolve/);
    for (const line of text.split("\n").filter((l) => /\.\/bin\/iamdb\.js (iam|db-user)/.test(l))) {
      assert.match(line, /--config app\.json/, line);
    }
  });

  it("the first endpoint, without a note, when it resolves; a note naming them all when none does", async () => {
    assert.deepEqual(await reachableEndpoint(["a.test", "b.test"], resolver(["a.test", "b.test"])), {
      host: "a.test",
    });
    const none = await reachableEndpoint(["a.test", "b.test"], resolver([]));
    assert.equal(none.host, "a.test");
    assert.match(none.note ?? "", /none of the endpoint names \(a\.test, b\.test\) resolves on this host/);
  });
});

describe("deploymentFlags", () => {
  const cfg = { dataDir: "/w/state" };
  it("--config FILE alone when the data directory is the file's; --data-dir too when it was overridden", () => {
    assert.equal(deploymentFlags({ config: "app.json" }, cfg, "relative", "/w"), "--config app.json");
    assert.equal(deploymentFlags({ config: "app.json" }, cfg, "absolute", "/w"), "--config /w/app.json");
    assert.equal(
      deploymentFlags({ config: "app.json", dataDir: "state" }, cfg, "relative", "/w"),
      "--config app.json --data-dir state",
    );
  });
  it("--data-dir without a configuration file; paths with spaces quoted for the shell", () => {
    assert.equal(deploymentFlags({}, { dataDir: "/w/.iamdb" }, "relative", "/w"), "--data-dir .iamdb");
    assert.equal(
      deploymentFlags({ config: "/my files/it's.json" }, cfg, "absolute", "/w"),
      "--config '/my files/it'\\''s.json'",
    );
  });
});
