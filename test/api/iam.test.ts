import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  AddUserToGroupCommand,
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  CreateAccessKeyCommand,
  CreateGroupCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  CreateUserCommand,
  DeleteAccessKeyCommand,
  DeleteGroupCommand,
  DeleteGroupPolicyCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteRoleCommand,
  DeleteRolePermissionsBoundaryCommand,
  DeleteRolePolicyCommand,
  DeleteUserCommand,
  DeleteUserPermissionsBoundaryCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetAccessKeyLastUsedCommand,
  GetGroupCommand,
  GetGroupPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  type IAMClient,
  ListAccessKeysCommand,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListGroupPoliciesCommand,
  ListGroupsCommand,
  ListGroupsForUserCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListRolePoliciesCommand,
  ListRolesCommand,
  ListRoleTagsCommand,
  ListUserPoliciesCommand,
  ListUsersCommand,
  ListUserTagsCommand,
  PutGroupPolicyCommand,
  PutRolePermissionsBoundaryCommand,
  PutRolePolicyCommand,
  PutUserPermissionsBoundaryCommand,
  PutUserPolicyCommand,
  RemoveUserFromGroupCommand,
  SetDefaultPolicyVersionCommand,
  SimulateCustomPolicyCommand,
  SimulatePrincipalPolicyCommand,
  TagRoleCommand,
  TagUserCommand,
  UntagRoleCommand,
  UntagUserCommand,
  UpdateAccessKeyCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateGroupCommand,
  UpdateRoleCommand,
  UpdateUserCommand,
} from "@aws-sdk/client-iam";
import { ACCOUNT, errorOf, type Harness, policy, startHarness } from "./helpers.js";

const allowAll = policy({ Effect: "Allow", Action: "*", Resource: "*" });
const trustAccount = policy({
  Effect: "Allow",
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: "sts:AssumeRole",
});

describe("IAM actions through @aws-sdk/client-iam", () => {
  let h: Harness;
  let iam: IAMClient;
  before(async () => {
    h = await startHarness();
    iam = h.clients().iam;
  });
  after(() => h.dispose());

  it("creates, reads, lists, renames and deletes users", async () => {
    const created = await iam.send(new CreateUserCommand({ UserName: "u1", Path: "/eng/" }));
    assert.equal(created.User?.UserName, "u1");
    assert.equal(created.User?.Path, "/eng/");
    assert.equal(created.User?.Arn, `arn:aws:iam::${ACCOUNT}:user/eng/u1`);
    assert.match(created.User?.UserId ?? "", /^AIDA/);
    assert.ok(created.User?.CreateDate instanceof Date);

    const got = await iam.send(new GetUserCommand({ UserName: "u1" }));
    assert.equal(got.User?.Arn, created.User?.Arn);

    const dup = await errorOf(iam.send(new CreateUserCommand({ UserName: "u1" })));
    assert.equal(dup.name, "EntityAlreadyExistsException");
    assert.equal(dup.status, 409);

    const listed = await iam.send(new ListUsersCommand({ PathPrefix: "/eng/" }));
    assert.deepEqual(
      listed.Users?.map((u) => u.UserName),
      ["u1"],
    );

    await iam.send(new UpdateUserCommand({ UserName: "u1", NewUserName: "u1b", NewPath: "/ops/" }));
    const renamed = await iam.send(new GetUserCommand({ UserName: "u1b" }));
    assert.equal(renamed.User?.Arn, `arn:aws:iam::${ACCOUNT}:user/ops/u1b`);
    assert.equal(renamed.User?.UserId, created.User?.UserId);

    await iam.send(new DeleteUserCommand({ UserName: "u1b" }));
    const gone = await errorOf(iam.send(new GetUserCommand({ UserName: "u1b" })));
    assert.equal(gone.name, "NoSuchEntityException");
    assert.equal(gone.message, "The user with name u1b cannot be found.");
    assert.equal(gone.status, 404);
  });

  it("UpdateUser and UpdateGroup need permission on both the old and the new ARN", async () => {
    const keysFor = async (userName: string, document: string) => {
      await iam.send(new CreateUserCommand({ UserName: userName }));
      await iam.send(
        new PutUserPolicyCommand({ UserName: userName, PolicyName: "p", PolicyDocument: document }),
      );
      const k = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
      return h.clients({
        accessKeyId: k.AccessKey?.AccessKeyId ?? "",
        secretAccessKey: k.AccessKey?.SecretAccessKey ?? "",
      }).iam;
    };
    // The common self-service grant: a user may update itself, and connect as the DB user of its name.
    const alice = await keysFor(
      "ren-alice",
      policy({
        Effect: "Allow",
        Action: ["iam:UpdateUser", "iam:GetUser"],
        Resource: `arn:aws:iam::${ACCOUNT}:user/\${aws:username}`,
      }),
    );
    await iam.send(new CreateUserCommand({ UserName: "ren-admin" }));
    const renamed = await errorOf(
      alice.send(new UpdateUserCommand({ UserName: "ren-alice", NewUserName: "ren-dba" })),
    );
    assert.equal(renamed.name, "AccessDenied");
    assert.equal(
      renamed.message,
      `User: arn:aws:iam::${ACCOUNT}:user/ren-alice is not authorized to perform: iam:UpdateUser on resource: arn:aws:iam::${ACCOUNT}:user/ren-dba`,
    );
    const moved = await errorOf(
      alice.send(new UpdateUserCommand({ UserName: "ren-alice", NewPath: "/elsewhere/" })),
    );
    assert.equal(moved.name, "AccessDenied");
    assert.match(moved.message, /on resource: arn:aws:iam::\d{12}:user\/elsewhere\/ren-alice$/);
    // Nothing changed.
    assert.equal((await iam.send(new GetUserCommand({ UserName: "ren-alice" }))).User?.Path, "/");
    // Naming itself again is no change of ARN, so the one grant suffices.
    await alice.send(
      new UpdateUserCommand({ UserName: "ren-alice", NewUserName: "ren-alice", NewPath: "/" }),
    );

    // Allowed on both the old and the new ARN: the rename and the move work.
    const hr = await keysFor(
      "ren-hr",
      policy({
        Effect: "Allow",
        Action: ["iam:UpdateUser", "iam:UpdateGroup"],
        Resource: [
          `arn:aws:iam::${ACCOUNT}:user/ren-carol`,
          `arn:aws:iam::${ACCOUNT}:user/team/ren-carol2`,
          `arn:aws:iam::${ACCOUNT}:group/ren-g1`,
        ],
      }),
    );
    await iam.send(new CreateUserCommand({ UserName: "ren-carol" }));
    await hr.send(
      new UpdateUserCommand({ UserName: "ren-carol", NewUserName: "ren-carol2", NewPath: "/team/" }),
    );
    assert.equal(
      (await iam.send(new GetUserCommand({ UserName: "ren-carol2" }))).User?.Arn,
      `arn:aws:iam::${ACCOUNT}:user/team/ren-carol2`,
    );
    // Groups: allowed on the old name only, the rename is refused; with both it works.
    await iam.send(new CreateGroupCommand({ GroupName: "ren-g1" }));
    const group = await errorOf(
      hr.send(new UpdateGroupCommand({ GroupName: "ren-g1", NewGroupName: "ren-g2" })),
    );
    assert.equal(group.name, "AccessDenied");
    assert.match(group.message, /iam:UpdateGroup on resource: arn:aws:iam::\d{12}:group\/ren-g2$/);
    const groupMove = await errorOf(hr.send(new UpdateGroupCommand({ GroupName: "ren-g1", NewPath: "/x/" })));
    assert.equal(groupMove.name, "AccessDenied");
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "ren-hr",
        PolicyName: "p2",
        PolicyDocument: policy({
          Effect: "Allow",
          Action: "iam:UpdateGroup",
          Resource: `arn:aws:iam::${ACCOUNT}:group/ren-g2`,
        }),
      }),
    );
    await hr.send(new UpdateGroupCommand({ GroupName: "ren-g1", NewGroupName: "ren-g2" }));
    assert.equal((await iam.send(new GetGroupCommand({ GroupName: "ren-g2" }))).Group?.GroupName, "ren-g2");
  });

  it("GetUser without UserName answers for the caller", async () => {
    const me = await iam.send(new GetUserCommand({}));
    assert.equal(me.User?.UserName, "root-admin");
  });

  it("tags and untags users and roles", async () => {
    await iam.send(new CreateUserCommand({ UserName: "tagged", Tags: [{ Key: "team", Value: "a" }] }));
    await iam.send(new TagUserCommand({ UserName: "tagged", Tags: [{ Key: "env", Value: "prod" }] }));
    const tags = await iam.send(new ListUserTagsCommand({ UserName: "tagged" }));
    assert.deepEqual(tags.Tags, [
      { Key: "env", Value: "prod" },
      { Key: "team", Value: "a" },
    ]);
    assert.equal(tags.IsTruncated, false);
    await iam.send(new UntagUserCommand({ UserName: "tagged", TagKeys: ["team"] }));
    const user = await iam.send(new GetUserCommand({ UserName: "tagged" }));
    assert.deepEqual(user.User?.Tags, [{ Key: "env", Value: "prod" }]);

    await iam.send(
      new CreateRoleCommand({ RoleName: "tagged-role", AssumeRolePolicyDocument: trustAccount }),
    );
    await iam.send(new TagRoleCommand({ RoleName: "tagged-role", Tags: [{ Key: "k", Value: "v" }] }));
    assert.deepEqual((await iam.send(new ListRoleTagsCommand({ RoleName: "tagged-role" }))).Tags, [
      { Key: "k", Value: "v" },
    ]);
    await iam.send(new UntagRoleCommand({ RoleName: "tagged-role", TagKeys: ["k"] }));
    assert.deepEqual((await iam.send(new ListRoleTagsCommand({ RoleName: "tagged-role" }))).Tags, []);
    await iam.send(new DeleteRoleCommand({ RoleName: "tagged-role" }));
    await iam.send(new DeleteUserCommand({ UserName: "tagged" }));
  });

  it("manages access keys and reports last use", async () => {
    await iam.send(new CreateUserCommand({ UserName: "keys" }));
    const k = await iam.send(new CreateAccessKeyCommand({ UserName: "keys" }));
    assert.match(k.AccessKey?.AccessKeyId ?? "", /^AKIA[A-Z0-9]{16}$/);
    assert.equal(k.AccessKey?.SecretAccessKey?.length, 40);
    assert.equal(k.AccessKey?.Status, "Active");
    assert.equal(k.AccessKey?.UserName, "keys");

    const listed = await iam.send(new ListAccessKeysCommand({ UserName: "keys" }));
    assert.deepEqual(
      listed.AccessKeyMetadata?.map((m) => [m.AccessKeyId, m.Status]),
      [[k.AccessKey?.AccessKeyId, "Active"]],
    );
    assert.equal(JSON.stringify(listed).includes(k.AccessKey?.SecretAccessKey ?? "x"), false);

    const keyId = k.AccessKey?.AccessKeyId ?? "";
    const unused = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: keyId }));
    assert.equal(unused.UserName, "keys");
    assert.equal(unused.AccessKeyLastUsed?.ServiceName, "N/A");

    await iam.send(new UpdateAccessKeyCommand({ UserName: "keys", AccessKeyId: keyId, Status: "Inactive" }));
    const after1 = await iam.send(new ListAccessKeysCommand({ UserName: "keys" }));
    assert.equal(after1.AccessKeyMetadata?.[0]?.Status, "Inactive");

    const badStatus = await errorOf(
      iam.send(
        new UpdateAccessKeyCommand({ UserName: "keys", AccessKeyId: keyId, Status: "Paused" as "Active" }),
      ),
    );
    assert.equal(badStatus.name, "ValidationError");

    await iam.send(new CreateAccessKeyCommand({ UserName: "keys" }));
    const third = await errorOf(iam.send(new CreateAccessKeyCommand({ UserName: "keys" })));
    assert.equal(third.name, "LimitExceededException");
    assert.equal(third.status, 409);

    const conflict = await errorOf(iam.send(new DeleteUserCommand({ UserName: "keys" })));
    assert.equal(conflict.name, "DeleteConflictException");

    for (const m of (await iam.send(new ListAccessKeysCommand({ UserName: "keys" }))).AccessKeyMetadata ??
      []) {
      await iam.send(new DeleteAccessKeyCommand({ UserName: "keys", AccessKeyId: m.AccessKeyId }));
    }
    await iam.send(new DeleteUserCommand({ UserName: "keys" }));
  });

  it("records the admin key's use by the API", async () => {
    await iam.send(new ListUsersCommand({}));
    const used = await iam.send(new GetAccessKeyLastUsedCommand({ AccessKeyId: h.admin.accessKeyId }));
    assert.equal(used.AccessKeyLastUsed?.ServiceName, "iam");
    assert.equal(used.AccessKeyLastUsed?.Region, "us-east-1");
    assert.ok(used.AccessKeyLastUsed?.LastUsedDate instanceof Date);
  });

  it("manages groups and membership", async () => {
    await iam.send(new CreateUserCommand({ UserName: "member" }));
    const g = await iam.send(new CreateGroupCommand({ GroupName: "devs" }));
    assert.equal(g.Group?.Arn, `arn:aws:iam::${ACCOUNT}:group/devs`);
    assert.match(g.Group?.GroupId ?? "", /^AGPA/);
    await iam.send(new AddUserToGroupCommand({ GroupName: "devs", UserName: "member" }));
    const got = await iam.send(new GetGroupCommand({ GroupName: "devs" }));
    assert.equal(got.Group?.GroupName, "devs");
    assert.deepEqual(
      got.Users?.map((u) => u.UserName),
      ["member"],
    );
    assert.deepEqual(
      (await iam.send(new ListGroupsForUserCommand({ UserName: "member" }))).Groups?.map((x) => x.GroupName),
      ["devs"],
    );
    assert.ok((await iam.send(new ListGroupsCommand({}))).Groups?.some((x) => x.GroupName === "devs"));

    await iam.send(
      new PutGroupPolicyCommand({ GroupName: "devs", PolicyName: "read", PolicyDocument: allowAll }),
    );
    assert.deepEqual((await iam.send(new ListGroupPoliciesCommand({ GroupName: "devs" }))).PolicyNames, [
      "read",
    ]);
    const gp = await iam.send(new GetGroupPolicyCommand({ GroupName: "devs", PolicyName: "read" }));
    assert.equal(gp.GroupName, "devs");
    assert.deepEqual(JSON.parse(decodeURIComponent(gp.PolicyDocument ?? "")), JSON.parse(allowAll));

    const conflict = await errorOf(iam.send(new DeleteGroupCommand({ GroupName: "devs" })));
    assert.equal(conflict.name, "DeleteConflictException");
    await iam.send(new DeleteGroupPolicyCommand({ GroupName: "devs", PolicyName: "read" }));
    await iam.send(new RemoveUserFromGroupCommand({ GroupName: "devs", UserName: "member" }));
    await iam.send(new UpdateGroupCommand({ GroupName: "devs", NewGroupName: "developers" }));
    await iam.send(new DeleteGroupCommand({ GroupName: "developers" }));
    await iam.send(new DeleteUserCommand({ UserName: "member" }));
  });

  it("manages roles and trust policies", async () => {
    const r = await iam.send(
      new CreateRoleCommand({
        RoleName: "reader",
        AssumeRolePolicyDocument: trustAccount,
        Description: "reads",
        MaxSessionDuration: 7200,
        Tags: [{ Key: "t", Value: "1" }],
      }),
    );
    assert.equal(r.Role?.Arn, `arn:aws:iam::${ACCOUNT}:role/reader`);
    assert.match(r.Role?.RoleId ?? "", /^AROA/);
    assert.deepEqual(
      JSON.parse(decodeURIComponent(r.Role?.AssumeRolePolicyDocument ?? "")),
      JSON.parse(trustAccount),
    );
    const got = await iam.send(new GetRoleCommand({ RoleName: "reader" }));
    assert.equal(got.Role?.MaxSessionDuration, 7200);
    assert.equal(got.Role?.Description, "reads");
    assert.deepEqual(got.Role?.Tags, [{ Key: "t", Value: "1" }]);
    await iam.send(new UpdateRoleCommand({ RoleName: "reader", Description: "reads more" }));
    await iam.send(new CreateUserCommand({ UserName: "x" }));
    const newTrust = policy({
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${ACCOUNT}:user/x` },
      Action: "sts:AssumeRole",
    });
    await iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: "reader", PolicyDocument: newTrust }));
    const updated = await iam.send(new GetRoleCommand({ RoleName: "reader" }));
    assert.equal(updated.Role?.Description, "reads more");
    assert.deepEqual(
      JSON.parse(decodeURIComponent(updated.Role?.AssumeRolePolicyDocument ?? "")),
      JSON.parse(newTrust),
    );
    assert.ok((await iam.send(new ListRolesCommand({}))).Roles?.some((x) => x.RoleName === "reader"));

    await iam.send(
      new PutRolePolicyCommand({ RoleName: "reader", PolicyName: "p", PolicyDocument: allowAll }),
    );
    assert.deepEqual((await iam.send(new ListRolePoliciesCommand({ RoleName: "reader" }))).PolicyNames, [
      "p",
    ]);
    const rp = await iam.send(new GetRolePolicyCommand({ RoleName: "reader", PolicyName: "p" }));
    assert.equal(rp.RoleName, "reader");
    await iam.send(new DeleteRolePolicyCommand({ RoleName: "reader", PolicyName: "p" }));

    const badTrust = await errorOf(
      iam.send(new CreateRoleCommand({ RoleName: "bad", AssumeRolePolicyDocument: allowAll })),
    );
    assert.equal(badTrust.name, "MalformedPolicyDocumentException");
    await iam.send(new DeleteRoleCommand({ RoleName: "reader" }));
  });

  it("manages inline user policies", async () => {
    await iam.send(new CreateUserCommand({ UserName: "inline" }));
    await iam.send(
      new PutUserPolicyCommand({ UserName: "inline", PolicyName: "p1", PolicyDocument: allowAll }),
    );
    assert.deepEqual((await iam.send(new ListUserPoliciesCommand({ UserName: "inline" }))).PolicyNames, [
      "p1",
    ]);
    const p = await iam.send(new GetUserPolicyCommand({ UserName: "inline", PolicyName: "p1" }));
    assert.equal(p.UserName, "inline");
    assert.equal(p.PolicyName, "p1");
    assert.deepEqual(JSON.parse(decodeURIComponent(p.PolicyDocument ?? "")), JSON.parse(allowAll));
    const bad = await errorOf(
      iam.send(
        new PutUserPolicyCommand({ UserName: "inline", PolicyName: "p2", PolicyDocument: "{not json" }),
      ),
    );
    assert.equal(bad.name, "MalformedPolicyDocumentException");
    assert.equal(bad.status, 400);
    const missing = await errorOf(
      iam.send(new GetUserPolicyCommand({ UserName: "inline", PolicyName: "nope" })),
    );
    assert.equal(missing.name, "NoSuchEntityException");
    await iam.send(new DeleteUserPolicyCommand({ UserName: "inline", PolicyName: "p1" }));
    await iam.send(new DeleteUserCommand({ UserName: "inline" }));
  });

  it("manages managed policies, versions, attachments and boundaries", async () => {
    const created = await iam.send(
      new CreatePolicyCommand({ PolicyName: "managed", PolicyDocument: allowAll, Description: "d" }),
    );
    const arn = created.Policy?.Arn ?? "";
    assert.equal(arn, `arn:aws:iam::${ACCOUNT}:policy/managed`);
    assert.equal(created.Policy?.DefaultVersionId, "v1");
    assert.equal(created.Policy?.IsAttachable, true);
    assert.equal(created.Policy?.AttachmentCount, 0);

    const v2doc = policy({ Effect: "Allow", Action: "rds-db:connect", Resource: "*" });
    const v2 = await iam.send(new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: v2doc }));
    assert.equal(v2.PolicyVersion?.VersionId, "v2");
    assert.equal(v2.PolicyVersion?.IsDefaultVersion, false);
    const versions = await iam.send(new ListPolicyVersionsCommand({ PolicyArn: arn }));
    assert.deepEqual(
      versions.Versions?.map((v) => [v.VersionId, v.IsDefaultVersion]),
      [
        ["v2", false],
        ["v1", true],
      ],
    );
    await iam.send(new SetDefaultPolicyVersionCommand({ PolicyArn: arn, VersionId: "v2" }));
    const gv = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: "v2" }));
    assert.equal(gv.PolicyVersion?.IsDefaultVersion, true);
    assert.deepEqual(JSON.parse(decodeURIComponent(gv.PolicyVersion?.Document ?? "")), JSON.parse(v2doc));
    await iam.send(new DeletePolicyVersionCommand({ PolicyArn: arn, VersionId: "v1" }));
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.DefaultVersionId, "v2");

    await iam.send(new CreateUserCommand({ UserName: "att" }));
    await iam.send(new CreateGroupCommand({ GroupName: "attg" }));
    await iam.send(new CreateRoleCommand({ RoleName: "attr", AssumeRolePolicyDocument: trustAccount }));
    await iam.send(new AttachUserPolicyCommand({ UserName: "att", PolicyArn: arn }));
    await iam.send(new AttachGroupPolicyCommand({ GroupName: "attg", PolicyArn: arn }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: "attr", PolicyArn: arn }));
    assert.deepEqual(
      (await iam.send(new ListAttachedUserPoliciesCommand({ UserName: "att" }))).AttachedPolicies,
      [{ PolicyName: "managed", PolicyArn: arn }],
    );
    assert.equal(
      (await iam.send(new ListAttachedGroupPoliciesCommand({ GroupName: "attg" }))).AttachedPolicies?.length,
      1,
    );
    assert.equal(
      (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: "attr" }))).AttachedPolicies?.length,
      1,
    );
    const entities = await iam.send(new ListEntitiesForPolicyCommand({ PolicyArn: arn }));
    assert.deepEqual(
      entities.PolicyUsers?.map((u) => u.UserName),
      ["att"],
    );
    assert.deepEqual(
      entities.PolicyGroups?.map((g) => g.GroupName),
      ["attg"],
    );
    assert.deepEqual(
      entities.PolicyRoles?.map((r) => r.RoleName),
      ["attr"],
    );
    assert.equal((await iam.send(new GetPolicyCommand({ PolicyArn: arn }))).Policy?.AttachmentCount, 3);
    assert.ok(
      (await iam.send(new ListPoliciesCommand({ Scope: "Local" }))).Policies?.some((p) => p.Arn === arn),
    );
    assert.equal((await iam.send(new ListPoliciesCommand({ Scope: "AWS" }))).Policies?.length, 0);

    const attachedDelete = await errorOf(iam.send(new DeletePolicyCommand({ PolicyArn: arn })));
    assert.equal(attachedDelete.name, "DeleteConflictException");

    await iam.send(new PutUserPermissionsBoundaryCommand({ UserName: "att", PermissionsBoundary: arn }));
    const bounded = await iam.send(new GetUserCommand({ UserName: "att" }));
    assert.deepEqual(bounded.User?.PermissionsBoundary, {
      PermissionsBoundaryType: "PermissionsBoundaryPolicy",
      PermissionsBoundaryArn: arn,
    });
    await iam.send(new DeleteUserPermissionsBoundaryCommand({ UserName: "att" }));
    await iam.send(new PutRolePermissionsBoundaryCommand({ RoleName: "attr", PermissionsBoundary: arn }));
    assert.equal(
      (await iam.send(new GetRoleCommand({ RoleName: "attr" }))).Role?.PermissionsBoundary
        ?.PermissionsBoundaryArn,
      arn,
    );
    await iam.send(new DeleteRolePermissionsBoundaryCommand({ RoleName: "attr" }));

    await iam.send(new DetachUserPolicyCommand({ UserName: "att", PolicyArn: arn }));
    await iam.send(new DetachGroupPolicyCommand({ GroupName: "attg", PolicyArn: arn }));
    await iam.send(new DetachRolePolicyCommand({ RoleName: "attr", PolicyArn: arn }));
    const notAttached = await errorOf(
      iam.send(new DetachUserPolicyCommand({ UserName: "att", PolicyArn: arn })),
    );
    assert.equal(notAttached.name, "NoSuchEntityException");
    await iam.send(new DeletePolicyCommand({ PolicyArn: arn }));
    const gone = await errorOf(iam.send(new GetPolicyCommand({ PolicyArn: arn })));
    assert.equal(gone.name, "NoSuchEntityException");
  });

  it("pages lists with Marker and MaxItems", async () => {
    for (const n of ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e"]) {
      await iam.send(new CreateUserCommand({ UserName: n, Path: "/paged/" }));
    }
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const page = await iam.send(
        new ListUsersCommand({ PathPrefix: "/paged/", MaxItems: 2, Marker: marker }),
      );
      pages++;
      seen.push(...(page.Users ?? []).map((u) => u.UserName ?? ""));
      assert.equal(page.IsTruncated, page.Marker !== undefined);
      marker = page.Marker;
    } while (marker !== undefined);
    assert.deepEqual(seen, ["pg-a", "pg-b", "pg-c", "pg-d", "pg-e"]);
    assert.equal(pages, 3);
    const bad = await errorOf(iam.send(new ListUsersCommand({ MaxItems: 0 })));
    assert.equal(bad.name, "ValidationError");
  });

  it("simulates principal and custom policies", async () => {
    await iam.send(new CreateUserCommand({ UserName: "sim" }));
    await iam.send(
      new PutUserPolicyCommand({
        UserName: "sim",
        PolicyName: "connect",
        PolicyDocument: policy(
          {
            Sid: "AllowConnect",
            Effect: "Allow",
            Action: "rds-db:connect",
            Resource: "*",
            Condition: { StringEquals: { "aws:RequestTag/team": "a" } },
          },
          { Sid: "NoDelete", Effect: "Deny", Action: "iam:DeleteUser", Resource: "*" },
        ),
      }),
    );
    const userArn = `arn:aws:iam::${ACCOUNT}:user/sim`;
    const r = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: userArn,
        ActionNames: ["rds-db:connect", "iam:DeleteUser", "iam:ListUsers"],
        ContextEntries: [
          { ContextKeyName: "aws:RequestTag/team", ContextKeyValues: ["a"], ContextKeyType: "string" },
        ],
      }),
    );
    const byAction = new Map(r.EvaluationResults?.map((e) => [e.EvalActionName, e]));
    assert.equal(byAction.get("rds-db:connect")?.EvalDecision, "allowed");
    assert.deepEqual(byAction.get("rds-db:connect")?.MatchedStatements, [
      { SourcePolicyId: "connect", SourcePolicyType: "user" },
    ]);
    assert.equal(byAction.get("iam:DeleteUser")?.EvalDecision, "explicitDeny");
    assert.equal(byAction.get("iam:ListUsers")?.EvalDecision, "implicitDeny");
    assert.equal(byAction.get("iam:ListUsers")?.EvalResourceName, "*");

    const noContext = await iam.send(
      new SimulatePrincipalPolicyCommand({ PolicySourceArn: userArn, ActionNames: ["rds-db:connect"] }),
    );
    assert.equal(noContext.EvaluationResults?.[0]?.EvalDecision, "implicitDeny");
    assert.deepEqual(noContext.EvaluationResults?.[0]?.MissingContextValues, ["aws:RequestTag/team"]);

    const custom = await iam.send(
      new SimulateCustomPolicyCommand({
        PolicyInputList: [policy({ Effect: "Allow", Action: "rds:Describe*", Resource: "*" })],
        ActionNames: ["rds:DescribeDBInstances", "rds:ModifyDBInstance"],
        ResourceArns: [`arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`],
      }),
    );
    assert.deepEqual(
      custom.EvaluationResults?.map((e) => [e.EvalActionName, e.EvalDecision, e.EvalResourceName]),
      [
        ["rds:DescribeDBInstances", "allowed", `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`],
        ["rds:ModifyDBInstance", "implicitDeny", `arn:aws:rds:us-east-1:${ACCOUNT}:db:orders`],
      ],
    );
    assert.deepEqual(custom.EvaluationResults?.[0]?.MatchedStatements, [
      { SourcePolicyId: "PolicyInputList.1", SourcePolicyType: "none" },
    ]);

    const paged = await iam.send(
      new SimulateCustomPolicyCommand({
        PolicyInputList: [allowAll],
        ActionNames: ["a:b", "a:c", "a:d"],
        MaxItems: 2,
      }),
    );
    assert.equal(paged.EvaluationResults?.length, 2);
    assert.equal(paged.IsTruncated, true);
    const rest = await iam.send(
      new SimulateCustomPolicyCommand({
        PolicyInputList: [allowAll],
        ActionNames: ["a:b", "a:c", "a:d"],
        MaxItems: 2,
        Marker: paged.Marker,
      }),
    );
    assert.deepEqual(
      rest.EvaluationResults?.map((e) => e.EvalActionName),
      ["a:d"],
    );

    await iam.send(new CreateRoleCommand({ RoleName: "simrole", AssumeRolePolicyDocument: trustAccount }));
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: "simrole",
        PolicyName: "rp",
        PolicyDocument: policy({ Effect: "Allow", Action: "rds:ModifyDBInstance", Resource: "*" }),
      }),
    );
    const role = await iam.send(
      new SimulatePrincipalPolicyCommand({
        PolicySourceArn: `arn:aws:iam::${ACCOUNT}:role/simrole`,
        ActionNames: ["rds:ModifyDBInstance"],
      }),
    );
    assert.equal(role.EvaluationResults?.[0]?.EvalDecision, "allowed");
    assert.deepEqual(role.EvaluationResults?.[0]?.MatchedStatements, [
      { SourcePolicyId: "rp", SourcePolicyType: "role" },
    ]);

    const malformed = await errorOf(
      iam.send(new SimulateCustomPolicyCommand({ PolicyInputList: ["{"], ActionNames: ["a:b"] })),
    );
    assert.equal(malformed.name, "MalformedPolicyDocumentException");
  });
});
