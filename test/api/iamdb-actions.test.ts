// The iamdb namespace's DB-user actions: the CLI's --allow-superuser reaches the provisioner as
// AllowSuperuser, and instances are found in the signed region only, as the RDS actions find them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { IamdbServices } from "../../src/api/iamdb-actions.js";
import { iamdb } from "../helpers/cli.js";
import { type Harness, instance, rawCall, startHarness } from "./helpers.js";

let h: Harness;
const calls: Array<{ action: string; username: string; options: unknown }> = [];
const services: IamdbServices = {
  dbUsers: {
    list: async () => [],
    run: async (identifier, action, username, options) => {
      calls.push({ action, username, options });
      const now = new Date().toISOString();
      return { instance: identifier, username, createdAt: now, rotatedAt: now };
    },
  },
};

before(async () => {
  h = await startHarness({
    instances: [instance("orders"), instance("eu-orders", { region: "eu-west-1" })],
    regions: ["us-east-1", "eu-west-1"],
    services,
  });
});
after(() => h.dispose());

describe("EnableDBUser", () => {
  const enable = (extra: string[]) =>
    iamdb(
      [
        "db-user",
        "enable",
        "--db-instance-identifier",
        "orders",
        "--username",
        "iamdb_dr_app",
        "--endpoint-url",
        h.api.url,
        "--region",
        "us-east-1",
        ...extra,
      ],
      { AWS_ACCESS_KEY_ID: h.admin.accessKeyId, AWS_SECRET_ACCESS_KEY: h.admin.secretAccessKey },
    );

  it("db-user enable --allow-superuser reaches the provisioner as allowSuperuser: true; without it, false", async () => {
    calls.length = 0;
    let r = await enable(["--allow-superuser"]);
    assert.equal(r.code, 0, r.stderr);
    r = await enable([]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(calls, [
      { action: "enable", username: "iamdb_dr_app", options: { allowSuperuser: true } },
      { action: "enable", username: "iamdb_dr_app", options: { allowSuperuser: false } },
    ]);
  });
});

describe("iamdb actions and regions", () => {
  it("an instance of another region is not found, as RDS answers", async () => {
    const body = new URLSearchParams({
      Action: "ListDBUsers",
      Version: "2026-12-01",
      DBInstanceIdentifier: "eu-orders",
    }).toString();
    const wrong = await rawCall(h, { service: "iamdb", region: "us-east-1", body });
    assert.equal(wrong.code, "DBInstanceNotFound");
    const right = await rawCall(h, { service: "iamdb", region: "eu-west-1", body });
    assert.equal(right.status, 200, right.text);
  });

  it("ExplainDBLogin is refused with 503 where no gateway runs (after authorization)", async () => {
    const body = new URLSearchParams({
      Action: "ExplainDBLogin",
      Version: "2026-12-01",
      DBInstanceIdentifier: "orders",
      Token: "x",
    }).toString();
    const r = await rawCall(h, { service: "iamdb", region: "us-east-1", body });
    assert.equal(r.code, "ServiceUnavailable");
  });
});
