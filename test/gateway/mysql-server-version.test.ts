// What the MySQL handshake announces before and after the backend's version is known
// (the reader of the backend's greeting is injected; mysql.test.ts does it for real).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { announcedVersion, fallbackVersion, ServerVersions } from "../../src/engines/mysql/server-version.js";
import type { BackendSpec } from "../../src/instances/types.js";

const backend: BackendSpec = {
  host: "127.0.0.1",
  port: 3306,
  database: "",
  tls: "disable",
  adminUser: "root",
};
const instance = { identifier: "my1", engine: "mariadb" as const, backend };
const MARIADB = "5.5.5-10.11.19-MariaDB-0+deb12u1";

describe("ServerVersions", () => {
  it("announces the backend's version with -iamdb once read, reading it once for clients that arrive together", async () => {
    let reads = 0;
    const versions = new ServerVersions(async () => {
      reads++;
      return MARIADB;
    });
    const all = await Promise.all([1, 2, 3].map(() => versions.forGreeting(instance, 60_000, 1_000)));
    assert.deepEqual(
      all,
      [1, 2, 3].map(() => `${MARIADB}-iamdb`),
    );
    assert.equal(await versions.forGreeting(instance, 60_000, 1_000), `${MARIADB}-iamdb`);
    assert.equal(reads, 1);
  });

  it("a backend that does not answer: the fallback after the wait, and no second read while the first is pending", async () => {
    let reads = 0;
    const versions = new ServerVersions(() => {
      reads++;
      return new Promise<string>(() => {});
    });
    assert.equal(await versions.forGreeting(instance, 5, 1_000), fallbackVersion("mariadb"));
    assert.equal(await versions.forGreeting(instance, 5, 1_000), fallbackVersion("mariadb"));
    assert.equal(reads, 1);
    assert.match(fallbackVersion("mariadb"), /MariaDB-iamdb$/);
    assert.match(fallbackVersion("mysql"), /^8\.\d+\.\d+-iamdb$/);
  });

  it("a backend that is down: the fallback, and the next client tries again", async () => {
    let reads = 0;
    const versions = new ServerVersions(async () => {
      reads++;
      if (reads === 1) throw new Error("connect ECONNREFUSED");
      return "8.0.39";
    });
    const mysqlInstance = { ...instance, engine: "mysql" as const };
    assert.equal(await versions.forGreeting(mysqlInstance, 60_000, 1_000), fallbackVersion("mysql"));
    assert.equal(await versions.forGreeting(mysqlInstance, 60_000, 1_000), "8.0.39-iamdb");
    assert.equal(reads, 2);
  });

  it("a backend login's greeting replaces what was known (a backend upgraded under a running gateway)", async () => {
    const versions = new ServerVersions(async () => MARIADB);
    await versions.forGreeting(instance, 60_000, 1_000);
    versions.learned("my1", "5.5.5-10.11.20-MariaDB");
    assert.equal(await versions.forGreeting(instance, 60_000, 1_000), "5.5.5-10.11.20-MariaDB-iamdb");
    assert.equal(announcedVersion("8.0.39-iamdb"), "8.0.39-iamdb", "never suffixed twice");
  });
});
