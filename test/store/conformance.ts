import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import {
  AccessDeniedError,
  DeleteConflictError,
  EntityAlreadyExistsError,
  InvalidParameterValueError,
  LimitExceededError,
  MalformedPolicyDocumentError,
  NoSuchEntityError,
  PackedPolicyTooLargeError,
  ValidationError,
} from "../../src/iam/errors.js";
import type { IamRepository } from "../../src/iam/repository.js";
import type { IamService } from "../../src/iam/service.js";
import { evaluate } from "../../src/policy/index.js";
import { ACCOUNT, allow, DB_ARN, deny, doc, FakeClock, serviceOver, trust } from "../iam/fixtures.js";

export interface OpenedStore {
  readonly repo: IamRepository;
  /** Another instance over the same storage, as a second process would open it. */
  second(): Promise<IamRepository>;
  dispose(): Promise<void>;
}

export interface StoreHarness {
  /** A fresh, empty store. */
  open(): Promise<OpenedStore>;
}

interface Env {
  iam: IamService;
  repo: IamRepository;
  clock: FakeClock;
  masterKey: Uint8Array;
  store: OpenedStore;
}

type ErrorClass = new (...args: never[]) => Error;

async function rejects(p: Promise<unknown>, cls: ErrorClass, message?: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof cls, `expected ${cls.name}, got ${String(e)}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else if (message !== undefined) assert.match(e.message, message);
    return true;
  });
}

const POLICY_ARN = (name: string, path = "/") => `arn:aws:iam::${ACCOUNT}:policy${path}${name}`;
const connect = (resource = DB_ARN) => ({ action: "rds-db:connect", resource });

/**
 * The one behavioural suite every IamRepository implementation must pass, driven through the
 * service so that quotas, conflicts, caching and invalidation are checked end to end.
 */
export function conformanceSuite(name: string, harness: StoreHarness): void {
  async function withEnv(fn: (env: Env) => Promise<void>): Promise<void> {
    const store = await harness.open();
    const clock = new FakeClock();
    const masterKey = randomBytes(32);
    const iam = serviceOver(store.repo, clock, masterKey);
    try {
      await fn({ iam, repo: store.repo, clock, masterKey, store });
    } finally {
      await iam.close();
      await store.dispose();
    }
  }

  /** A user with one access key; returns the key and its principal. */
  async function userWithKey(iam: IamService, userName: string) {
    await iam.createUser({ userName });
    const key = await iam.createAccessKey({ userName });
    const cred = await iam.lookupCredential(key.accessKeyId);
    assert.ok(cred);
    return { key, principal: cred.principal };
  }

  async function decide(
    iam: IamService,
    principal: Parameters<IamService["policySetFor"]>[0],
    request = connect(),
  ) {
    const set = await iam.policySetFor(principal);
    if (set === undefined) return "gone";
    return evaluate({ ...request, principal: set.principal }, set.policies).decision;
  }

  describe(`${name}: users`, () => {
    it("creates, reads case-insensitively, refuses duplicates in any case", () =>
      withEnv(async ({ iam, clock }) => {
        const u = await iam.createUser({
          userName: "Jane",
          path: "/eng/",
          tags: [{ key: "team", value: "db" }],
        });
        assert.match(u.userId, /^AIDA[A-Z2-7]{17}$/);
        assert.equal(u.arn, `arn:aws:iam::${ACCOUNT}:user/eng/Jane`);
        assert.deepEqual(u.createDate, clock.now());
        const got = await iam.getUser({ userName: "jane" });
        assert.equal(got.userName, "Jane");
        assert.deepEqual(got.tags, [{ key: "team", value: "db" }]);
        await rejects(
          iam.createUser({ userName: "JANE" }),
          EntityAlreadyExistsError,
          "User with name JANE already exists.",
        );
        await rejects(
          iam.getUser({ userName: "bob" }),
          NoSuchEntityError,
          "The user with name bob cannot be found.",
        );
      }));

    it("validates names and paths like IAM", () =>
      withEnv(async ({ iam }) => {
        await rejects(
          iam.createUser({ userName: "bad name" }),
          ValidationError,
          /regular expression pattern/,
        );
        await rejects(
          iam.createUser({ userName: "x".repeat(65) }),
          ValidationError,
          /less than or equal to 64/,
        );
        await rejects(iam.createUser({ userName: "ok", path: "no-slash" }), ValidationError, /at 'path'/);
      }));

    it("lists by path prefix with Marker/MaxItems paging", () =>
      withEnv(async ({ iam }) => {
        for (const n of ["carol", "alice", "bob", "dave"])
          await iam.createUser({ userName: n, path: n === "dave" ? "/ops/" : "/" });
        const p1 = await iam.listUsers({ maxItems: 2 });
        assert.deepEqual(
          p1.items.map((u) => u.userName),
          ["alice", "bob"],
        );
        assert.equal(p1.isTruncated, true);
        const p2 = await iam.listUsers({ maxItems: 2, marker: p1.marker });
        assert.deepEqual(
          p2.items.map((u) => u.userName),
          ["carol", "dave"],
        );
        assert.equal(p2.isTruncated, false);
        const ops = await iam.listUsers({ pathPrefix: "/ops/" });
        assert.deepEqual(
          ops.items.map((u) => u.userName),
          ["dave"],
        );
      }));

    it("renames a user: new ARN, same id, keys follow; a taken name is refused", () =>
      withEnv(async ({ iam }) => {
        const { key } = await userWithKey(iam, "jane");
        await iam.createUser({ userName: "bob" });
        await rejects(iam.updateUser({ userName: "jane", newUserName: "BOB" }), EntityAlreadyExistsError);
        await iam.updateUser({ userName: "jane", newUserName: "janet", newPath: "/x/" });
        const u = await iam.getUser({ userName: "janet" });
        assert.equal(u.arn, `arn:aws:iam::${ACCOUNT}:user/x/janet`);
        const cred = await iam.lookupCredential(key.accessKeyId);
        assert.equal(cred?.principal.arn, u.arn);
        await rejects(iam.getUser({ userName: "jane" }), NoSuchEntityError);
      }));

    it("tags: merge case-insensitively, untag, 50 at most, aws: reserved", () =>
      withEnv(async ({ iam }) => {
        await iam.createUser({ userName: "jane" });
        await iam.tagUser({
          userName: "jane",
          tags: [
            { key: "Dept", value: "a" },
            { key: "x", value: "1" },
          ],
        });
        await iam.tagUser({ userName: "jane", tags: [{ key: "dept", value: "b" }] });
        const tags = await iam.listUserTags({ userName: "jane" });
        assert.deepEqual(tags.items, [
          { key: "dept", value: "b" },
          { key: "x", value: "1" },
        ]);
        await iam.untagUser({ userName: "jane", tagKeys: ["X"] });
        assert.deepEqual((await iam.listUserTags({ userName: "jane" })).items, [{ key: "dept", value: "b" }]);
        const many = Array.from({ length: 50 }, (_, i) => ({ key: `k${i}`, value: "v" }));
        await rejects(iam.tagUser({ userName: "jane", tags: many }), LimitExceededError);
        await rejects(
          iam.tagUser({ userName: "jane", tags: [{ key: "aws:x", value: "v" }] }),
          ValidationError,
        );
      }));

    it("refuses to delete a user with keys, policies or groups, naming what to remove first", () =>
      withEnv(async ({ iam }) => {
        const { key } = await userWithKey(iam, "jane");
        const p = await iam.createPolicy({ policyName: "P", policyDocument: doc(allow("rds-db:connect")) });
        await iam.putUserPolicy({
          userName: "jane",
          policyName: "inline",
          policyDocument: doc(allow("s3:*")),
        });
        await iam.attachUserPolicy({ userName: "jane", policyArn: p.arn });
        await iam.createGroup({ groupName: "devs" });
        await iam.addUserToGroup({ groupName: "devs", userName: "jane" });
        const del = () => iam.deleteUser({ userName: "jane" });
        await rejects(del(), DeleteConflictError, "Cannot delete entity, must delete access keys first.");
        await iam.deleteAccessKey({ userName: "jane", accessKeyId: key.accessKeyId });
        await rejects(del(), DeleteConflictError, "Cannot delete entity, must delete policies first.");
        await iam.deleteUserPolicy({ userName: "jane", policyName: "inline" });
        await rejects(del(), DeleteConflictError, "Cannot delete entity, must detach all policies first.");
        await iam.detachUserPolicy({ userName: "jane", policyArn: p.arn });
        await rejects(
          del(),
          DeleteConflictError,
          "Cannot delete entity, must remove users from group first.",
        );
        await iam.removeUserFromGroup({ groupName: "devs", userName: "jane" });
        await del();
        await rejects(iam.getUser({ userName: "jane" }), NoSuchEntityError);
        await rejects(del(), NoSuchEntityError, "The user with name jane cannot be found.");
      }));
  });

  describe(`${name}: groups`, () => {
    it("membership: idempotent add, GetGroup members, ListGroupsForUser, remove", () =>
      withEnv(async ({ iam }) => {
        const g = await iam.createGroup({ groupName: "devs", path: "/eng/" });
        assert.match(g.groupId, /^AGPA[A-Z2-7]{17}$/);
        assert.equal(g.arn, `arn:aws:iam::${ACCOUNT}:group/eng/devs`);
        await rejects(
          iam.createGroup({ groupName: "DEVS" }),
          EntityAlreadyExistsError,
          "Group with name DEVS already exists.",
        );
        await iam.createUser({ userName: "jane" });
        await iam.createUser({ userName: "bob" });
        await iam.addUserToGroup({ groupName: "devs", userName: "jane" });
        await iam.addUserToGroup({ groupName: "devs", userName: "jane" });
        await iam.addUserToGroup({ groupName: "devs", userName: "bob" });
        const got = await iam.getGroup({ groupName: "devs" });
        assert.equal(got.group.groupName, "devs");
        assert.deepEqual(
          got.items.map((u) => u.userName),
          ["bob", "jane"],
        );
        assert.deepEqual(
          (await iam.listGroupsForUser({ userName: "jane" })).items.map((x) => x.groupName),
          ["devs"],
        );
        await iam.removeUserFromGroup({ groupName: "devs", userName: "jane" });
        await rejects(iam.removeUserFromGroup({ groupName: "devs", userName: "jane" }), NoSuchEntityError);
        await rejects(iam.deleteGroup({ groupName: "devs" }), DeleteConflictError, /remove users from group/);
        await iam.removeUserFromGroup({ groupName: "devs", userName: "bob" });
        await iam.deleteGroup({ groupName: "devs" });
        assert.equal((await iam.listGroups()).items.length, 0);
        await rejects(
          iam.getGroup({ groupName: "devs" }),
          NoSuchEntityError,
          "The group with name devs cannot be found.",
        );
      }));

    it("a user may be in at most 10 groups", () =>
      withEnv(async ({ iam }) => {
        await iam.createUser({ userName: "jane" });
        for (let i = 0; i < 11; i++) await iam.createGroup({ groupName: `g${i}` });
        for (let i = 0; i < 10; i++) await iam.addUserToGroup({ groupName: `g${i}`, userName: "jane" });
        await rejects(
          iam.addUserToGroup({ groupName: "g10", userName: "jane" }),
          LimitExceededError,
          "Cannot exceed quota for GroupsPerUser: 10",
        );
      }));
  });

  describe(`${name}: roles`, () => {
    it("creates with a validated trust policy and session-duration bounds", () =>
      withEnv(async ({ iam }) => {
        const r = await iam.createRole({
          roleName: "dba",
          assumeRolePolicyDocument: trust(`arn:aws:iam::${ACCOUNT}:root`),
        });
        assert.match(r.roleId, /^AROA[A-Z2-7]{17}$/);
        assert.equal(r.maxSessionDuration, 3600);
        assert.equal(r.arn, `arn:aws:iam::${ACCOUNT}:role/dba`);
        await rejects(
          iam.createRole({ roleName: "x", assumeRolePolicyDocument: doc(allow("sts:AssumeRole")) }),
          MalformedPolicyDocumentError,
        );
        for (const maxSessionDuration of [3599, 43201]) {
          await rejects(
            iam.createRole({ roleName: "y", assumeRolePolicyDocument: trust(ACCOUNT), maxSessionDuration }),
            ValidationError,
          );
        }
        await iam.createRole({
          roleName: "long",
          assumeRolePolicyDocument: trust(ACCOUNT),
          maxSessionDuration: 43200,
        });
        await rejects(
          iam.createRole({ roleName: "DBA", assumeRolePolicyDocument: trust(ACCOUNT) }),
          EntityAlreadyExistsError,
          "Role with name DBA already exists.",
        );
        // A specific principal must exist when the trust policy is saved (it is bound to its id).
        await rejects(
          iam.updateAssumeRolePolicy({
            roleName: "dba",
            policyDocument: trust(`arn:aws:iam::${ACCOUNT}:user/jane`),
          }),
          MalformedPolicyDocumentError,
          `Invalid principal in policy: "AWS":"arn:aws:iam::${ACCOUNT}:user/jane"`,
        );
        await iam.createUser({ userName: "jane" });
        await iam.updateAssumeRolePolicy({
          roleName: "dba",
          policyDocument: trust(`arn:aws:iam::${ACCOUNT}:user/jane`),
        });
        assert.match((await iam.getRole({ roleName: "dba" })).assumeRolePolicyDocument, /user\/jane/);
        await rejects(
          iam.updateAssumeRolePolicy({ roleName: "dba", policyDocument: "{" }),
          MalformedPolicyDocumentError,
        );
        await iam.tagRole({ roleName: "dba", tags: [{ key: "env", value: "prod" }] });
        assert.deepEqual((await iam.listRoleTags({ roleName: "dba" })).items, [
          { key: "env", value: "prod" },
        ]);
        await iam.untagRole({ roleName: "dba", tagKeys: ["env"] });
        assert.deepEqual((await iam.getRole({ roleName: "dba" })).tags, []);
        assert.deepEqual(
          (await iam.listRoles()).items.map((x) => x.roleName),
          ["dba", "long"],
        );
      }));

    it("refuses to delete a role with policies; deleting it ends its sessions", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: trust(principal.arn) });
        await iam.putRolePolicy({
          roleName: "dba",
          policyName: "c",
          policyDocument: doc(allow("rds-db:connect")),
        });
        const s = await iam.assumeRole({
          caller: principal,
          roleArn: `arn:aws:iam::${ACCOUNT}:role/dba`,
          roleSessionName: "s1",
        });
        await rejects(
          iam.deleteRole({ roleName: "dba" }),
          DeleteConflictError,
          "Cannot delete entity, must delete policies first.",
        );
        await iam.deleteRolePolicy({ roleName: "dba", policyName: "c" });
        assert.ok(await iam.lookupCredential(s.credentials.accessKeyId));
        await iam.deleteRole({ roleName: "dba" });
        assert.equal(await iam.lookupCredential(s.credentials.accessKeyId), undefined);
        await rejects(
          iam.getRole({ roleName: "dba" }),
          NoSuchEntityError,
          "The role with name dba cannot be found.",
        );
      }));
  });

  describe(`${name}: access keys`, () => {
    it("creates AKIA keys with 40-character secrets, two per user at most", () =>
      withEnv(async ({ iam, clock }) => {
        await iam.createUser({ userName: "jane" });
        const k1 = await iam.createAccessKey({ userName: "jane" });
        assert.match(k1.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
        assert.match(k1.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
        assert.equal(k1.status, "Active");
        assert.deepEqual(k1.createDate, clock.now());
        await iam.createAccessKey({ userName: "jane" });
        await rejects(
          iam.createAccessKey({ userName: "jane" }),
          LimitExceededError,
          "Cannot exceed quota for AccessKeysPerUser: 2",
        );
        const listed = await iam.listAccessKeys({ userName: "jane" });
        assert.equal(listed.items.length, 2);
        assert.ok(listed.items.every((k) => !("secretAccessKey" in k)));
      }));

    it("enforces the two-key quota under concurrent creates", () =>
      withEnv(async ({ iam }) => {
        await iam.createUser({ userName: "jane" });
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, () => iam.createAccessKey({ userName: "jane" })),
        );
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 2);
        assert.equal((await iam.listAccessKeys({ userName: "jane" })).items.length, 2);
      }));

    it("lookupCredential: secret, status and deletion take effect on the very next lookup", () =>
      withEnv(async ({ iam }) => {
        const { key, principal } = await userWithKey(iam, "jane");
        assert.equal(principal.type, "user");
        assert.equal(principal.arn, `arn:aws:iam::${ACCOUNT}:user/jane`);
        const c1 = await iam.lookupCredential(key.accessKeyId);
        assert.equal(c1?.secretAccessKey, key.secretAccessKey);
        assert.equal(c1?.status, "Active");
        assert.equal(c1?.sessionToken, undefined);
        await iam.updateAccessKey({ userName: "jane", accessKeyId: key.accessKeyId, status: "Inactive" });
        assert.equal((await iam.lookupCredential(key.accessKeyId))?.status, "Inactive");
        await iam.updateAccessKey({ userName: "jane", accessKeyId: key.accessKeyId, status: "Active" });
        assert.equal((await iam.lookupCredential(key.accessKeyId))?.status, "Active");
        await iam.deleteAccessKey({ userName: "jane", accessKeyId: key.accessKeyId });
        assert.equal(await iam.lookupCredential(key.accessKeyId), undefined);
        assert.equal(await iam.lookupCredential("AKIAAAAAAAAAAAAAAAAA"), undefined);
      }));

    it("keys are addressed through their owner; last-used starts N/A", () =>
      withEnv(async ({ iam, clock }) => {
        const { key } = await userWithKey(iam, "jane");
        await iam.createUser({ userName: "bob" });
        const missing = `The Access Key with id ${key.accessKeyId} cannot be found.`;
        await rejects(
          iam.deleteAccessKey({ userName: "bob", accessKeyId: key.accessKeyId }),
          NoSuchEntityError,
          missing,
        );
        await rejects(
          iam.updateAccessKey({
            userName: "jane",
            accessKeyId: key.accessKeyId,
            status: "Paused" as "Active",
          }),
          ValidationError,
        );
        const before = await iam.getAccessKeyLastUsed({ accessKeyId: key.accessKeyId });
        assert.deepEqual(before, {
          userName: "jane",
          accessKeyLastUsed: { lastUsedDate: undefined, serviceName: "N/A", region: "N/A" },
        });
        await iam.recordKeyUse(key.accessKeyId, "rds-db", "eu-west-1", clock.now());
        const after = await iam.getAccessKeyLastUsed({ accessKeyId: key.accessKeyId });
        assert.deepEqual(after.accessKeyLastUsed, {
          lastUsedDate: clock.now(),
          serviceName: "rds-db",
          region: "eu-west-1",
        });
      }));

    it("stores only sealed secrets; another master key cannot open them", () =>
      withEnv(async ({ iam, repo }) => {
        const { key } = await userWithKey(iam, "jane");
        const stored = await repo.getAccessKey(key.accessKeyId);
        assert.ok(stored);
        assert.ok(!stored.sealedSecret.includes(key.secretAccessKey));
        assert.match(stored.sealedSecret, /^v1\./);
        const other = serviceOver(repo, new FakeClock(), randomBytes(32));
        await assert.rejects(other.lookupCredential(key.accessKeyId), /master key/);
      }));
  });

  describe(`${name}: managed policies`, () => {
    it("versions: at most five, ids never reused, default switchable, default undeletable", () =>
      withEnv(async ({ iam }) => {
        const p = await iam.createPolicy({
          policyName: "Conn",
          path: "/db/",
          policyDocument: doc(allow("rds-db:connect")),
        });
        assert.match(p.policyId, /^ANPA[A-Z2-7]{17}$/);
        assert.equal(p.arn, POLICY_ARN("Conn", "/db/"));
        assert.equal(p.defaultVersionId, "v1");
        await rejects(
          iam.createPolicy({ policyName: "conn", policyDocument: doc(allow("s3:*")) }),
          EntityAlreadyExistsError,
          "A policy called conn already exists. Duplicate names are not allowed.",
        );
        for (let i = 2; i <= 5; i++) {
          const v = await iam.createPolicyVersion({
            policyArn: p.arn,
            policyDocument: doc(allow(`s3:Get${i}`)),
          });
          assert.equal(v.versionId, `v${i}`);
        }
        await rejects(
          iam.createPolicyVersion({ policyArn: p.arn, policyDocument: doc(allow("s3:x")) }),
          LimitExceededError,
          /up to 5 versions/,
        );
        await rejects(
          iam.deletePolicyVersion({ policyArn: p.arn, versionId: "v1" }),
          DeleteConflictError,
          "Cannot delete the default version of a policy.",
        );
        await iam.deletePolicyVersion({ policyArn: p.arn, versionId: "v2" });
        const v6 = await iam.createPolicyVersion({
          policyArn: p.arn,
          policyDocument: doc(allow("s3:y")),
          setAsDefault: true,
        });
        assert.equal(v6.versionId, "v6");
        assert.equal((await iam.getPolicy({ policyArn: p.arn })).defaultVersionId, "v6");
        await iam.setDefaultPolicyVersion({ policyArn: p.arn, versionId: "v3" });
        const versions = await iam.listPolicyVersions({ policyArn: p.arn });
        assert.deepEqual(
          versions.items.map((v) => [v.versionId, v.isDefaultVersion]),
          [
            ["v6", false],
            ["v5", false],
            ["v4", false],
            ["v3", true],
            ["v1", false],
          ],
        );
        assert.match((await iam.getPolicyVersion({ policyArn: p.arn, versionId: "v3" })).document, /s3:Get3/);
        await rejects(iam.getPolicyVersion({ policyArn: p.arn, versionId: "v2" }), NoSuchEntityError);
        await rejects(iam.setDefaultPolicyVersion({ policyArn: p.arn, versionId: "v9" }), NoSuchEntityError);
        await rejects(
          iam.getPolicy({ policyArn: POLICY_ARN("Conn") }),
          NoSuchEntityError,
          /does not exist or is not attachable/,
        );
        await rejects(iam.deletePolicy({ policyArn: p.arn }), DeleteConflictError, /more than one version/);
        for (const v of ["v1", "v4", "v5", "v6"])
          await iam.deletePolicyVersion({ policyArn: p.arn, versionId: v });
        await iam.deletePolicy({ policyArn: p.arn });
        await rejects(iam.getPolicy({ policyArn: p.arn }), NoSuchEntityError);
      }));

    it("validates documents on write: Principal refused, size limits, garbage", () =>
      withEnv(async ({ iam }) => {
        await rejects(
          iam.createPolicy({
            policyName: "p",
            policyDocument: doc({ ...allow("s3:*"), Principal: "*" }),
          }),
          MalformedPolicyDocumentError,
        );
        await rejects(
          iam.createPolicy({ policyName: "p", policyDocument: "not json" }),
          MalformedPolicyDocumentError,
        );
        const big = doc(allow(Array.from({ length: 700 }, (_, i) => `s3:Action${i}`)));
        await rejects(iam.createPolicy({ policyName: "p", policyDocument: big }), LimitExceededError);
      }));

    it("attachments: idempotent, listed, counted, quota 10, detach of unattached refused", () =>
      withEnv(async ({ iam }) => {
        await iam.createUser({ userName: "jane" });
        const arns: string[] = [];
        for (let i = 0; i < 11; i++) {
          arns.push(
            (await iam.createPolicy({ policyName: `p${i}`, policyDocument: doc(allow("s3:*")) })).arn,
          );
        }
        const [first] = arns;
        assert.ok(first);
        await iam.attachUserPolicy({ userName: "jane", policyArn: first });
        await iam.attachUserPolicy({ userName: "jane", policyArn: first });
        assert.equal((await iam.getPolicy({ policyArn: first })).attachmentCount, 1);
        for (const arn of arns.slice(1, 10)) await iam.attachUserPolicy({ userName: "jane", policyArn: arn });
        await rejects(
          iam.attachUserPolicy({ userName: "jane", policyArn: arns[10] ?? "" }),
          LimitExceededError,
          "Cannot exceed quota for PoliciesPerUser: 10",
        );
        const listed = await iam.listAttachedUserPolicies({ userName: "jane" });
        assert.equal(listed.items.length, 10);
        assert.deepEqual(listed.items[0], { policyName: "p0", policyArn: first });
        assert.equal((await iam.listPolicies({ onlyAttached: true })).items.length, 10);
        await rejects(
          iam.deletePolicy({ policyArn: first }),
          DeleteConflictError,
          "Cannot delete a policy attached to entities.",
        );
        await iam.detachUserPolicy({ userName: "jane", policyArn: first });
        await rejects(
          iam.detachUserPolicy({ userName: "jane", policyArn: first }),
          NoSuchEntityError,
          `Policy ${first} was not found.`,
        );
        await iam.deletePolicy({ policyArn: first });
      }));

    it("permissions boundaries on users and roles", () =>
      withEnv(async ({ iam }) => {
        const b = await iam.createPolicy({ policyName: "Boundary", policyDocument: doc(allow("rds-db:*")) });
        await iam.createUser({ userName: "jane", permissionsBoundary: b.arn });
        assert.deepEqual((await iam.getUser({ userName: "jane" })).permissionsBoundary, {
          permissionsBoundaryType: "PermissionsBoundaryPolicy",
          permissionsBoundaryArn: b.arn,
        });
        await iam.createRole({ roleName: "r", assumeRolePolicyDocument: trust(ACCOUNT) });
        await iam.putRolePermissionsBoundary({ roleName: "r", permissionsBoundary: b.arn });
        assert.equal(
          (await iam.getRole({ roleName: "r" })).permissionsBoundary?.permissionsBoundaryArn,
          b.arn,
        );
        assert.equal((await iam.getPolicy({ policyArn: b.arn })).permissionsBoundaryUsageCount, 2);
        await rejects(iam.deletePolicy({ policyArn: b.arn }), DeleteConflictError, /permissions boundary/);
        await rejects(
          iam.putUserPermissionsBoundary({ userName: "jane", permissionsBoundary: POLICY_ARN("Nope") }),
          NoSuchEntityError,
        );
        await iam.deleteUserPermissionsBoundary({ userName: "jane" });
        await iam.deleteRolePermissionsBoundary({ roleName: "r" });
        assert.equal((await iam.getUser({ userName: "jane" })).permissionsBoundary, undefined);
        await iam.deletePolicy({ policyArn: b.arn });
      }));
  });

  describe(`${name}: inline policies`, () => {
    it("put/get/list/delete on users, groups and roles", () =>
      withEnv(async ({ iam }) => {
        await iam.createUser({ userName: "jane" });
        await iam.createGroup({ groupName: "devs" });
        await iam.createRole({ roleName: "r", assumeRolePolicyDocument: trust(ACCOUNT) });
        const d = doc(allow("rds-db:connect", DB_ARN));
        await iam.putUserPolicy({ userName: "jane", policyName: "A", policyDocument: d });
        await iam.putGroupPolicy({ groupName: "devs", policyName: "B", policyDocument: d });
        await iam.putRolePolicy({ roleName: "r", policyName: "C", policyDocument: d });
        assert.deepEqual(await iam.getUserPolicy({ userName: "jane", policyName: "A" }), {
          userName: "jane",
          policyName: "A",
          policyDocument: d,
        });
        assert.deepEqual((await iam.listGroupPolicies({ groupName: "devs" })).items, ["B"]);
        assert.deepEqual((await iam.listRolePolicies({ roleName: "r" })).items, ["C"]);
        const d2 = doc(allow("rds-db:*"));
        await iam.putUserPolicy({ userName: "jane", policyName: "A", policyDocument: d2 });
        assert.equal((await iam.getUserPolicy({ userName: "jane", policyName: "A" })).policyDocument, d2);
        await iam.deleteGroupPolicy({ groupName: "devs", policyName: "B" });
        await rejects(
          iam.getGroupPolicy({ groupName: "devs", policyName: "B" }),
          NoSuchEntityError,
          "The group policy with name B cannot be found.",
        );
        await rejects(
          iam.deleteRolePolicy({ roleName: "r", policyName: "nope" }),
          NoSuchEntityError,
          "The role policy with name nope cannot be found.",
        );
        await rejects(
          iam.putUserPolicy({ userName: "ghost", policyName: "A", policyDocument: d }),
          NoSuchEntityError,
          "The user with name ghost cannot be found.",
        );
        await rejects(
          iam.putRolePolicy({
            roleName: "r",
            policyName: "bad",
            policyDocument: doc({ ...allow("s3:*"), Principal: "*" }),
          }),
          MalformedPolicyDocumentError,
        );
      }));

    it("the user quota of 2,048 characters counts all the user's inline policies", () =>
      withEnv(async ({ iam }) => {
        await iam.createUser({ userName: "jane" });
        const half = doc(allow(Array.from({ length: 65 }, (_, i) => `s3:GetThing${i}`)));
        await iam.putUserPolicy({ userName: "jane", policyName: "one", policyDocument: half });
        await rejects(
          iam.putUserPolicy({ userName: "jane", policyName: "two", policyDocument: half }),
          LimitExceededError,
          "Maximum policy size of 2048 bytes exceeded for user jane",
        );
        await iam.putUserPolicy({ userName: "jane", policyName: "one", policyDocument: half });
      }));
  });

  describe(`${name}: policy sets and invalidation`, () => {
    it("collects user inline, attached, group policies and boundary; changes apply at once", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createGroup({ groupName: "devs" });
        const conn = await iam.createPolicy({
          policyName: "Conn",
          policyDocument: doc(allow("rds-db:connect")),
        });
        await iam.putUserPolicy({
          userName: "jane",
          policyName: "own",
          policyDocument: doc(allow("s3:GetObject")),
        });
        await iam.attachGroupPolicy({ groupName: "devs", policyArn: conn.arn });
        assert.equal(await decide(iam, principal), "implicitDeny");
        await iam.addUserToGroup({ groupName: "devs", userName: "jane" });
        assert.equal(await decide(iam, principal), "allowed");

        const set = await iam.policySetFor(principal);
        assert.ok(set);
        assert.deepEqual(
          set.policies.identity.map((p) => p.id),
          ["user/jane/own", conn.arn],
        );
        assert.equal(set.principal.arn, principal.arn);
        assert.equal(set.principal.username, "jane");
        assert.equal(set.principal.type, "User");

        await iam.putGroupPolicy({
          groupName: "devs",
          policyName: "no",
          policyDocument: doc(deny("rds-db:*")),
        });
        assert.equal(await decide(iam, principal), "explicitDeny");
        await iam.deleteGroupPolicy({ groupName: "devs", policyName: "no" });
        assert.equal(await decide(iam, principal), "allowed");

        const b = await iam.createPolicy({ policyName: "B", policyDocument: doc(allow("s3:*")) });
        await iam.putUserPermissionsBoundary({ userName: "jane", permissionsBoundary: b.arn });
        assert.equal(await decide(iam, principal), "implicitDeny");
        await iam.createPolicyVersion({
          policyArn: b.arn,
          policyDocument: doc(allow("*")),
          setAsDefault: true,
        });
        assert.equal(await decide(iam, principal), "allowed");
        await iam.setDefaultPolicyVersion({ policyArn: b.arn, versionId: "v1" });
        assert.equal(await decide(iam, principal), "implicitDeny");
        await iam.deleteUserPermissionsBoundary({ userName: "jane" });
        assert.equal(await decide(iam, principal), "allowed");

        await iam.detachGroupPolicy({ groupName: "devs", policyArn: conn.arn });
        assert.equal(await decide(iam, principal), "implicitDeny");
        await iam.attachUserPolicy({ userName: "jane", policyArn: conn.arn });
        assert.equal(await decide(iam, principal), "allowed");
        await iam.removeUserFromGroup({ groupName: "devs", userName: "jane" });
        assert.equal(await decide(iam, principal), "allowed");
      }));

    it("principal tags and the aws:username variable reach the evaluator", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.tagUser({ userName: "jane", tags: [{ key: "team", value: "db" }] });
        const self = `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/\${aws:username}`;
        await iam.putUserPolicy({
          userName: "jane",
          policyName: "self",
          policyDocument: doc(
            allow("rds-db:connect", self, { Condition: { StringEquals: { "aws:PrincipalTag/team": "db" } } }),
          ),
        });
        assert.equal(await decide(iam, principal), "allowed");
        assert.equal(await decide(iam, principal, connect(DB_ARN.replace("/jane", "/bob"))), "implicitDeny");
        await iam.tagUser({ userName: "jane", tags: [{ key: "team", value: "web" }] });
        assert.equal(await decide(iam, principal), "implicitDeny");
      }));

    it("a second instance over the same store drops a revoked key, detached policy and deleted user within a second", () =>
      withEnv(async ({ iam, store, masterKey, clock }) => {
        const { key, principal } = await userWithKey(iam, "jane");
        const conn = await iam.createPolicy({
          policyName: "Conn",
          policyDocument: doc(allow("rds-db:connect")),
        });
        await iam.attachUserPolicy({ userName: "jane", policyArn: conn.arn });
        const session = await iam.getSessionToken({ caller: principal });

        const other = serviceOver(await store.second(), clock, masterKey);
        try {
          const within = async (what: string, check: () => Promise<boolean>) => {
            const start = Date.now();
            while (!(await check())) {
              assert.ok(Date.now() - start < 1000, `${what} not seen by the other instance within 1 s`);
              await new Promise((r) => setTimeout(r, 10));
            }
          };
          // Warm the other instance's caches.
          assert.equal((await other.lookupCredential(key.accessKeyId))?.status, "Active");
          assert.equal(await decide(other, principal), "allowed");
          assert.ok(await other.lookupCredential(session.credentials.accessKeyId));

          await iam.updateAccessKey({ userName: "jane", accessKeyId: key.accessKeyId, status: "Inactive" });
          await within(
            "deactivated key",
            async () => (await other.lookupCredential(key.accessKeyId))?.status === "Inactive",
          );

          await iam.detachUserPolicy({ userName: "jane", policyArn: conn.arn });
          await within("detached policy", async () => (await decide(other, principal)) === "implicitDeny");

          await iam.deleteAccessKey({ userName: "jane", accessKeyId: key.accessKeyId });
          await within(
            "deleted key",
            async () => (await other.lookupCredential(key.accessKeyId)) === undefined,
          );

          await iam.deleteUser({ userName: "jane" });
          await within("deleted user", async () => (await decide(other, principal)) === "gone");
          await within(
            "deleted user's session",
            async () => !(await other.lookupCredential(session.credentials.accessKeyId)),
          );
        } finally {
          await other.close();
        }
      }));
  });

  describe(`${name}: STS`, () => {
    const ROLE = `arn:aws:iam::${ACCOUNT}:role/dba`;

    it("AssumeRole issues ASIA credentials for a trusted user, with the session's principal", () =>
      withEnv(async ({ iam, clock }) => {
        const { principal } = await userWithKey(iam, "jane");
        const role = await iam.createRole({
          roleName: "dba",
          assumeRolePolicyDocument: trust(principal.arn),
        });
        await iam.putRolePolicy({
          roleName: "dba",
          policyName: "c",
          policyDocument: doc(allow("rds-db:connect")),
        });
        const r = await iam.assumeRole({
          caller: principal,
          roleArn: ROLE,
          roleSessionName: "ops@host",
          durationSeconds: 900,
        });
        const c = r.credentials;
        assert.match(c.accessKeyId, /^ASIA[A-Z2-7]{16}$/);
        assert.match(c.secretAccessKey, /^[A-Za-z0-9+/]{40}$/);
        assert.ok(c.sessionToken.length >= 400);
        assert.equal(c.expiration.getTime(), clock.now().getTime() + 900_000);
        assert.deepEqual(r.assumedRoleUser, {
          assumedRoleId: `${role.roleId}:ops@host`,
          arn: `arn:aws:sts::${ACCOUNT}:assumed-role/dba/ops@host`,
        });
        const cred = await iam.lookupCredential(c.accessKeyId);
        assert.ok(cred);
        assert.equal(cred.secretAccessKey, c.secretAccessKey);
        assert.equal(cred.sessionToken, c.sessionToken);
        assert.deepEqual(cred.expiresAt, c.expiration);
        assert.equal(cred.status, "Active");
        assert.equal(cred.principal.type, "assumed-role");
        assert.equal(cred.principal.arn, r.assumedRoleUser.arn);
        const set = await iam.policySetFor(cred.principal);
        assert.equal(set?.principal.userId, `${role.roleId}:ops@host`);
        assert.equal(set?.principal.roleArn, ROLE);
        assert.equal(await decide(iam, cred.principal), "allowed");
      }));

    it("a session policy narrows the role's permissions", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: trust(principal.arn) });
        await iam.putRolePolicy({
          roleName: "dba",
          policyName: "all",
          policyDocument: doc(allow("rds-db:connect")),
        });
        const policy = doc(allow("rds-db:connect", DB_ARN));
        const r = await iam.assumeRole({
          caller: principal,
          roleArn: ROLE,
          roleSessionName: "narrow",
          policy,
        });
        assert.equal(typeof r.packedPolicySize, "number");
        const cred = await iam.lookupCredential(r.credentials.accessKeyId);
        assert.ok(cred);
        assert.equal(await decide(iam, cred.principal), "allowed");
        assert.equal(
          await decide(iam, cred.principal, connect(DB_ARN.replace("/jane", "/root"))),
          "implicitDeny",
        );
        const set = await iam.policySetFor(cred.principal);
        assert.equal(set?.policies.session?.length, 1);
      }));

    it("trust: untrusted callers, missing roles and explicit denies are refused; account trust needs an identity allow", () =>
      withEnv(async ({ iam }) => {
        const jane = (await userWithKey(iam, "jane")).principal;
        const bob = (await userWithKey(iam, "bob")).principal;
        await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: trust(jane.arn) });
        const denied = `User: ${bob.arn} is not authorized to perform: sts:AssumeRole on resource: ${ROLE}`;
        await rejects(
          iam.assumeRole({ caller: bob, roleArn: ROLE, roleSessionName: "s1" }),
          AccessDeniedError,
          denied,
        );
        await rejects(
          iam.assumeRole({
            caller: jane,
            roleArn: `arn:aws:iam::${ACCOUNT}:role/ghost`,
            roleSessionName: "s1",
          }),
          AccessDeniedError,
        );
        await iam.putUserPolicy({
          userName: "jane",
          policyName: "no",
          policyDocument: doc(deny("sts:AssumeRole")),
        });
        await rejects(
          iam.assumeRole({ caller: jane, roleArn: ROLE, roleSessionName: "s1" }),
          AccessDeniedError,
        );

        await iam.updateAssumeRolePolicy({
          roleName: "dba",
          policyDocument: trust(`arn:aws:iam::${ACCOUNT}:root`),
        });
        await rejects(
          iam.assumeRole({ caller: bob, roleArn: ROLE, roleSessionName: "s1" }),
          AccessDeniedError,
        );
        await iam.putUserPolicy({
          userName: "bob",
          policyName: "may",
          policyDocument: doc(allow("sts:AssumeRole", ROLE)),
        });
        const ok = await iam.assumeRole({ caller: bob, roleArn: ROLE, roleSessionName: "s1" });
        assert.match(ok.credentials.accessKeyId, /^ASIA/);
      }));

    it("validates duration, session name, session policy and role chaining", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createRole({
          roleName: "dba",
          assumeRolePolicyDocument: trust(principal.arn),
          maxSessionDuration: 7200,
        });
        const base = { caller: principal, roleArn: ROLE, roleSessionName: "s1" };
        await rejects(iam.assumeRole({ ...base, durationSeconds: 899 }), ValidationError);
        await rejects(
          iam.assumeRole({ ...base, durationSeconds: 7201 }),
          ValidationError,
          "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        );
        await rejects(iam.assumeRole({ ...base, roleSessionName: "a" }), ValidationError);
        await rejects(iam.assumeRole({ ...base, roleSessionName: "has space" }), ValidationError);
        await rejects(iam.assumeRole({ ...base, policy: "x".repeat(2049) }), ValidationError, /2048/);
        await rejects(iam.assumeRole({ ...base, policy: '{"Statement":' }), MalformedPolicyDocumentError);
        const r = await iam.assumeRole({ ...base, durationSeconds: 7200 });
        const cred = await iam.lookupCredential(r.credentials.accessKeyId);
        assert.ok(cred);
        await iam.updateAssumeRolePolicy({ roleName: "dba", policyDocument: trust(principal.arn, ROLE) });
        await rejects(
          iam.assumeRole({
            caller: cred.principal,
            roleArn: ROLE,
            roleSessionName: "chained",
            durationSeconds: 3601,
          }),
          ValidationError,
          /role chaining/,
        );
        const chained = await iam.assumeRole({
          caller: cred.principal,
          roleArn: ROLE,
          roleSessionName: "chained",
        });
        assert.match(chained.credentials.accessKeyId, /^ASIA/);
      }));

    it("managed session policies (PolicyArns) narrow the session together with the inline one", () =>
      withEnv(async ({ iam, repo }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: trust(principal.arn) });
        await iam.putRolePolicy({
          roleName: "dba",
          policyName: "role",
          policyDocument: doc(allow(["rds-db:connect", "rds:DescribeDBInstances"])),
        });
        // Allows one database user, and an action the role itself does not have.
        const conn = await iam.createPolicy({
          policyName: "ConnJane",
          path: "/session/",
          policyDocument: doc(allow(["rds-db:connect", "iam:ListUsers"], DB_ARN)),
        });
        const describe = { action: "rds:DescribeDBInstances", resource: "*" };
        const r = await iam.assumeRole({
          caller: principal,
          roleArn: ROLE,
          roleSessionName: "managed",
          policyArns: [conn.arn],
        });
        assert.equal(r.packedPolicySize, Math.ceil((conn.arn.length / 2048) * 100));
        const session = (await iam.lookupCredential(r.credentials.accessKeyId))?.principal;
        assert.ok(session);
        const set = await iam.policySetFor(session);
        assert.deepEqual(
          set?.policies.session?.map((p) => p.id),
          [conn.arn],
        );
        assert.equal(await decide(iam, session), "allowed", "role and managed session policy both allow");
        assert.equal(await decide(iam, session, connect(DB_ARN.replace("/jane", "/bob"))), "implicitDeny");
        assert.equal(
          await decide(iam, session, describe),
          "implicitDeny",
          "the session policy does not allow",
        );
        assert.equal(
          await decide(iam, session, { action: "iam:ListUsers", resource: DB_ARN }),
          "implicitDeny",
          "a session policy grants nothing the role lacks",
        );
        const stored = await repo.getSession(r.credentials.accessKeyId);
        assert.deepEqual(stored?.sessionPolicyArns, [conn.arn]);

        // Inline and managed session policies together: an action either allows is allowed.
        const both = await iam.assumeRole({
          caller: principal,
          roleArn: ROLE,
          roleSessionName: "both",
          policy: doc(allow("rds:DescribeDBInstances")),
          policyArns: [conn.arn],
        });
        const bothSession = (await iam.lookupCredential(both.credentials.accessKeyId))?.principal;
        assert.ok(bothSession);
        assert.equal((await iam.policySetFor(bothSession))?.policies.session?.length, 2);
        assert.equal(await decide(iam, bothSession), "allowed");
        assert.equal(await decide(iam, bothSession, describe), "allowed");

        // The policy's current default version applies; a deleted policy allows nothing.
        await iam.createPolicyVersion({
          policyArn: conn.arn,
          policyDocument: doc(allow("rds:DescribeDBInstances")),
          setAsDefault: true,
        });
        assert.equal(await decide(iam, session), "implicitDeny");
        assert.equal(await decide(iam, session, describe), "allowed");
        await iam.deletePolicyVersion({ policyArn: conn.arn, versionId: "v1" });
        await iam.deletePolicy({ policyArn: conn.arn });
        assert.equal(await decide(iam, session, describe), "implicitDeny");
      }));

    it("PolicyArns: at most 10, must exist, and fit the packed quota with the inline policy", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: trust(principal.arn) });
        const base = { caller: principal, roleArn: ROLE, roleSessionName: "s1" };
        const arns = Array.from({ length: 11 }, (_, i) => POLICY_ARN(`P${i}`));
        await rejects(
          iam.assumeRole({ ...base, policyArns: arns }),
          ValidationError,
          /at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10/,
        );
        await rejects(
          iam.assumeRole({ ...base, policyArns: [POLICY_ARN("Ghost")] }),
          MalformedPolicyDocumentError,
          `Policy ${POLICY_ARN("Ghost")} does not exist or is not attachable.`,
        );
        await iam.createPolicy({ policyName: "Real", path: "/a/", policyDocument: doc(allow("s3:*")) });
        await rejects(
          iam.assumeRole({ ...base, policyArns: [POLICY_ARN("Real")] }),
          MalformedPolicyDocumentError,
          /does not exist/, // the path is part of the ARN
        );
        // A caller the role does not trust is refused before the policies are looked at.
        const bob = (await userWithKey(iam, "bob")).principal;
        await rejects(
          iam.assumeRole({ ...base, caller: bob, policyArns: [POLICY_ARN("Ghost")] }),
          AccessDeniedError,
        );
        // ~1,900 characters of inline policy fit alone, not with ten ARNs beside it.
        const big = doc(allow("rds-db:connect", `${DB_ARN}${"x".repeat(1800)}`));
        const alone = await iam.assumeRole({ ...base, policy: big });
        assert.ok((alone.packedPolicySize ?? 0) > 90 && (alone.packedPolicySize ?? 0) <= 100);
        await rejects(
          iam.assumeRole({ ...base, policy: big, policyArns: arns.slice(0, 10) }),
          PackedPolicyTooLargeError,
          /^Packed policy consumes 1\d\d% of allotted space/,
        );
      }));

    it("session tags: aws:PrincipalTag of the session, over the role's tags; sts:TagSession required", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createRole({
          roleName: "dba",
          assumeRolePolicyDocument: trust(principal.arn),
          tags: [
            { key: "team", value: "web" },
            { key: "env", value: "prod" },
          ],
        });
        const dbUser = (name: string) =>
          `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/${name}`;
        await iam.putRolePolicy({
          roleName: "dba",
          policyName: "team-db-user",
          policyDocument: doc(allow("rds-db:connect", dbUser(`\${aws:PrincipalTag/team}`))),
        });
        const base = { caller: principal, roleArn: ROLE, roleSessionName: "tagged" };
        const tags = [{ key: "TEAM", value: "db" }];
        await rejects(
          iam.assumeRole({ ...base, tags }),
          AccessDeniedError,
          `User: ${principal.arn} is not authorized to perform: sts:TagSession on resource: ${ROLE}`,
        );
        const plain = await iam.assumeRole(base);
        const plainSession = (await iam.lookupCredential(plain.credentials.accessKeyId))?.principal;
        assert.ok(plainSession);
        assert.equal(plain.packedPolicySize, undefined);

        await iam.updateAssumeRolePolicy({
          roleName: "dba",
          policyDocument: doc(
            { Effect: "Allow", Principal: { AWS: principal.arn }, Action: "sts:AssumeRole" },
            {
              Effect: "Allow",
              Principal: { AWS: principal.arn },
              Action: "sts:TagSession",
              Condition: {
                StringEquals: { "aws:RequestTag/team": ["db", "ops"] },
                "ForAllValues:StringEquals": { "aws:TagKeys": ["team", "TEAM"] },
              },
            },
          ),
        });
        const r = await iam.assumeRole({ ...base, tags });
        assert.equal(r.packedPolicySize, Math.ceil((6 / 2048) * 100));
        const session = (await iam.lookupCredential(r.credentials.accessKeyId))?.principal;
        assert.ok(session);
        const set = await iam.policySetFor(session);
        assert.deepEqual(set?.principal.tags, { TEAM: "db", env: "prod" }, "TEAM replaces the role's team");
        assert.equal(await decide(iam, session, connect(dbUser("db"))), "allowed");
        assert.equal(await decide(iam, session, connect(dbUser("web"))), "implicitDeny");
        // The untagged session still has the role's own tag.
        assert.equal(await decide(iam, plainSession, connect(dbUser("web"))), "allowed");
        assert.equal(await decide(iam, plainSession, connect(dbUser("db"))), "implicitDeny");

        // aws:RequestTag/* and aws:TagKeys reach the trust policy's sts:TagSession statement.
        await rejects(iam.assumeRole({ ...base, tags: [{ key: "team", value: "web" }] }), AccessDeniedError);
        await rejects(
          iam.assumeRole({
            ...base,
            tags: [
              { key: "team", value: "ops" },
              { key: "cost", value: "1" },
            ],
          }),
          AccessDeniedError,
        );
        await iam.assumeRole({ ...base, tags: [{ key: "team", value: "ops" }] });
        // An explicit Deny of sts:TagSession in the caller's policies refuses too.
        await iam.putUserPolicy({
          userName: "jane",
          policyName: "no-tags",
          policyDocument: doc(deny("sts:TagSession")),
        });
        await rejects(iam.assumeRole({ ...base, tags }), AccessDeniedError, /sts:TagSession/);
        await iam.assumeRole(base);
      }));

    it("session tags are validated like STS: 50 at most, lengths, duplicates, transitive keys", () =>
      withEnv(async ({ iam }) => {
        const { principal } = await userWithKey(iam, "jane");
        await iam.createRole({
          roleName: "dba",
          assumeRolePolicyDocument: doc({
            Effect: "Allow",
            Principal: { AWS: principal.arn },
            Action: ["sts:AssumeRole", "sts:TagSession"],
          }),
        });
        const base = { caller: principal, roleArn: ROLE, roleSessionName: "s1" };
        const many = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: "v" }));
        const fifty = await iam.assumeRole({ ...base, tags: many(50) });
        assert.ok(fifty.packedPolicySize);
        await rejects(
          iam.assumeRole({ ...base, tags: many(51) }),
          ValidationError,
          /at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50/,
        );
        await rejects(
          iam.assumeRole({ ...base, tags: [{ key: "k".repeat(129), value: "v" }] }),
          ValidationError,
          /at 'tags.1.member.key'.*less than or equal to 128/,
        );
        await iam.assumeRole({ ...base, tags: [{ key: "k".repeat(128), value: "v".repeat(256) }] });
        await rejects(
          iam.assumeRole({ ...base, tags: [{ key: "k", value: "v".repeat(257) }] }),
          ValidationError,
          /at 'tags.1.member.value'.*less than or equal to 256/,
        );
        await rejects(
          iam.assumeRole({
            ...base,
            tags: [
              { key: "Team", value: "a" },
              { key: "team", value: "b" },
            ],
          }),
          InvalidParameterValueError,
          "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        );
        await rejects(
          iam.assumeRole({ ...base, tags: [{ key: "team", value: "a" }], transitiveTagKeys: ["cost"] }),
          InvalidParameterValueError,
          "The specified transitive tag key must be included in the requested tags.",
        );
        await rejects(iam.assumeRole({ ...base, transitiveTagKeys: ["team"] }), InvalidParameterValueError);
      }));

    it("transitive session tags survive role chaining and cannot be overridden", () =>
      withEnv(async ({ iam, repo }) => {
        const { principal } = await userWithKey(iam, "jane");
        const ROLE_B = `arn:aws:iam::${ACCOUNT}:role/reader`;
        const tagging = (...who: string[]) =>
          doc({ Effect: "Allow", Principal: { AWS: who }, Action: ["sts:AssumeRole", "sts:TagSession"] });
        await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: tagging(principal.arn) });
        // Without sts:TagSession, a session that carries transitive tags cannot assume the role.
        await iam.createRole({
          roleName: "reader",
          assumeRolePolicyDocument: trust(ROLE, ROLE_B),
          tags: [{ key: "team", value: "role-tag" }],
        });
        await iam.putRolePolicy({
          roleName: "reader",
          policyName: "team",
          policyDocument: doc(
            allow("rds-db:connect", DB_ARN, {
              Condition: { StringEquals: { "aws:PrincipalTag/team": "db" } },
            }),
          ),
        });
        const first = await iam.assumeRole({
          caller: principal,
          roleArn: ROLE,
          roleSessionName: "first",
          tags: [
            { key: "Team", value: "db" },
            { key: "cost", value: "42" },
          ],
          transitiveTagKeys: ["team"],
        });
        const stored = await repo.getSession(first.credentials.accessKeyId);
        assert.deepEqual(stored?.transitiveTagKeys, ["Team"]);
        assert.deepEqual(stored?.sessionTags, [
          { key: "Team", value: "db" },
          { key: "cost", value: "42" },
        ]);
        const firstSession = (await iam.lookupCredential(first.credentials.accessKeyId))?.principal;
        assert.ok(firstSession);
        await rejects(
          iam.assumeRole({ caller: firstSession, roleArn: ROLE_B, roleSessionName: "second" }),
          AccessDeniedError,
          /sts:TagSession/,
        );
        await iam.updateAssumeRolePolicy({ roleName: "reader", policyDocument: tagging(ROLE, ROLE_B) });

        const second = await iam.assumeRole({
          caller: firstSession,
          roleArn: ROLE_B,
          roleSessionName: "second",
        });
        const secondSession = (await iam.lookupCredential(second.credentials.accessKeyId))?.principal;
        assert.ok(secondSession);
        const set = await iam.policySetFor(secondSession);
        assert.deepEqual(
          set?.principal.tags,
          { Team: "db" },
          "transitive Team replaces the role's team; cost stays behind",
        );
        assert.equal(await decide(iam, secondSession), "allowed");

        // The inherited tag cannot be set again, in any case; other tags can be added.
        await rejects(
          iam.assumeRole({
            caller: firstSession,
            roleArn: ROLE_B,
            roleSessionName: "override",
            tags: [{ key: "TEAM", value: "web" }],
          }),
          InvalidParameterValueError,
          "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
        );
        const added = await iam.assumeRole({
          caller: firstSession,
          roleArn: ROLE_B,
          roleSessionName: "added",
          tags: [{ key: "cost", value: "7" }],
        });
        const addedSession = (await iam.lookupCredential(added.credentials.accessKeyId))?.principal;
        assert.ok(addedSession);
        assert.deepEqual((await iam.policySetFor(addedSession))?.principal.tags, { Team: "db", cost: "7" });

        // And on down the chain: the second session passes Team on again.
        const third = await iam.assumeRole({
          caller: secondSession,
          roleArn: ROLE_B,
          roleSessionName: "third",
        });
        const thirdSession = (await iam.lookupCredential(third.credentials.accessKeyId))?.principal;
        assert.ok(thirdSession);
        assert.deepEqual((await iam.policySetFor(thirdSession))?.principal.tags, { Team: "db" });
        assert.equal(await decide(iam, thirdSession), "allowed");
        // A session without transitive tags does not pass its role's tags on.
        const untagged = await iam.assumeRole({ caller: principal, roleArn: ROLE, roleSessionName: "plain" });
        const untaggedSession = (await iam.lookupCredential(untagged.credentials.accessKeyId))?.principal;
        assert.ok(untaggedSession);
        const fourth = await iam.assumeRole({
          caller: untaggedSession,
          roleArn: ROLE_B,
          roleSessionName: "fourth",
        });
        const fourthSession = (await iam.lookupCredential(fourth.credentials.accessKeyId))?.principal;
        assert.ok(fourthSession);
        assert.equal(await decide(iam, fourthSession), "implicitDeny");
      }));

    it("GetSessionToken: users only, 900..129600 s (default 43200), ends with the user", () =>
      withEnv(async ({ iam, clock }) => {
        const { key, principal } = await userWithKey(iam, "jane");
        await rejects(iam.getSessionToken({ caller: principal, durationSeconds: 899 }), ValidationError);
        await rejects(iam.getSessionToken({ caller: principal, durationSeconds: 129601 }), ValidationError);
        const s = await iam.getSessionToken({ caller: principal });
        assert.equal(s.credentials.expiration.getTime(), clock.now().getTime() + 43200_000);
        const cred = await iam.lookupCredential(s.credentials.accessKeyId);
        assert.ok(cred);
        assert.equal(cred.principal.type, "user");
        assert.equal(cred.principal.arn, principal.arn);
        assert.equal(cred.sessionToken, s.credentials.sessionToken);
        await rejects(iam.getSessionToken({ caller: cred.principal }), AccessDeniedError);
        await iam.createRole({ roleName: "dba", assumeRolePolicyDocument: trust(principal.arn) });
        const r = await iam.assumeRole({ caller: principal, roleArn: ROLE, roleSessionName: "s1" });
        const roleCred = await iam.lookupCredential(r.credentials.accessKeyId);
        assert.ok(roleCred);
        await rejects(iam.getSessionToken({ caller: roleCred.principal }), AccessDeniedError);

        await iam.deleteAccessKey({ userName: "jane", accessKeyId: key.accessKeyId });
        await iam.deleteUser({ userName: "jane" });
        assert.equal(await iam.lookupCredential(s.credentials.accessKeyId), undefined);
        assert.equal(await iam.policySetFor(cred.principal), undefined);
      }));

    it("expired sessions are still reported as expired, then purged a day later", () =>
      withEnv(async ({ iam, clock }) => {
        const { principal } = await userWithKey(iam, "jane");
        const s = await iam.getSessionToken({ caller: principal, durationSeconds: 900 });
        clock.advance(3600);
        const expired = await iam.lookupCredential(s.credentials.accessKeyId);
        assert.ok(expired?.expiresAt && expired.expiresAt < clock.now());
        clock.advance(2 * 86400);
        await iam.getSessionToken({ caller: principal });
        assert.equal(await iam.lookupCredential(s.credentials.accessKeyId), undefined);
      }));
  });

  describe(`${name}: OpenID Connect providers`, () => {
    const URL = "https://oidc.example.com/id/ABC";
    const ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/id/ABC`;
    it("stores providers by URL: client ids, thumbprints, tags, static keys; a second instance sees changes", () =>
      withEnv(async ({ iam, repo, store }) => {
        const r = await iam.createOpenIdConnectProvider({
          url: URL,
          clientIdList: ["sts.amazonaws.com"],
          thumbprintList: ["a".repeat(40)],
          tags: [{ key: "cluster", value: "one" }],
        });
        assert.equal(r.arn, ARN);
        await rejects(iam.createOpenIdConnectProvider({ url: URL }), EntityAlreadyExistsError);
        // Host names compare without regard to case, paths exactly.
        await rejects(
          iam.createOpenIdConnectProvider({ url: "https://OIDC.example.com/id/ABC" }),
          EntityAlreadyExistsError,
        );
        await iam.createOpenIdConnectProvider({ url: "https://oidc.example.com/id/abc" });
        await iam.addClientIdToOpenIdConnectProvider({ openIdConnectProviderArn: ARN, clientId: "second" });
        await iam.tagOpenIdConnectProvider({
          openIdConnectProviderArn: ARN,
          tags: [{ key: "team", value: "db" }],
        });
        const got = await iam.getOpenIdConnectProvider({ openIdConnectProviderArn: ARN });
        assert.deepEqual(got.clientIdList, ["sts.amazonaws.com", "second"]);
        assert.deepEqual(got.thumbprintList, ["a".repeat(40)]);
        assert.deepEqual(got.tags, [
          { key: "cluster", value: "one" },
          { key: "team", value: "db" },
        ]);
        assert.deepEqual(
          (await iam.listOpenIdConnectProviders()).map((p) => p.arn),
          [
            `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/id/ABC`,
            `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.example.com/id/abc`,
          ],
        );
        const jwks = JSON.stringify({
          keys: [
            {
              kty: "EC",
              crv: "P-256",
              x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
              y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
              kid: "k",
            },
          ],
        });
        await iam.putOpenIdConnectProviderJwks({ openIdConnectProviderArn: ARN, jwks });
        const second = await store.second();
        try {
          assert.equal((await second.getOidcProvider("oidc.example.com/id/ABC"))?.staticJwks, jwks);
        } finally {
          await second.close();
        }
        await iam.deleteOpenIdConnectProviderJwks({ openIdConnectProviderArn: ARN });
        assert.equal(await iam.getOpenIdConnectProviderJwks({ openIdConnectProviderArn: ARN }), undefined);
        await iam.deleteOpenIdConnectProvider({ openIdConnectProviderArn: ARN });
        await rejects(iam.getOpenIdConnectProvider({ openIdConnectProviderArn: ARN }), NoSuchEntityError);
        await rejects(iam.deleteOpenIdConnectProvider({ openIdConnectProviderArn: ARN }), NoSuchEntityError);
        assert.equal(await repo.getOidcProvider("oidc.example.com/id/ABC"), undefined);
      }));

    it("the client-id quota holds under concurrent additions", () =>
      withEnv(async ({ iam }) => {
        const ids = Array.from({ length: 99 }, (_, i) => `client-${i}`);
        await iam.createOpenIdConnectProvider({ url: URL, clientIdList: ids });
        const results = await Promise.allSettled(
          ["x", "y", "z"].map((clientId) =>
            iam.addClientIdToOpenIdConnectProvider({ openIdConnectProviderArn: ARN, clientId }),
          ),
        );
        assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
        for (const r of results)
          if (r.status === "rejected") assert.ok(r.reason instanceof LimitExceededError);
        assert.equal(
          (await iam.getOpenIdConnectProvider({ openIdConnectProviderArn: ARN })).clientIdList.length,
          100,
        );
      }));

    it("a web-identity session keeps its token's claims", () =>
      withEnv(async ({ repo, clock }) => {
        const claims = {
          provider: "oidc.example.com/id/ABC",
          subject: "sub-1",
          audience: "sts.amazonaws.com",
          amr: ["pwd"],
        };
        await repo.insertSession({
          accessKeyId: "ASIAOIDCCONFORMANCE1",
          sealedSecret: "s",
          sealedSessionToken: "t",
          subject: { kind: "role", roleId: "AROAXXXXXXXXXXXXXXXXX", sessionName: "pod" },
          webIdentity: claims,
          createDate: clock.now(),
          expiresAt: new Date(clock.now().getTime() + 900_000),
        });
        assert.deepEqual((await repo.getSession("ASIAOIDCCONFORMANCE1"))?.webIdentity, claims);
      }));
  });
}
