// The client kit's pure parts: flag and file validation of `iamdb proxy`, and the command
// lines `iamdb connect` builds (quoting; the token never among the arguments).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type ConnectTarget,
  conninfoValue,
  mysqlInvocation,
  optionFileValue,
  psqlInvocation,
} from "../../src/client/connect.js";
import {
  ProxyConfigError,
  parseHostPort,
  validateProxyConfig,
  validateTarget,
} from "../../src/client/proxy/config.js";

const flag = (f: string) => `--${f}`;
const base = {
  engine: "postgres",
  target: "db.example.com:5432",
  listen: "127.0.0.1:6432",
  username: "jane",
};

describe("iamdb proxy configuration", () => {
  it("HOST:PORT, [v6]:PORT, and a bare port for --listen", () => {
    assert.deepEqual(parseHostPort("db.example.com:5432", "--target"), {
      host: "db.example.com",
      port: 5432,
    });
    assert.deepEqual(parseHostPort("[::1]:6432", "--listen"), { host: "::1", port: 6432 });
    assert.deepEqual(parseHostPort("6432", "--listen", "127.0.0.1"), { host: "127.0.0.1", port: 6432 });
    assert.throws(() => parseHostPort("db.example.com", "--target"), /--target must be HOST:PORT/);
    assert.throws(() => parseHostPort("db:0", "--target"), /port must be a number from 1 to 65535/);
    assert.throws(() => parseHostPort("::1:5432", "--target"), /IPv6 as \[::1\]:5432/);
  });

  it("--token-host: a name takes the target's port; NAME:PORT its own", () => {
    assert.deepEqual(validateTarget({ ...base, tokenHost: "real.example.com" }, flag).tokenHost, {
      host: "real.example.com",
      port: 5432,
    });
    assert.deepEqual(validateTarget({ ...base, tokenHost: "real.example.com:15432" }, flag).tokenHost, {
      host: "real.example.com",
      port: 15432,
    });
    assert.deepEqual(validateTarget(base, flag).tokenHost, { host: "db.example.com", port: 5432 });
  });

  it("a non-loopback --listen needs allowNonLoopback; loopback names and ::1 do not", () => {
    for (const listen of ["0.0.0.0:6432", "10.0.0.5:6432", "[::]:6432", "db.internal:6432"]) {
      assert.throws(
        () => validateTarget({ ...base, listen }, flag),
        (err: Error) => {
          assert.ok(err instanceof ProxyConfigError);
          assert.match(err.message, /is not a loopback address.*--allow-non-loopback/);
          return true;
        },
      );
      assert.equal(validateTarget({ ...base, listen, allowNonLoopback: true }, flag).allowNonLoopback, true);
    }
    for (const listen of ["127.0.0.1:0", "localhost:6432", "[::1]:6432", "127.1.2.3:6432"]) {
      assert.equal(validateTarget({ ...base, listen }, flag).listen.port, Number(listen.split(":").at(-1)));
    }
  });

  it("engines: postgres/postgresql, mysql/mariadb; anything else named", () => {
    assert.equal(validateTarget({ ...base, engine: "MariaDB" }, flag).engine, "mysql");
    assert.throws(
      () => validateTarget({ ...base, engine: "oracle" }, flag),
      /--engine must be postgres or mysql/,
    );
  });

  it("a configuration file: unknown fields, wrong types and empty targets are named by path", () => {
    assert.throws(
      () => validateProxyConfig({ targets: [] }, "p.json"),
      /p\.json: "targets" must be a non-empty array/,
    );
    assert.throws(() => validateProxyConfig({ targets: [base], port: 1 }, "p.json"), /unknown field "port"/);
    assert.throws(
      () => validateProxyConfig({ targets: [{ ...base, tokenhost: "x" }] }, "p.json"),
      /p\.json: targets\[0\]\.tokenhost is not a known field/,
    );
    assert.throws(
      () => validateProxyConfig({ targets: [{ ...base, allowNonLoopback: "yes" }] }, "p.json"),
      /targets\[0\]\.allowNonLoopback must be a boolean/,
    );
    assert.throws(
      () => validateProxyConfig({ targets: [base], maxConnections: 0 }, "p.json"),
      /maxConnections must be a positive integer/,
    );
    const ok = validateProxyConfig(
      { targets: [base, { ...base, listen: "127.0.0.1:6433" }], ops: ":9187" },
      "p.json",
    );
    assert.equal(ok.targets.length, 2);
    assert.deepEqual(ok.ops, { host: "127.0.0.1", port: 9187 });
    assert.equal(ok.maxConnections, 1000);
  });
});

describe("iamdb connect command lines", () => {
  const token = "db.example.com:5432/?Action=connect&DBUser=jane&X-Amz-Signature=abc";
  const target: ConnectTarget = {
    engine: "postgres",
    host: "127.0.0.1",
    port: 15432,
    tlsName: "db.example.com",
    hostaddr: "127.0.0.1",
    username: "jane",
    database: "app's db",
    caFile: "/etc/ssl/rds bundle.pem",
    extra: ["-c", "select 1"],
  };

  it("psql: verify-full, host = the certificate's name, hostaddr = the forward; the token only in PGPASSWORD", () => {
    const inv = psqlInvocation(target, token);
    assert.equal(inv.command, "psql");
    assert.deepEqual(inv.args, [
      "host='db.example.com' hostaddr='127.0.0.1' port='15432' user='jane' dbname='app\\'s db' sslmode='verify-full' sslrootcert='/etc/ssl/rds bundle.pem'",
      "-c",
      "select 1",
    ]);
    assert.deepEqual(inv.env, { PGPASSWORD: token });
    assert.ok(!inv.args.join(" ").includes("X-Amz"));
  });

  it("without a CA file, libpq's system trust store", () => {
    assert.match(
      psqlInvocation({ ...target, caFile: undefined }, token).args[0] as string,
      /sslrootcert='system'$/,
    );
  });

  it("mariadb / mysql: the option file on fd 3 first, certificate verified, the token only in the option text", () => {
    const m = mysqlInvocation(
      { ...target, engine: "mysql", host: "db.example.com", port: 3306, extra: [] },
      token,
    );
    assert.equal(m.args[0], "--defaults-extra-file=/dev/fd/3");
    assert.ok(m.args.includes("--ssl-verify-server-cert"));
    assert.ok(!m.args.includes("--enable-cleartext-plugin"));
    assert.equal(m.fd3, `[client]\npassword="${token}"\n`);
    assert.ok(!m.args.join(" ").includes("X-Amz"));
    const oracle = mysqlInvocation({ ...target, engine: "mysql", extra: [] }, token, "mysql", "mysql");
    assert.ok(oracle.args.includes("--ssl-mode=VERIFY_IDENTITY"));
    assert.ok(oracle.args.includes("--enable-cleartext-plugin"));
  });

  it("quoting: libpq values and option-file values escape their quotes and backslashes", () => {
    assert.equal(conninfoValue("a'b\\c"), "'a\\'b\\\\c'");
    assert.equal(optionFileValue('a"b\\c'), '"a\\"b\\\\c"');
  });
});
