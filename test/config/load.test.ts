// The configuration file through load.ts's public functions (parseConfig, loadConfig): every
// field's default and a value of its own, every error message (naming the field and saying
// what to do, never echoing a secret), and paths resolved against the config file's directory.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { ConfigError, loadConfig, parseConfig } from "../../src/config/load.js";

const BASE = "/etc/iamdb";
const PG_BACKEND = { host: "db.internal", adminUser: "admin" };

/** The message of the ConfigError that parsing `raw` throws; fails the test when it throws none or another error. */
function configError(raw: unknown): string {
  try {
    parseConfig(raw, BASE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `threw ${String(err)}`);
    return err.message;
  }
  assert.fail(`accepted ${JSON.stringify(raw)}`);
}

const one = (i: object) => ({ instances: [{ identifier: "db1", ...i }] });

describe("config load: defaults", () => {
  it("config load: an empty configuration gets every default, the data directory resolved against the base", () => {
    assert.deepEqual(parseConfig({}, BASE), {
      dataDir: "/etc/iamdb/.iamdb",
      accountId: "000000000000",
      partition: "aws",
      region: "us-east-1",
      store: { type: "sqlite" },
      api: {
        host: "127.0.0.1",
        port: 18400,
        maxConnections: 256,
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 30_000,
      },
      ops: {
        host: "127.0.0.1",
        port: 18401,
        maxConnections: 64,
        headersTimeoutMs: 5_000,
        requestTimeoutMs: 10_000,
      },
      gateway: {
        loginTimeoutMs: 15_000,
        backendConnectTimeoutMs: 5_000,
        maxPendingLogins: 2_000,
        maxPendingLoginsPerSource: 500,
        clockSkewSeconds: 60,
        drainTimeoutMs: 10_000,
        backendPoolMaxIdle: 32,
        backendPoolMaxIdleTotal: "auto",
        fileDescriptorReserve: 256,
        backendPoolIdleTimeoutMs: 60_000,
        backendPoolLifetimeMs: 3_600_000,
        revocation: "terminate",
        sessionsFollowCredentialExpiry: false,
        limits: {},
      },
      fleet: { heartbeatMs: 2_000, drainDelayMs: 0, advertiseHost: undefined },
      instances: [
        {
          identifier: "iamdb-postgres",
          engine: "postgres",
          region: "us-east-1",
          listen: { host: "127.0.0.1", port: 15432 },
          endpoints: ["localhost", "127.0.0.1"],
          port: 15432,
          iamAuthEnabled: true,
          tags: [],
          backend: { type: "embedded" },
          tls: {},
          allowPlaintext: false,
          sessionIdentity: false,
        },
      ],
      authLog: "/etc/iamdb/.iamdb/auth.log",
    });
  });

  it("config load: null is an empty configuration", () => {
    assert.deepEqual(parseConfig(null, BASE), parseConfig({}, BASE));
  });

  it("config load: a MySQL or MariaDB instance defaults to port 13306 and its backend to 3306, root, no database", () => {
    for (const engine of ["mysql", "mariadb"]) {
      const i = parseConfig(one({ engine, backend: { host: "db" } }), BASE).instances[0];
      assert.equal(i?.engine, engine);
      assert.deepEqual(i?.listen, { host: "127.0.0.1", port: 13306 });
      assert.equal(i?.port, 13306);
      assert.deepEqual(i?.backend, {
        type: "server",
        host: "db",
        port: 3306,
        database: "",
        tls: "disable",
        caFile: undefined,
        adminUser: "root",
        adminPassword: undefined,
      });
    }
  });

  it("config load: a PostgreSQL server backend defaults to 5432, database postgres, adminUser postgres, tls disable", () => {
    const i = parseConfig(one({ backend: { host: "db" } }), BASE).instances[0];
    assert.deepEqual(i?.backend, {
      type: "server",
      host: "db",
      port: 5432,
      database: "postgres",
      tls: "disable",
      caFile: undefined,
      adminUser: "postgres",
      adminPassword: undefined,
    });
    assert.deepEqual(parseConfig(one({ backend: "embedded" }), BASE).instances[0]?.backend, {
      type: "embedded",
    });
  });

  it("config load: a postgres store defaults to 127.0.0.1:5432, user and database postgres", () => {
    assert.deepEqual(parseConfig({ store: { type: "postgres" } }, BASE).store, {
      type: "postgres",
      host: "127.0.0.1",
      port: 5432,
      user: "postgres",
      password: undefined,
      database: "postgres",
      schema: undefined,
    });
  });

  it("config load: an instance takes the top-level region, and its port defaults to listen.port", () => {
    const i = parseConfig({ region: "eu-west-1", ...one({ listen: { port: 25432 } }) }, BASE).instances[0];
    assert.equal(i?.region, "eu-west-1");
    assert.equal(i?.port, 25432);
  });

  it("config load: an audit that is off yields no audit; on, its defaults and a file under the data directory", () => {
    assert.equal(parseConfig(one({ audit: { statements: false } }), BASE).instances[0]?.audit, undefined);
    assert.deepEqual(parseConfig(one({ audit: { statements: true } }), BASE).instances[0]?.audit, {
      file: "/etc/iamdb/.iamdb/audit/db1.jsonl",
      maxBytes: 100 * 1024 * 1024,
      maxFiles: 5,
      queueLines: 10_000,
      maxTextBytes: 16 * 1024,
    });
  });
});

describe("config load: every field", () => {
  it("config load: a configuration setting every field gets each value", () => {
    const c = parseConfig(
      {
        dataDir: "/var/lib/iamdb",
        accountId: "123456789012",
        partition: "aws-cn",
        region: "cn-north-1",
        store: {
          type: "postgres",
          host: "store.internal",
          port: 6543,
          user: "iamdb",
          password: "store-pw",
          database: "iam",
          schema: "gw",
        },
        api: {
          host: "0.0.0.0",
          port: 28400,
          maxConnections: 10,
          headersTimeoutMs: 200,
          requestTimeoutMs: 300,
        },
        ops: { host: "::1", port: 28401, maxConnections: 11, headersTimeoutMs: 400, requestTimeoutMs: 500 },
        gateway: {
          loginTimeoutMs: 1_000,
          backendConnectTimeoutMs: 2_000,
          maxPendingLogins: 3,
          maxPendingLoginsPerSource: 4,
          clockSkewSeconds: 5,
          drainTimeoutMs: 6,
          backendPoolMaxIdle: 7,
          backendPoolMaxIdleTotal: 8,
          fileDescriptorReserve: 9,
          backendPoolIdleTimeoutMs: 10_000,
          backendPoolLifetimeMs: 11_000,
          revocation: "keep",
          sessionsFollowCredentialExpiry: true,
          limits: {
            newConnectionsPerSecondPerPrincipal: 12,
            newConnectionsPerSecondPerInstance: 13,
            maxSessionsPerPrincipal: 14,
          },
        },
        fleet: { heartbeatMs: 150, drainDelayMs: 16, advertiseHost: "gw1.internal" },
        authLog: "-",
        instances: [
          {
            identifier: "orders-db",
            engine: "postgres",
            region: "cn-northwest-1",
            listen: { host: "0.0.0.0", port: 25432 },
            endpoints: ["orders.example.com", "10.0.0.5"],
            port: 5432,
            iamAuthEnabled: false,
            tags: [{ key: "team", value: "orders" }],
            backend: {
              host: "pg.internal",
              port: 6432,
              database: "orders",
              tls: "verify-full",
              caFile: "/etc/ssl/db-ca.pem",
              adminUser: "iamdb_admin",
              adminPassword: "admin-pw",
            },
            tls: {
              certFile: "/etc/ssl/orders.pem",
              keyFile: "/etc/ssl/orders.key",
              caFile: "/etc/ssl/ca.pem",
            },
            allowPlaintext: true,
            limits: { maxSessionsPerPrincipal: 2 },
            audit: {
              statements: true,
              file: "/var/log/iamdb/orders.jsonl",
              maxBytes: 1_000_000,
              maxFiles: 3,
              queueLines: 50,
              maxTextBytes: 100,
            },
            pool: {
              mode: "transaction",
              maxBackendConnections: 4,
              borrowTimeoutMs: 500,
              maxPreparedStatements: 9,
            },
          },
          {
            identifier: "shop",
            engine: "mariadb",
            backend: { host: "maria.internal", tls: "require", adminUser: "root" },
            sessionIdentity: false,
            pool: { mode: "session" },
          },
          { identifier: "audit", sessionIdentity: true, backend: PG_BACKEND },
        ],
      },
      BASE,
    );
    assert.deepEqual(
      { ...c, instances: undefined },
      {
        dataDir: "/var/lib/iamdb",
        accountId: "123456789012",
        partition: "aws-cn",
        region: "cn-north-1",
        store: {
          type: "postgres",
          host: "store.internal",
          port: 6543,
          user: "iamdb",
          password: "store-pw",
          database: "iam",
          schema: "gw",
        },
        api: {
          host: "0.0.0.0",
          port: 28400,
          maxConnections: 10,
          headersTimeoutMs: 200,
          requestTimeoutMs: 300,
        },
        ops: { host: "::1", port: 28401, maxConnections: 11, headersTimeoutMs: 400, requestTimeoutMs: 500 },
        gateway: {
          loginTimeoutMs: 1_000,
          backendConnectTimeoutMs: 2_000,
          maxPendingLogins: 3,
          maxPendingLoginsPerSource: 4,
          clockSkewSeconds: 5,
          drainTimeoutMs: 6,
          backendPoolMaxIdle: 7,
          backendPoolMaxIdleTotal: 8,
          fileDescriptorReserve: 9,
          backendPoolIdleTimeoutMs: 10_000,
          backendPoolLifetimeMs: 11_000,
          revocation: "keep",
          sessionsFollowCredentialExpiry: true,
          limits: {
            newConnectionsPerSecondPerPrincipal: 12,
            newConnectionsPerSecondPerInstance: 13,
            maxSessionsPerPrincipal: 14,
          },
        },
        fleet: { heartbeatMs: 150, drainDelayMs: 16, advertiseHost: "gw1.internal" },
        instances: undefined,
        authLog: "-",
      },
    );
    assert.deepEqual(c.instances, [
      {
        identifier: "orders-db",
        engine: "postgres",
        region: "cn-northwest-1",
        listen: { host: "0.0.0.0", port: 25432 },
        endpoints: ["orders.example.com", "10.0.0.5"],
        port: 5432,
        iamAuthEnabled: false,
        tags: [{ key: "team", value: "orders" }],
        backend: {
          type: "server",
          host: "pg.internal",
          port: 6432,
          database: "orders",
          tls: "verify-full",
          caFile: "/etc/ssl/db-ca.pem",
          adminUser: "iamdb_admin",
          adminPassword: "admin-pw",
        },
        tls: { certFile: "/etc/ssl/orders.pem", keyFile: "/etc/ssl/orders.key", caFile: "/etc/ssl/ca.pem" },
        allowPlaintext: true,
        sessionIdentity: false,
        pool: {
          mode: "transaction",
          maxBackendConnections: 4,
          borrowTimeoutMs: 500,
          maxPreparedStatements: 9,
        },
        limits: { maxSessionsPerPrincipal: 2 },
        audit: {
          file: "/var/log/iamdb/orders.jsonl",
          maxBytes: 1_000_000,
          maxFiles: 3,
          queueLines: 50,
          maxTextBytes: 100,
        },
      },
      {
        identifier: "shop",
        engine: "mariadb",
        region: "cn-north-1",
        listen: { host: "127.0.0.1", port: 13306 },
        endpoints: ["localhost", "127.0.0.1"],
        port: 13306,
        iamAuthEnabled: true,
        tags: [],
        backend: {
          type: "server",
          host: "maria.internal",
          port: 3306,
          database: "",
          tls: "require",
          caFile: undefined,
          adminUser: "root",
          adminPassword: undefined,
        },
        tls: {},
        allowPlaintext: false,
        sessionIdentity: false,
      },
      {
        identifier: "audit",
        engine: "postgres",
        region: "cn-north-1",
        listen: { host: "127.0.0.1", port: 15432 },
        endpoints: ["localhost", "127.0.0.1"],
        port: 15432,
        iamAuthEnabled: true,
        tags: [],
        backend: {
          type: "server",
          host: "db.internal",
          port: 5432,
          database: "postgres",
          tls: "disable",
          caFile: undefined,
          adminUser: "admin",
          adminPassword: undefined,
        },
        tls: {},
        allowPlaintext: false,
        sessionIdentity: true,
      },
    ]);
  });

  it("config load: backend.adminPasswordEnv reads the password from the environment", () => {
    const name = "IAMDB_LOAD_TEST_ADMIN_PASSWORD";
    process.env[name] = "from-the-environment";
    try {
      const i = parseConfig(one({ backend: { ...PG_BACKEND, adminPasswordEnv: name } }), BASE).instances[0];
      assert.equal(
        i?.backend.type === "server" ? i.backend.adminPassword : undefined,
        "from-the-environment",
      );
    } finally {
      delete process.env[name];
    }
  });

  it("config load: boundaries of whole-number fields are accepted (port 0, clockSkewSeconds 0, backendPoolMaxIdleTotal 0)", () => {
    const c = parseConfig(
      {
        api: { port: 0 },
        gateway: {
          clockSkewSeconds: 0,
          backendPoolMaxIdleTotal: 0,
          drainTimeoutMs: 0,
          fileDescriptorReserve: 0,
        },
        ...one({ listen: { port: 0 }, port: 65535 }),
      },
      BASE,
    );
    assert.equal(c.api.port, 0);
    assert.equal(c.gateway.clockSkewSeconds, 0);
    assert.equal(c.gateway.backendPoolMaxIdleTotal, 0);
    assert.equal(c.instances[0]?.listen.port, 0);
    assert.equal(c.instances[0]?.port, 65535);
  });
});

/** [what, configuration, the message's pattern (the field named, and what to do)]. */
const ERRORS: ReadonlyArray<readonly [string, unknown, RegExp]> = [
  ["a configuration that is not an object", [1, 2], /^the configuration must be a JSON object$/],
  ["a string configuration", "dataDir", /^the configuration must be a JSON object$/],
  [
    "an unknown top-level field",
    { dataDirectory: "x" },
    /^config has an unknown field "dataDirectory" \(known: dataDir, accountId, .*authLog\)$/,
  ],
  ["an empty dataDir", { dataDir: "" }, /^config\.dataDir must be a non-empty string$/],
  ["a numeric dataDir", { dataDir: 7 }, /^config\.dataDir must be a non-empty string$/],
  [
    "an accountId of 11 digits",
    { accountId: "12345678901" },
    /^config\.accountId must be 12 digits \(got "12345678901"\)$/,
  ],
  [
    "a region that is not one",
    { region: "US East" },
    /^config\.region must look like us-east-1 \(got "US East"\)$/,
  ],
  ["an empty partition", { partition: "" }, /^config\.partition must be a non-empty string$/],
  ["an empty authLog", { authLog: "" }, /^config\.authLog must be a non-empty string$/],
  ["api that is not an object", { api: 18400 }, /^config\.api must be an object$/],
  ["ops that is a list", { ops: [] }, /^config\.ops must be an object$/],
  [
    "an unknown api field",
    { api: { timeout: 1 } },
    /^config\.api has an unknown field "timeout" \(known: host, port, maxConnections, headersTimeoutMs, requestTimeoutMs\)$/,
  ],
  [
    "an api port out of range",
    { api: { port: 70000 } },
    /^config\.api\.port must be a whole number from 0 to 65535 \(got 70000\)$/,
  ],
  [
    "a fractional ops port",
    { ops: { port: 1.5 } },
    /^config\.ops\.port must be a whole number from 0 to 65535 \(got 1\.5\)$/,
  ],
  [
    "api maxConnections 0",
    { api: { maxConnections: 0 } },
    /^config\.api\.maxConnections must be a whole number from 1 to 1000000 \(got 0\)$/,
  ],
  [
    "ops headersTimeoutMs below 100",
    { ops: { headersTimeoutMs: 99 } },
    /^config\.ops\.headersTimeoutMs must be a whole number from 100 to 600000 \(got 99\)$/,
  ],
  [
    "api requestTimeoutMs as a string",
    { api: { requestTimeoutMs: "30s" } },
    /^config\.api\.requestTimeoutMs must be a whole number from 100 to 600000 \(got "30s"\)$/,
  ],
  [
    "headers allowed longer than the request",
    { api: { headersTimeoutMs: 5_000, requestTimeoutMs: 1_000 } },
    /^config\.api\.headersTimeoutMs \(5000\) must not exceed config\.api\.requestTimeoutMs \(1000\)$/,
  ],
  ["an empty api host", { api: { host: "" } }, /^config\.api\.host must be a non-empty string$/],
  ["gateway that is not an object", { gateway: true }, /^config\.gateway must be an object$/],
  [
    "an unknown gateway field",
    { gateway: { loginTimeout: 5 } },
    /^config\.gateway has an unknown field "loginTimeout" \(known: loginTimeoutMs, .*limits\)$/,
  ],
  [
    "loginTimeoutMs below 100",
    { gateway: { loginTimeoutMs: 50 } },
    /^config\.gateway\.loginTimeoutMs must be a whole number from 100 to 600000 \(got 50\)$/,
  ],
  [
    "backendConnectTimeoutMs above 600000",
    { gateway: { backendConnectTimeoutMs: 600_001 } },
    /^config\.gateway\.backendConnectTimeoutMs must be a whole number from 100 to 600000/,
  ],
  [
    "maxPendingLogins 0",
    { gateway: { maxPendingLogins: 0 } },
    /^config\.gateway\.maxPendingLogins must be a whole number from 1 to 1000000 \(got 0\)$/,
  ],
  [
    "maxPendingLoginsPerSource negative",
    { gateway: { maxPendingLoginsPerSource: -1 } },
    /^config\.gateway\.maxPendingLoginsPerSource must be a whole number from 1 to 1000000 \(got -1\)$/,
  ],
  [
    "clockSkewSeconds beyond a token's life",
    { gateway: { clockSkewSeconds: 901 } },
    /^config\.gateway\.clockSkewSeconds must be a whole number from 0 to 900 \(got 901\)$/,
  ],
  [
    "drainTimeoutMs above an hour",
    { gateway: { drainTimeoutMs: 3_600_001 } },
    /^config\.gateway\.drainTimeoutMs must be a whole number from 0 to 3600000 \(got 3600001\)$/,
  ],
  [
    "backendPoolMaxIdle negative",
    { gateway: { backendPoolMaxIdle: -1 } },
    /^config\.gateway\.backendPoolMaxIdle must be a whole number from 0 to 100000 \(got -1\)$/,
  ],
  [
    "backendPoolMaxIdleTotal a word",
    { gateway: { backendPoolMaxIdleTotal: "half" } },
    /^config\.gateway\.backendPoolMaxIdleTotal must be "auto" or a whole number from 0 to 100000 \(got "half"\)$/,
  ],
  [
    "fileDescriptorReserve fractional",
    { gateway: { fileDescriptorReserve: 0.5 } },
    /^config\.gateway\.fileDescriptorReserve must be a whole number from 0 to 1000000 \(got 0\.5\)$/,
  ],
  [
    "backendPoolIdleTimeoutMs 0",
    { gateway: { backendPoolIdleTimeoutMs: 0 } },
    /^config\.gateway\.backendPoolIdleTimeoutMs must be a whole number from 100 to 86400000 \(got 0\)$/,
  ],
  [
    "backendPoolLifetimeMs below a second",
    { gateway: { backendPoolLifetimeMs: 999 } },
    /^config\.gateway\.backendPoolLifetimeMs must be a whole number from 1000 to 604800000 \(got 999\)$/,
  ],
  [
    "revocation neither word",
    { gateway: { revocation: "drop" } },
    /^config\.gateway\.revocation must be one of "terminate", "keep" \(got "drop"\)$/,
  ],
  [
    "sessionsFollowCredentialExpiry a string",
    { gateway: { sessionsFollowCredentialExpiry: "yes" } },
    /^config\.gateway\.sessionsFollowCredentialExpiry must be true or false$/,
  ],
  ["gateway.limits a number", { gateway: { limits: 5 } }, /^config\.gateway\.limits must be an object$/],
  [
    "an unknown gateway.limits field",
    { gateway: { limits: { maxSessions: 1 } } },
    /^config\.gateway\.limits has an unknown field "maxSessions" \(known: newConnectionsPerSecondPerPrincipal, newConnectionsPerSecondPerInstance, maxSessionsPerPrincipal\)$/,
  ],
  [
    "a limit of 0",
    { gateway: { limits: { maxSessionsPerPrincipal: 0 } } },
    /^config\.gateway\.limits\.maxSessionsPerPrincipal must be a whole number from 1 to 1000000 \(got 0\)$/,
  ],
  ["fleet a list", { fleet: [] }, /^config\.fleet must be an object$/],
  [
    "an unknown fleet field",
    { fleet: { members: 3 } },
    /^config\.fleet has an unknown field "members" \(known: heartbeatMs, drainDelayMs, advertiseHost\)$/,
  ],
  [
    "heartbeatMs above a minute",
    { fleet: { heartbeatMs: 60_001 } },
    /^config\.fleet\.heartbeatMs must be a whole number from 100 to 60000 \(got 60001\)$/,
  ],
  [
    "drainDelayMs negative",
    { fleet: { drainDelayMs: -5 } },
    /^config\.fleet\.drainDelayMs must be a whole number from 0 to 600000 \(got -5\)$/,
  ],
  [
    "an empty advertiseHost",
    { fleet: { advertiseHost: "" } },
    /^config\.fleet\.advertiseHost must be a non-empty string$/,
  ],
  ["store a string", { store: "sqlite" }, /^config\.store must be an object$/],
  ["an unknown store type", { store: { type: "mysql" } }, /^config\.store\.type must be sqlite or postgres$/],
  [
    "an unknown postgres store field",
    { store: { type: "postgres", db: "x" } },
    /^config\.store has an unknown field "db" \(known: type, host, port, user, password, database, schema\)$/,
  ],
  [
    "a postgres store port 0",
    { store: { type: "postgres", port: 0 } },
    /^config\.store\.port must be a whole number from 1 to 65535 \(got 0\)$/,
  ],
  [
    "an empty store schema",
    { store: { type: "postgres", schema: "" } },
    /^config\.store\.schema must be a non-empty string$/,
  ],
  ["instances an object", { instances: { identifier: "x" } }, /^config\.instances must be a list$/],
  ["an instance that is a string", { instances: ["db1"] }, /^instances\[0\] must be an object$/],
  [
    "an instance without identifier",
    { instances: [{}] },
    /^instances\[0\]\.identifier must be a non-empty string$/,
  ],
  [
    "an identifier with a double hyphen",
    one({ identifier: "a--b" }),
    /^instances\[0\]\.identifier must be 1-63 letters, digits or hyphens, start with a letter, no "--" \(got "a--b"\)$/,
  ],
  [
    "an identifier starting with a digit",
    one({ identifier: "1db" }),
    /^instances\[0\]\.identifier must be 1-63 letters/,
  ],
  [
    "an identifier of 64 characters",
    one({ identifier: `a${"b".repeat(63)}` }),
    /^instances\[0\]\.identifier must be 1-63 letters/,
  ],
  [
    "two instances with one identifier",
    { instances: [{ identifier: "db1" }, { identifier: "db1", listen: { port: 1 } }] },
    /^two instances are called db1; identifiers must be unique$/,
  ],
  [
    "an unknown instance field",
    one({ hostname: "x" }),
    /^instances\[0\] has an unknown field "hostname" \(known: identifier, engine, .*pool\)$/,
  ],
  [
    "an unknown engine",
    one({ engine: "oracle" }),
    /^instances\[0\]\.engine must be postgres, mysql or mariadb$/,
  ],
  ["listen a number", one({ listen: 15432 }), /^instances\[0\]\.listen must be an object$/],
  [
    "a listen port out of range",
    one({ listen: { port: 65536 } }),
    /^instances\[0\]\.listen\.port must be a whole number from 0 to 65535 \(got 65536\)$/,
  ],
  [
    "an empty listen host",
    one({ listen: { host: "" } }),
    /^instances\[0\]\.listen\.host must be a non-empty string$/,
  ],
  [
    "a signed port out of range",
    one({ port: -1 }),
    /^instances\[0\]\.port must be a whole number from 0 to 65535 \(got -1\)$/,
  ],
  [
    "no endpoints",
    one({ endpoints: [] }),
    /^instances\[0\]\.endpoints must be a non-empty list of host names or IP addresses$/,
  ],
  [
    "an endpoint with a scheme",
    one({ endpoints: ["https://db"] }),
    /^instances\[0\]\.endpoints must be a non-empty list of host names or IP addresses$/,
  ],
  [
    "tags as an object",
    one({ tags: { team: "x" } }),
    /^instances\[0\]\.tags must be a list of \{"key": "\.\.\.", "value": "\.\.\."\}$/,
  ],
  ["a tag without value", one({ tags: [{ key: "team" }] }), /^instances\[0\]\.tags must be a list of/],
  [
    "an instance region that is not one",
    one({ region: "mars" }),
    /^instances\[0\]\.region must look like us-east-1 \(got "mars"\)$/,
  ],
  [
    "iamAuthEnabled a string",
    one({ iamAuthEnabled: "true" }),
    /^instances\[0\]\.iamAuthEnabled must be true or false$/,
  ],
  [
    "allowPlaintext a number",
    one({ allowPlaintext: 1 }),
    /^instances\[0\]\.allowPlaintext must be true or false$/,
  ],
  ["tls a string", one({ tls: "on" }), /^instances\[0\]\.tls must be an object$/],
  [
    "an unknown tls field",
    one({ tls: { cert: "a.pem" } }),
    /^instances\[0\]\.tls has an unknown field "cert" \(known: certFile, keyFile, caFile\)$/,
  ],
  [
    "a certFile without keyFile",
    one({ tls: { certFile: "a.pem" } }),
    /^instances\[0\]\.tls needs both certFile and keyFile, or neither \(then iamdb generates them\)$/,
  ],
  [
    "a keyFile without certFile",
    one({ tls: { keyFile: "a.key" } }),
    /^instances\[0\]\.tls needs both certFile and keyFile, or neither/,
  ],
  [
    "an empty caFile",
    one({ tls: { caFile: "" } }),
    /^instances\[0\]\.tls\.caFile must be a non-empty string$/,
  ],
  [
    "a MySQL instance without backend",
    one({ engine: "mysql" }),
    /^instances\[0\]\.backend is required for mysql instances \(no embedded mysql\); give host, port, adminUser$/,
  ],
  [
    "a MariaDB instance on the embedded backend",
    one({ engine: "mariadb", backend: "embedded" }),
    /^instances\[0\]\.backend is required for mariadb instances \(no embedded mariadb\); give host, port, adminUser$/,
  ],
  ["backend a number", one({ backend: 5432 }), /^instances\[0\]\.backend must be an object$/],
  [
    "an unknown backend field",
    one({ backend: { ...PG_BACKEND, sslmode: "require" } }),
    /^instances\[0\]\.backend has an unknown field "sslmode" \(known: host, port, database, tls, caFile, adminUser, adminPassword, adminPasswordEnv\)$/,
  ],
  [
    "a backend without host",
    one({ backend: { adminUser: "admin" } }),
    /^instances\[0\]\.backend\.host must be a non-empty string$/,
  ],
  [
    "a backend port 0",
    one({ backend: { ...PG_BACKEND, port: 0 } }),
    /^instances\[0\]\.backend\.port must be a whole number from 1 to 65535 \(got 0\)$/,
  ],
  [
    "a backend tls mode libpq has but iamdb not",
    one({ backend: { ...PG_BACKEND, tls: "verify-ca" } }),
    /^instances\[0\]\.backend\.tls must be disable, require or verify-full$/,
  ],
  [
    "an empty backend database",
    one({ backend: { ...PG_BACKEND, database: "" } }),
    /^instances\[0\]\.backend\.database must be a non-empty string$/,
  ],
  [
    "an unset adminPasswordEnv",
    one({ backend: { ...PG_BACKEND, adminPasswordEnv: "IAMDB_LOAD_TEST_UNSET" } }),
    /^instances\[0\]\.backend\.adminPasswordEnv names IAMDB_LOAD_TEST_UNSET, which is not set; export it before starting iamdb$/,
  ],
  ["instance limits a list", one({ limits: [] }), /^instances\[0\]\.limits must be an object$/],
  [
    "an instance limit too large",
    one({ limits: { newConnectionsPerSecondPerInstance: 1_000_001 } }),
    /^instances\[0\]\.limits\.newConnectionsPerSecondPerInstance must be a whole number from 1 to 1000000 \(got 1000001\)$/,
  ],
  [
    "sessionIdentity on MySQL",
    one({ engine: "mysql", backend: { host: "db" }, sessionIdentity: true }),
    /^instances\[0\]\.sessionIdentity is for PostgreSQL instances; .*: remove the field$/,
  ],
  [
    "sessionIdentity a string",
    one({ sessionIdentity: "on" }),
    /^instances\[0\]\.sessionIdentity must be true or false$/,
  ],
  ["pool a string", one({ pool: "transaction" }), /^instances\[0\]\.pool must be an object$/],
  [
    "an unknown pool field",
    one({ pool: { size: 3 } }),
    /^instances\[0\]\.pool has an unknown field "size" \(known: mode, maxBackendConnections, borrowTimeoutMs, maxPreparedStatements\)$/,
  ],
  [
    "an unknown pool mode",
    one({ pool: { mode: "statement" } }),
    /^instances\[0\]\.pool\.mode must be one of "session", "transaction" \(got "statement"\)$/,
  ],
  [
    "transaction tuning in session mode",
    one({ pool: { borrowTimeoutMs: 5 } }),
    /^instances\[0\]\.pool\.borrowTimeoutMs applies to transaction mode only: set instances\[0\]\.pool\.mode to "transaction" or remove the field/,
  ],
  [
    "transaction mode on MySQL",
    one({ engine: "mysql", backend: { host: "db" }, pool: { mode: "transaction" } }),
    /^instances\[0\]\.pool\.mode "transaction" is for PostgreSQL instances; .*: remove the field$/,
  ],
  [
    "transaction mode on the embedded backend",
    one({ pool: { mode: "transaction" } }),
    /^instances\[0\]\.pool\.mode "transaction" needs a server backend/,
  ],
  [
    "transaction mode with sessionIdentity",
    one({ backend: PG_BACKEND, sessionIdentity: true, pool: { mode: "transaction" } }),
    /^instances\[0\]\.pool\.mode "transaction" cannot be combined with sessionIdentity: .*; turn one of them off$/,
  ],
  [
    "transaction mode with 0 backends",
    one({ backend: PG_BACKEND, pool: { mode: "transaction", maxBackendConnections: 0 } }),
    /^instances\[0\]\.pool\.maxBackendConnections must be a whole number from 1 to 100000 \(got 0\)$/,
  ],
  ["audit a boolean", one({ audit: true }), /^instances\[0\]\.audit must be an object$/],
  [
    "an unknown audit field",
    one({ audit: { statements: true, path: "a" } }),
    /^instances\[0\]\.audit has an unknown field "path" \(known: statements, file, maxBytes, maxFiles, queueLines, maxTextBytes\)$/,
  ],
  [
    "audit.statements a string",
    one({ audit: { statements: "yes" } }),
    /^instances\[0\]\.audit\.statements must be true or false$/,
  ],
  [
    "an empty audit file",
    one({ audit: { statements: true, file: "" } }),
    /^instances\[0\]\.audit\.file must be a non-empty string$/,
  ],
  [
    "audit maxBytes below 4096",
    one({ audit: { maxBytes: 4095 } }),
    /^instances\[0\]\.audit\.maxBytes must be a whole number from 4096 to 1099511627776 \(got 4095\)$/,
  ],
  [
    "audit maxFiles 0",
    one({ audit: { maxFiles: 0 } }),
    /^instances\[0\]\.audit\.maxFiles must be a whole number from 1 to 1000 \(got 0\)$/,
  ],
  [
    "audit queueLines 0",
    one({ audit: { queueLines: 0 } }),
    /^instances\[0\]\.audit\.queueLines must be a whole number from 1 to 10000000 \(got 0\)$/,
  ],
  [
    "audit maxTextBytes below 64",
    one({ audit: { maxTextBytes: 63 } }),
    /^instances\[0\]\.audit\.maxTextBytes must be a whole number from 64 to 1048576 \(got 63\)$/,
  ],
  [
    "two instances auditing into one file",
    {
      instances: [
        { identifier: "a", audit: { statements: true, file: "/var/log/x.jsonl" } },
        { identifier: "b", listen: { port: 1 }, audit: { statements: true, file: "/var/log/x.jsonl" } },
      ],
    },
    /^instances a and b have the same audit\.file \/var\/log\/x\.jsonl; give each instance a file of its own$/,
  ],
];

describe("config load: every error says which field and what it takes", () => {
  for (const [what, raw, pattern] of ERRORS) {
    it(`config load: refuses ${what}`, () => {
      assert.match(configError(raw), pattern);
    });
  }

  it("config load: an audit file one byte too small for its longest line is refused, the exact size accepted", () => {
    // maxTextBytes 1024: the longest line is 6 × 1024 + 2048 = 8192 bytes.
    assert.match(
      configError(one({ audit: { maxBytes: 8191, maxTextBytes: 1024 } })),
      /^instances\[0\]\.audit\.maxBytes \(8191\) must be at least 6 × maxTextBytes \+ 2048 \(8192\) so that the longest line fits a file; raise maxBytes or lower maxTextBytes$/,
    );
    assert.equal(
      parseConfig(one({ audit: { maxBytes: 8192, maxTextBytes: 1024 } }), BASE).instances[0]?.audit,
      undefined,
    );
  });
});

describe("config load: secrets in bad values are not echoed", () => {
  const SECRET = "hunter2-Sup3rSecret";
  const cases: ReadonlyArray<readonly [string, unknown, RegExp]> = [
    [
      "a store password of the wrong type",
      { store: { type: "postgres", password: [SECRET] } },
      /^config\.store\.password must be a non-empty string$/,
    ],
    [
      "a store password beside a bad store type",
      { store: { type: "mongo", password: SECRET } },
      /^config\.store\.type must be sqlite or postgres$/,
    ],
    [
      "a store password under a misspelt name",
      { store: { type: "postgres", passwd: SECRET } },
      /^config\.store has an unknown field "passwd"/,
    ],
    [
      "a backend adminPassword of the wrong type",
      one({ backend: { ...PG_BACKEND, adminPassword: { value: SECRET } } }),
      /^instances\[0\]\.backend\.adminPassword must be a non-empty string$/,
    ],
    [
      "a backend adminPassword beside a bad tls mode",
      one({ backend: { ...PG_BACKEND, adminPassword: SECRET, tls: "on" } }),
      /^instances\[0\]\.backend\.tls must be disable, require or verify-full$/,
    ],
    [
      "a backend password under a misspelt name",
      one({ backend: { ...PG_BACKEND, password: SECRET } }),
      /^instances\[0\]\.backend has an unknown field "password"/,
    ],
    [
      "a password pasted into a port field",
      { store: { type: "postgres", port: SECRET } },
      /^config\.store\.port must be a whole number from 1 to 65535 \(got a string of 19 characters, not shown\)$/,
    ],
    [
      "a password pasted into an auto-or-number field",
      { gateway: { backendPoolMaxIdleTotal: SECRET } },
      /^config\.gateway\.backendPoolMaxIdleTotal must be "auto" or a whole number from 0 to 100000 \(got a string of 19 characters, not shown\)$/,
    ],
    [
      "a password pasted into a field of fixed choices",
      { gateway: { revocation: SECRET } },
      /^config\.gateway\.revocation must be one of "terminate", "keep" \(got a string of 19 characters, not shown\)$/,
    ],
  ];
  for (const [what, raw, pattern] of cases) {
    it(`config load: ${what} is refused without quoting it`, () => {
      const message = configError(raw);
      assert.match(message, pattern);
      assert.ok(!message.includes(SECRET), message);
      assert.ok(!message.includes("hunter2"), message);
    });
  }

  it("config load: an adminPasswordEnv that is not set names the variable, never another variable's value", () => {
    process.env.IAMDB_LOAD_TEST_OTHER = SECRET;
    try {
      const message = configError(
        one({ backend: { ...PG_BACKEND, adminPasswordEnv: "IAMDB_LOAD_TEST_UNSET" } }),
      );
      assert.ok(!message.includes(SECRET), message);
    } finally {
      delete process.env.IAMDB_LOAD_TEST_OTHER;
    }
  });
});

describe("config load: files", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "iamdb-load-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("config load: no file means every default, paths against the working directory", () => {
    const c = loadConfig(undefined);
    assert.deepEqual(c, parseConfig({}, process.cwd()));
    assert.equal(c.dataDir, resolve(process.cwd(), ".iamdb"));
  });

  it("config load: relative paths are resolved against the config file's directory, absolute ones kept", () => {
    mkdirSync(join(dir, "etc"));
    const file = join(dir, "etc", "iamdb.json");
    writeFileSync(
      file,
      JSON.stringify({
        dataDir: "state",
        authLog: "../log/auth.log",
        instances: [
          {
            identifier: "pg1",
            tls: { certFile: "certs/pg1.pem", keyFile: "certs/pg1.key", caFile: "/opt/ca.pem" },
            backend: { host: "db", tls: "verify-full", caFile: "db-ca.pem" },
            audit: { statements: true, file: "audit/pg1.jsonl" },
          },
          {
            identifier: "pg2",
            listen: { port: 1 },
            backend: { host: "db", caFile: "/abs/db-ca.pem" },
            audit: { statements: true },
          },
        ],
      }),
    );
    const c = loadConfig(file);
    const etc = join(dir, "etc");
    assert.equal(c.dataDir, join(etc, "state"));
    assert.equal(c.authLog, join(dir, "log", "auth.log"));
    const [pg1, pg2] = c.instances;
    assert.deepEqual(pg1?.tls, {
      certFile: join(etc, "certs", "pg1.pem"),
      keyFile: join(etc, "certs", "pg1.key"),
      caFile: "/opt/ca.pem",
    });
    assert.equal(pg1?.backend.type === "server" ? pg1.backend.caFile : "", join(etc, "db-ca.pem"));
    assert.equal(pg1?.audit?.file, join(etc, "audit", "pg1.jsonl"));
    assert.equal(pg2?.backend.type === "server" ? pg2.backend.caFile : "", "/abs/db-ca.pem");
    // The default audit file lives under the (resolved) data directory.
    assert.equal(pg2?.audit?.file, join(etc, "state", "audit", "pg2.jsonl"));
  });

  it("config load: --data-dir replaces dataDir, resolved against the working directory, and moves the defaults under it", () => {
    const file = join(dir, "iamdb.json");
    writeFileSync(file, JSON.stringify({ dataDir: "from-file" }));
    const c = loadConfig(file, { dataDir: "from-flag" });
    assert.equal(c.dataDir, resolve(process.cwd(), "from-flag"));
    assert.equal(c.authLog, join(resolve(process.cwd(), "from-flag"), "auth.log"));
  });

  it("config load: authLog '-' (stderr) is not a path", () => {
    const file = join(dir, "iamdb.json");
    writeFileSync(file, JSON.stringify({ authLog: "-" }));
    assert.equal(loadConfig(file).authLog, "-");
  });

  it("config load: a file that cannot be read is named, with the system's reason", () => {
    const file = join(dir, "missing.json");
    assert.throws(
      () => loadConfig(file),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(`cannot read the configuration file ${file}: `) &&
        /ENOENT|no such file/.test(e.message),
    );
  });

  it("config load: a file that is not JSON is named, with where the parser stopped", () => {
    const file = join(dir, "iamdb.json");
    writeFileSync(file, '{ "dataDir": "x", }');
    assert.throws(
      () => loadConfig(file),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.message.startsWith(`the configuration file ${file} is not valid JSON: `),
    );
  });

  it("config load: a file's validation errors are the same as parseConfig's", () => {
    const file = join(dir, "iamdb.json");
    writeFileSync(file, JSON.stringify({ accountId: "42" }));
    assert.throws(() => loadConfig(file), /^ConfigError: config\.accountId must be 12 digits \(got "42"\)$/);
  });
});
