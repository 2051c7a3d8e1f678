import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { StoredPolicyError } from "../../src/iam/compile-graph.js";
import type { IamRepository } from "../../src/iam/repository.js";
import { SecretBox } from "../../src/iam/secret-box.js";
import { ConfigurationError, createIamService } from "../../src/iam/service.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";
import { allow, doc, FakeClock, serviceOver, tempDir } from "./fixtures.js";

/** Counts repository calls by method name. */
function counting(repo: IamRepository): { repo: IamRepository; calls: Map<string, number> } {
  const calls = new Map<string, number>();
  const proxy = new Proxy(repo, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (typeof v !== "function" || typeof prop !== "string") return v;
      return (...args: unknown[]) => {
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { repo: proxy, calls };
}

async function withService(
  fn: (x: {
    iam: ReturnType<typeof serviceOver>;
    calls: Map<string, number>;
    repo: IamRepository;
    clock: FakeClock;
  }) => Promise<void>,
) {
  const t = tempDir();
  const raw = openSqliteStore({ dataDir: t.dir });
  const { repo, calls } = counting(raw);
  const clock = new FakeClock();
  const iam = serviceOver(repo, clock);
  try {
    await fn({ iam, calls, repo: raw, clock });
  } finally {
    await iam.close();
    t.remove();
  }
}

describe("service read path", () => {
  it("serves repeated lookups from memory until something changes", () =>
    withService(async ({ iam, calls }) => {
      await iam.createUser({ userName: "jane" });
      const k = await iam.createAccessKey({ userName: "jane" });
      await iam.putUserPolicy({
        userName: "jane",
        policyName: "c",
        policyDocument: doc(allow("rds-db:connect")),
      });
      const first = await iam.lookupCredential(k.accessKeyId);
      assert.ok(first);
      await iam.policySetFor(first.principal);
      const reads = () => (calls.get("getAccessKey") ?? 0) + (calls.get("loadUserPolicyGraph") ?? 0);
      const before = reads();
      for (let i = 0; i < 50; i++) {
        await iam.lookupCredential(k.accessKeyId);
        await iam.policySetFor(first.principal);
      }
      assert.equal(reads(), before);
      await iam.putUserPolicy({ userName: "jane", policyName: "d", policyDocument: doc(allow("s3:*")) });
      await iam.lookupCredential(k.accessKeyId);
      assert.equal((await iam.policySetFor(first.principal))?.policies.identity.length, 2);
      assert.equal(reads(), before + 2, "one change drops both caches: credential and graph reloaded once");
    }));

  it("decrypts a secret only in lookupCredential", () =>
    withService(async ({ iam }) => {
      const original = SecretBox.prototype.open;
      let opens = 0;
      SecretBox.prototype.open = function (this: SecretBox, ...args: Parameters<SecretBox["open"]>) {
        opens++;
        return original.apply(this, args);
      };
      try {
        await iam.createUser({ userName: "jane" });
        const k = await iam.createAccessKey({ userName: "jane" });
        await iam.listAccessKeys({ userName: "jane" });
        await iam.getAccessKeyLastUsed({ accessKeyId: k.accessKeyId });
        assert.equal(opens, 0);
        const c = await iam.lookupCredential(k.accessKeyId);
        assert.equal(opens, 1);
        assert.ok(c);
        await iam.policySetFor(c.principal);
        await iam.getSessionToken({ caller: c.principal });
        assert.equal(opens, 1);
      } finally {
        SecretBox.prototype.open = original;
      }
    }));

  it("coalesces last-used writes per key and place", () =>
    withService(async ({ iam, calls, clock }) => {
      await iam.createUser({ userName: "jane" });
      const k = await iam.createAccessKey({ userName: "jane" });
      const writes = () => calls.get("recordAccessKeyUse") ?? 0;
      await iam.recordKeyUse(k.accessKeyId, "rds-db", "us-east-1", clock.now());
      clock.advance(30);
      await iam.recordKeyUse(k.accessKeyId, "rds-db", "us-east-1", clock.now());
      assert.equal(writes(), 1);
      await iam.recordKeyUse(k.accessKeyId, "rds-db", "eu-west-1", clock.now());
      assert.equal(writes(), 2);
      clock.advance(61);
      await iam.recordKeyUse(k.accessKeyId, "rds-db", "eu-west-1", clock.now());
      assert.equal(writes(), 3);
      const last = await iam.getAccessKeyLastUsed({ accessKeyId: k.accessKeyId });
      assert.deepEqual(last.accessKeyLastUsed.lastUsedDate, clock.now());
    }));

  it("fails closed when a stored policy no longer compiles", () =>
    withService(async ({ iam, repo }) => {
      await iam.createUser({ userName: "jane" });
      const k = await iam.createAccessKey({ userName: "jane" });
      const user = await repo.getUserByName("jane");
      assert.ok(user);
      await repo.putInlinePolicy({ kind: "user", id: user.userId }, "broken", "{not json");
      const c = await iam.lookupCredential(k.accessKeyId);
      assert.ok(c);
      await assert.rejects(iam.policySetFor(c.principal), StoredPolicyError);
    }));
});

describe("service configuration", () => {
  it("validates the account id and partition", () => {
    const t = tempDir();
    const repository = openSqliteStore({ dataDir: t.dir });
    try {
      const masterKey = randomBytes(32);
      assert.throws(() => createIamService({ repository, masterKey, accountId: "1234" }), ConfigurationError);
      assert.throws(
        () => createIamService({ repository, masterKey, accountId: "123456789012", partition: "AWS!" }),
        ConfigurationError,
      );
      const cn = createIamService({ repository, masterKey, accountId: "123456789012", partition: "aws-cn" });
      assert.equal(cn.account.partition, "aws-cn");
    } finally {
      void repository.close();
      t.remove();
    }
  });
});
