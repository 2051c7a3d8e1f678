import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  CLIENT_ENGINES,
  clientEngineForPort,
  clientEngineNamed,
  clientEngineNames,
} from "../../src/client/engines.js";
import { ProxyConfigError, parseEngine } from "../../src/client/proxy/config.js";

describe("client engines table", () => {
  it("client engines: every spelling --engine takes, in any case, and nothing else", () => {
    assert.equal(clientEngineNamed("PostgreSQL"), "postgres");
    assert.equal(clientEngineNamed("postgres"), "postgres");
    assert.equal(clientEngineNamed("MariaDB"), "mysql");
    assert.equal(clientEngineNamed("mysql"), "mysql");
    assert.equal(clientEngineNamed("oracle"), undefined);
    assert.equal(clientEngineNamed(""), undefined);
    assert.throws(
      () => parseEngine("oracle", "--engine"),
      (e: unknown) =>
        e instanceof ProxyConfigError &&
        e.message === '--engine must be postgres or mysql (mariadb), got "oracle"',
    );
    assert.equal(clientEngineNames(), "postgres or mysql (mariadb)");
  });

  it("client engines: a server port implies its engine; any other port means PostgreSQL", () => {
    assert.equal(clientEngineForPort(3306), "mysql");
    assert.equal(clientEngineForPort(5432), "postgres");
    assert.equal(clientEngineForPort(15432), "postgres");
  });

  it("client engines: the connect lines iamdb proxy prints, with and without a Unix socket", () => {
    assert.equal(
      CLIENT_ENGINES.postgres.connectLine("127.0.0.1", 6432, "alice", "app", "/run/iamdb/.s.PGSQL.6432"),
      'psql "host=127.0.0.1 port=6432 dbname=app user=alice" (or host=/run/iamdb)',
    );
    assert.equal(
      CLIENT_ENGINES.postgres.connectLine("::1", 6432, "alice"),
      'psql "host=::1 port=6432 user=alice"',
    );
    assert.equal(
      CLIENT_ENGINES.mysql.connectLine("127.0.0.1", 3307, "bob", "app", "/run/iamdb/mysqld.3307.sock"),
      "mariadb -h 127.0.0.1 -P 3307 --protocol=TCP -u bob -D app (or --socket=/run/iamdb/mysqld.3307.sock)",
    );
  });

  it("client engines: only MySQL clients refuse a forward, and the refusal says to use iamdb proxy", () => {
    assert.equal(CLIENT_ENGINES.postgres.forwardRefusal, undefined);
    assert.match(CLIENT_ENGINES.mysql.forwardRefusal ?? "", /run `iamdb proxy --engine mysql/);
  });
});
