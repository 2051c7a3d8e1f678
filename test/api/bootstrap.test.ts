import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { GetUserCommand, IAMClient, ListUsersCommand } from "@aws-sdk/client-iam";
import { ensureAdministrator, readIni } from "../../src/api/bootstrap.js";
import { startAdminApi } from "../../src/api/server.js";
import { quietSdkNodeVersionWarning } from "../../src/cli/sdk.js";
import { createIamService } from "../../src/iam/service.js";
import { MemoryInstanceRegistry } from "../../src/instances/memory.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";
import { ACCOUNT } from "./helpers.js";

describe("ensureAdministrator", () => {
  it("creates the administrator once and writes a 0600 AWS profile that works", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-boot-"));
    const iam = createIamService({
      repository: openSqliteStore({ dataDir: dir }),
      masterKey: randomBytes(32),
      accountId: ACCOUNT,
    });
    const api = await startAdminApi({
      iam,
      instances: new MemoryInstanceRegistry([], { accountId: ACCOUNT }),
      host: "127.0.0.1",
      port: 0,
    });
    try {
      const first = await ensureAdministrator({
        iam,
        dataDir: dir,
        endpointUrl: api.url,
        region: "eu-west-1",
      });
      assert.equal(first.created, true);
      assert.equal(first.profile, "iamdb-admin");
      assert.equal(statSync(first.credentialsFile).mode & 0o777, 0o600);
      assert.equal(statSync(first.configFile).mode & 0o777, 0o600);
      assert.equal(JSON.stringify(first).includes("aws_secret"), false);
      const creds = readIni(readFileSync(first.credentialsFile, "utf8")).get("iamdb-admin");
      const config = readIni(readFileSync(first.configFile, "utf8")).get("profile iamdb-admin");
      assert.equal(config?.get("region"), "eu-west-1");
      assert.equal(config?.get("endpoint_url"), api.url);
      const id = creds?.get("aws_access_key_id") ?? "";
      const secret = creds?.get("aws_secret_access_key") ?? "";
      assert.match(id, /^AKIA/);
      assert.equal(JSON.stringify(first).includes(secret), false);

      quietSdkNodeVersionWarning();
      const client = new IAMClient({
        region: "eu-west-1",
        endpoint: api.url,
        credentials: { accessKeyId: id, secretAccessKey: secret },
      });
      const me = await client.send(new GetUserCommand({}));
      assert.equal(me.User?.UserName, "iamdb-admin");
      await client.send(new ListUsersCommand({}));

      const again = await ensureAdministrator({
        iam,
        dataDir: dir,
        endpointUrl: "http://127.0.0.1:1",
        region: "eu-west-1",
      });
      assert.equal(again.created, false);
      assert.equal(
        readIni(readFileSync(again.credentialsFile, "utf8")).get("iamdb-admin")?.get("aws_access_key_id"),
        id,
      );
      assert.equal(
        readIni(readFileSync(again.configFile, "utf8")).get("profile iamdb-admin")?.get("endpoint_url"),
        "http://127.0.0.1:1",
      );
      assert.equal((await iam.listAccessKeys({ userName: "iamdb-admin" })).items.length, 1);
    } finally {
      await api.close();
      await iam.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("replaces a credentials file whose key no longer exists", async () => {
    const dir = mkdtempSync(join(tmpdir(), "iamdb-boot-"));
    const iam = createIamService({
      repository: openSqliteStore({ dataDir: join(dir, "store") }),
      masterKey: randomBytes(32),
      accountId: ACCOUNT,
    });
    try {
      const first = await ensureAdministrator({
        iam,
        dataDir: dir,
        endpointUrl: "http://x",
        region: "us-east-1",
      });
      const { items } = await iam.listAccessKeys({ userName: "iamdb-admin" });
      await iam.deleteAccessKey({ userName: "iamdb-admin", accessKeyId: items[0]?.accessKeyId ?? "" });
      const second = await ensureAdministrator({
        iam,
        dataDir: dir,
        endpointUrl: "http://x",
        region: "us-east-1",
      });
      assert.equal(second.created, true);
      const id = readIni(readFileSync(first.credentialsFile, "utf8"))
        .get("iamdb-admin")
        ?.get("aws_access_key_id");
      assert.equal(id, (await iam.listAccessKeys({ userName: "iamdb-admin" })).items[0]?.accessKeyId);
    } finally {
      await iam.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
