// MySQL/MariaDB accounts are provisioned with the native hash, not the password itself.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import mysql from "mysql2/promise";
import { nativePasswordHash } from "../../src/engines/mysql/provision.js";

describe("nativePasswordHash", () => {
  it("matches the documented value of PASSWORD('password')", () => {
    assert.equal(nativePasswordHash("password"), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
  });

  it("matches the machine's MariaDB PASSWORD() for a gateway-style password", async () => {
    const c = await mysql.createConnection({ host: "127.0.0.1", port: 3306, user: "root", password: "" });
    try {
      const pw = "Zk3_-q0aB9xYvW2tRr8sPp1oNn7mMl6kJj5iHh4gGf3";
      const [rows] = await c.query("SELECT PASSWORD(?) AS h", [pw]);
      assert.equal(nativePasswordHash(pw), (rows as Array<{ h: string }>)[0]?.h);
    } finally {
      await c.end();
    }
  });
});
