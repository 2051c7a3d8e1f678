import { groupArn, parseIamArn, policyArn, roleArn, userArn } from "../iam/arns.js";
import { NoSuchEntityError, ValidationError } from "../iam/errors.js";
import type { PageRequest } from "../iam/paginate.js";
import type { RequestContext } from "../policy/index.js";
import type { ActionCall, ActionSpec, Target } from "./action.js";
import { ApiError } from "./errors.js";
import type { QueryParams } from "./params.js";
import {
  accessKeyMetadataXml,
  attachedXml,
  encodePolicy,
  groupXml,
  pageXml,
  policyXml,
  roleXml,
  tagXml,
  userXml,
  versionXml,
} from "./shapes.js";
import { simulateCustomPolicy, simulatePrincipalPolicy } from "./simulate.js";
import { type XmlObject, xmlList } from "./xml.js";

/**
 * The IAM actions of the admin API: parameters in, control-plane call, result members out.
 * Each action is authorized as `iam:ACTION` on the ARN of the entity it touches; List*
 * actions on the kind's root (`arn:aws:iam::ACCOUNT:user/`), as IAM does.
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
 */

const pageOf = (p: QueryParams): PageRequest => ({ marker: p.str("Marker"), maxItems: p.int("MaxItems") });

/** The ARN of an entity that may not exist (yet): its real path when it does, `/` otherwise. */
async function arnOrDefault(lookup: () => Promise<{ arn: string }>, fallback: string): Promise<string> {
  try {
    return (await lookup()).arn;
  } catch (e) {
    if (e instanceof NoSuchEntityError || e instanceof ValidationError) return fallback;
    throw e;
  }
}

const userTarget = async (c: ActionCall, name: string): Promise<Target> => ({
  resource: await arnOrDefault(() => c.iam.getUser({ userName: name }), userArn(c.iam.account, "/", name)),
});
const groupTarget = async (c: ActionCall, name: string): Promise<Target> => ({
  resource: await arnOrDefault(
    async () => (await c.iam.getGroup({ groupName: name, maxItems: 1 })).group,
    groupArn(c.iam.account, "/", name),
  ),
});
const roleTarget = async (c: ActionCall, name: string): Promise<Target> => ({
  resource: await arnOrDefault(() => c.iam.getRole({ roleName: name }), roleArn(c.iam.account, "/", name)),
});
const rootTarget = (c: ActionCall, kind: "user" | "group" | "role" | "policy"): Target => ({
  resource: `arn:${c.iam.account.partition}:iam::${c.iam.account.accountId}:${kind}/`,
});

/**
 * UpdateUser / UpdateGroup change the entity's ARN: the caller needs the permission on the
 * current ARN and on the one it will have (new name and/or path), as IAM requires. Otherwise
 * a user allowed to update `user/${aws:username}` could take another user's name (and with it
 * grants such as `dbuser:DBI/${aws:username}`) or move out from under a path-scoped Deny.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateUser.html
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateGroup.html
 */
async function renameTargets(
  c: ActionCall,
  current: Promise<Target>,
  kind: "user" | "group",
  nameParam: "NewUserName" | "NewGroupName",
  pathParam: "NewPath",
): Promise<readonly Target[]> {
  const from = await current;
  const newName = c.params.str(nameParam);
  const newPath = c.params.str(pathParam);
  if (newName === undefined && newPath === undefined) return [from];
  const parsed = parseIamArn(c.iam.account, from.resource);
  if (parsed === undefined) return [from];
  const build = kind === "user" ? userArn : groupArn;
  const to = build(c.iam.account, newPath ?? parsed.path, newName ?? parsed.name);
  return to === from.resource ? [from] : [from, { resource: to }];
}

/**
 * Actions on access keys and GetUser may omit UserName: IAM then acts on the user who signed
 * the request.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html
 */
function userNameOrCaller(c: ActionCall): string {
  const named = c.params.str("UserName");
  if (named !== undefined) return named;
  if (c.caller.type === "user") return c.caller.userName;
  throw new ApiError("ValidationError", 400, "Must specify userName when calling with non-User credentials");
}

/** aws:RequestTag/KEY and aws:TagKeys for actions that set tags. */
function tagContext(tags: readonly { key: string; value: string }[] | undefined): RequestContext {
  if (tags === undefined) return {};
  const ctx: Record<string, string | string[]> = { "aws:TagKeys": tags.map((t) => t.key) };
  for (const t of tags) ctx[`aws:RequestTag/${t.key}`] = t.value;
  return ctx;
}

const done = async (work: Promise<unknown>) => {
  await work;
  return undefined;
};

const userActions: Record<string, ActionSpec> = {
  CreateUser: {
    authorize: (c) => ({
      resource: userArn(c.iam.account, c.params.str("Path") ?? "/", c.params.required("UserName")),
      context: tagContext(c.params.tags()),
    }),
    run: async ({ iam, params: p }) => ({
      User: userXml(
        await iam.createUser({
          userName: p.required("UserName"),
          path: p.str("Path"),
          tags: p.tags(),
          permissionsBoundary: p.str("PermissionsBoundary"),
        }),
      ),
    }),
  },
  GetUser: {
    authorize: (c) => userTarget(c, userNameOrCaller(c)),
    run: async (c) => ({ User: userXml(await c.iam.getUser({ userName: userNameOrCaller(c) })) }),
  },
  ListUsers: {
    authorize: (c) => rootTarget(c, "user"),
    run: async ({ iam, params: p }) =>
      pageXml("Users", await iam.listUsers({ pathPrefix: p.str("PathPrefix"), ...pageOf(p) }), (u) =>
        userXml({ ...u, tags: [] }),
      ),
  },
  UpdateUser: {
    authorize: (c) =>
      renameTargets(c, userTarget(c, c.params.required("UserName")), "user", "NewUserName", "NewPath"),
    run: ({ iam, params: p }) =>
      done(
        iam.updateUser({
          userName: p.required("UserName"),
          newUserName: p.str("NewUserName"),
          newPath: p.str("NewPath"),
        }),
      ),
  },
  DeleteUser: {
    authorize: (c) => userTarget(c, c.params.required("UserName")),
    run: ({ iam, params: p }) => done(iam.deleteUser({ userName: p.required("UserName") })),
  },
  TagUser: {
    authorize: async (c) => ({
      ...(await userTarget(c, c.params.required("UserName"))),
      context: tagContext(c.params.tags()),
    }),
    run: ({ iam, params: p }) =>
      done(iam.tagUser({ userName: p.required("UserName"), tags: p.tags() ?? missingList(p, "Tags") })),
  },
  UntagUser: {
    authorize: async (c) => ({
      ...(await userTarget(c, c.params.required("UserName"))),
      context: { "aws:TagKeys": c.params.strings("TagKeys") ?? [] },
    }),
    run: ({ iam, params: p }) =>
      done(
        iam.untagUser({
          userName: p.required("UserName"),
          tagKeys: p.strings("TagKeys") ?? missingList(p, "TagKeys"),
        }),
      ),
  },
  ListUserTags: {
    authorize: (c) => userTarget(c, c.params.required("UserName")),
    run: async ({ iam, params: p }) =>
      pageXml("Tags", await iam.listUserTags({ userName: p.required("UserName"), ...pageOf(p) }), tagXml),
  },
  PutUserPermissionsBoundary: {
    authorize: (c) => userTarget(c, c.params.required("UserName")),
    run: ({ iam, params: p }) =>
      done(
        iam.putUserPermissionsBoundary({
          userName: p.required("UserName"),
          permissionsBoundary: p.required("PermissionsBoundary"),
        }),
      ),
  },
  DeleteUserPermissionsBoundary: {
    authorize: (c) => userTarget(c, c.params.required("UserName")),
    run: ({ iam, params: p }) =>
      done(iam.deleteUserPermissionsBoundary({ userName: p.required("UserName") })),
  },
};

function missingList(p: QueryParams, name: string): never {
  throw p.missing(name);
}

const accessKeyActions: Record<string, ActionSpec> = {
  CreateAccessKey: {
    authorize: (c) => userTarget(c, userNameOrCaller(c)),
    run: async (c) => {
      const k = await c.iam.createAccessKey({ userName: userNameOrCaller(c) });
      return { AccessKey: { ...accessKeyMetadataXml(k), SecretAccessKey: k.secretAccessKey } };
    },
  },
  ListAccessKeys: {
    authorize: (c) => userTarget(c, userNameOrCaller(c)),
    run: async (c) =>
      pageXml(
        "AccessKeyMetadata",
        await c.iam.listAccessKeys({ userName: userNameOrCaller(c), ...pageOf(c.params) }),
        accessKeyMetadataXml,
      ),
  },
  UpdateAccessKey: {
    authorize: (c) => userTarget(c, userNameOrCaller(c)),
    run: (c) =>
      done(
        c.iam.updateAccessKey({
          userName: userNameOrCaller(c),
          accessKeyId: c.params.required("AccessKeyId"),
          status: c.params.required("Status") as "Active" | "Inactive",
        }),
      ),
  },
  DeleteAccessKey: {
    authorize: (c) => userTarget(c, userNameOrCaller(c)),
    run: (c) =>
      done(
        c.iam.deleteAccessKey({
          userName: userNameOrCaller(c),
          accessKeyId: c.params.required("AccessKeyId"),
        }),
      ),
  },
  GetAccessKeyLastUsed: {
    authorize: async (c) => {
      try {
        const { userName } = await c.iam.getAccessKeyLastUsed({
          accessKeyId: c.params.required("AccessKeyId"),
        });
        return userTarget(c, userName);
      } catch (e) {
        if (e instanceof NoSuchEntityError) return rootTarget(c, "user");
        throw e;
      }
    },
    run: async ({ iam, params: p }) => {
      const r = await iam.getAccessKeyLastUsed({ accessKeyId: p.required("AccessKeyId") });
      return {
        UserName: r.userName,
        AccessKeyLastUsed: {
          LastUsedDate: r.accessKeyLastUsed.lastUsedDate,
          ServiceName: r.accessKeyLastUsed.serviceName,
          Region: r.accessKeyLastUsed.region,
        },
      };
    },
  },
};

const groupActions: Record<string, ActionSpec> = {
  CreateGroup: {
    authorize: (c) => ({
      resource: groupArn(c.iam.account, c.params.str("Path") ?? "/", c.params.required("GroupName")),
    }),
    run: async ({ iam, params: p }) => ({
      Group: groupXml(await iam.createGroup({ groupName: p.required("GroupName"), path: p.str("Path") })),
    }),
  },
  GetGroup: {
    authorize: (c) => groupTarget(c, c.params.required("GroupName")),
    run: async ({ iam, params: p }) => {
      const r = await iam.getGroup({ groupName: p.required("GroupName"), ...pageOf(p) });
      return { Group: groupXml(r.group), ...pageXml("Users", r, (u) => userXml({ ...u, tags: [] })) };
    },
  },
  ListGroups: {
    authorize: (c) => rootTarget(c, "group"),
    run: async ({ iam, params: p }) =>
      pageXml("Groups", await iam.listGroups({ pathPrefix: p.str("PathPrefix"), ...pageOf(p) }), groupXml),
  },
  UpdateGroup: {
    authorize: (c) =>
      renameTargets(c, groupTarget(c, c.params.required("GroupName")), "group", "NewGroupName", "NewPath"),
    run: ({ iam, params: p }) =>
      done(
        iam.updateGroup({
          groupName: p.required("GroupName"),
          newGroupName: p.str("NewGroupName"),
          newPath: p.str("NewPath"),
        }),
      ),
  },
  DeleteGroup: {
    authorize: (c) => groupTarget(c, c.params.required("GroupName")),
    run: ({ iam, params: p }) => done(iam.deleteGroup({ groupName: p.required("GroupName") })),
  },
  AddUserToGroup: {
    authorize: (c) => groupTarget(c, c.params.required("GroupName")),
    run: ({ iam, params: p }) =>
      done(iam.addUserToGroup({ groupName: p.required("GroupName"), userName: p.required("UserName") })),
  },
  RemoveUserFromGroup: {
    authorize: (c) => groupTarget(c, c.params.required("GroupName")),
    run: ({ iam, params: p }) =>
      done(iam.removeUserFromGroup({ groupName: p.required("GroupName"), userName: p.required("UserName") })),
  },
  ListGroupsForUser: {
    authorize: (c) => userTarget(c, c.params.required("UserName")),
    run: async ({ iam, params: p }) =>
      pageXml(
        "Groups",
        await iam.listGroupsForUser({ userName: p.required("UserName"), ...pageOf(p) }),
        groupXml,
      ),
  },
};

const roleActions: Record<string, ActionSpec> = {
  CreateRole: {
    authorize: (c) => ({
      resource: roleArn(c.iam.account, c.params.str("Path") ?? "/", c.params.required("RoleName")),
      context: tagContext(c.params.tags()),
    }),
    run: async ({ iam, params: p }) => ({
      Role: roleXml(
        await iam.createRole({
          roleName: p.required("RoleName"),
          assumeRolePolicyDocument: p.required("AssumeRolePolicyDocument"),
          path: p.str("Path"),
          description: p.str("Description"),
          maxSessionDuration: p.int("MaxSessionDuration"),
          tags: p.tags(),
          permissionsBoundary: p.str("PermissionsBoundary"),
        }),
      ),
    }),
  },
  GetRole: {
    authorize: (c) => roleTarget(c, c.params.required("RoleName")),
    run: async ({ iam, params: p }) => ({
      Role: roleXml(await iam.getRole({ roleName: p.required("RoleName") })),
    }),
  },
  ListRoles: {
    authorize: (c) => rootTarget(c, "role"),
    run: async ({ iam, params: p }) =>
      pageXml("Roles", await iam.listRoles({ pathPrefix: p.str("PathPrefix"), ...pageOf(p) }), (r) =>
        roleXml({ ...r, tags: [] }),
      ),
  },
  UpdateRole: {
    authorize: (c) => roleTarget(c, c.params.required("RoleName")),
    run: async ({ iam, params: p }) => {
      await iam.updateRole({
        roleName: p.required("RoleName"),
        description: p.str("Description"),
        maxSessionDuration: p.int("MaxSessionDuration"),
      });
      return {};
    },
  },
  DeleteRole: {
    authorize: (c) => roleTarget(c, c.params.required("RoleName")),
    run: ({ iam, params: p }) => done(iam.deleteRole({ roleName: p.required("RoleName") })),
  },
  UpdateAssumeRolePolicy: {
    authorize: (c) => roleTarget(c, c.params.required("RoleName")),
    run: ({ iam, params: p }) =>
      done(
        iam.updateAssumeRolePolicy({
          roleName: p.required("RoleName"),
          policyDocument: p.required("PolicyDocument"),
        }),
      ),
  },
  TagRole: {
    authorize: async (c) => ({
      ...(await roleTarget(c, c.params.required("RoleName"))),
      context: tagContext(c.params.tags()),
    }),
    run: ({ iam, params: p }) =>
      done(iam.tagRole({ roleName: p.required("RoleName"), tags: p.tags() ?? missingList(p, "Tags") })),
  },
  UntagRole: {
    authorize: async (c) => ({
      ...(await roleTarget(c, c.params.required("RoleName"))),
      context: { "aws:TagKeys": c.params.strings("TagKeys") ?? [] },
    }),
    run: ({ iam, params: p }) =>
      done(
        iam.untagRole({
          roleName: p.required("RoleName"),
          tagKeys: p.strings("TagKeys") ?? missingList(p, "TagKeys"),
        }),
      ),
  },
  ListRoleTags: {
    authorize: (c) => roleTarget(c, c.params.required("RoleName")),
    run: async ({ iam, params: p }) =>
      pageXml("Tags", await iam.listRoleTags({ roleName: p.required("RoleName"), ...pageOf(p) }), tagXml),
  },
  PutRolePermissionsBoundary: {
    authorize: (c) => roleTarget(c, c.params.required("RoleName")),
    run: ({ iam, params: p }) =>
      done(
        iam.putRolePermissionsBoundary({
          roleName: p.required("RoleName"),
          permissionsBoundary: p.required("PermissionsBoundary"),
        }),
      ),
  },
  DeleteRolePermissionsBoundary: {
    authorize: (c) => roleTarget(c, c.params.required("RoleName")),
    run: ({ iam, params: p }) =>
      done(iam.deleteRolePermissionsBoundary({ roleName: p.required("RoleName") })),
  },
};

const policyTarget = (c: ActionCall): Target => ({ resource: c.params.required("PolicyArn") });

const managedPolicyActions: Record<string, ActionSpec> = {
  CreatePolicy: {
    authorize: (c) => ({
      resource: policyArn(c.iam.account, c.params.str("Path") ?? "/", c.params.required("PolicyName")),
    }),
    run: async ({ iam, params: p }) => ({
      Policy: policyXml(
        await iam.createPolicy({
          policyName: p.required("PolicyName"),
          policyDocument: p.required("PolicyDocument"),
          path: p.str("Path"),
          description: p.str("Description"),
        }),
      ),
    }),
  },
  GetPolicy: {
    authorize: policyTarget,
    run: async ({ iam, params: p }) => ({
      Policy: policyXml(await iam.getPolicy({ policyArn: p.required("PolicyArn") })),
    }),
  },
  ListPolicies: {
    authorize: (c) => rootTarget(c, "policy"),
    run: async ({ iam, params: p }) => {
      const scope = p.str("Scope");
      if (scope !== undefined && scope !== "All" && scope !== "AWS" && scope !== "Local")
        throw p.invalid("Scope", scope, "Member must satisfy enum value set: [All, AWS, Local]");
      const usage = p.str("PolicyUsageFilter");
      if (usage !== undefined && usage !== "PermissionsPolicy" && usage !== "PermissionsBoundary")
        throw p.invalid(
          "PolicyUsageFilter",
          usage,
          "Member must satisfy enum value set: [PermissionsPolicy, PermissionsBoundary]",
        );
      const page = await iam.listPolicies({
        scope,
        onlyAttached: p.bool("OnlyAttached"),
        pathPrefix: p.str("PathPrefix"),
        policyUsageFilter: usage,
        ...pageOf(p),
      });
      return pageXml("Policies", page, (x) => policyXml({ ...x, description: undefined }));
    },
  },
  DeletePolicy: {
    authorize: policyTarget,
    run: ({ iam, params: p }) => done(iam.deletePolicy({ policyArn: p.required("PolicyArn") })),
  },
  CreatePolicyVersion: {
    authorize: policyTarget,
    run: async ({ iam, params: p }) => ({
      PolicyVersion: versionXml(
        await iam.createPolicyVersion({
          policyArn: p.required("PolicyArn"),
          policyDocument: p.required("PolicyDocument"),
          setAsDefault: p.bool("SetAsDefault"),
        }),
        false,
      ),
    }),
  },
  GetPolicyVersion: {
    authorize: policyTarget,
    run: async ({ iam, params: p }) => ({
      PolicyVersion: versionXml(
        await iam.getPolicyVersion({
          policyArn: p.required("PolicyArn"),
          versionId: p.required("VersionId"),
        }),
      ),
    }),
  },
  ListPolicyVersions: {
    authorize: policyTarget,
    run: async ({ iam, params: p }) =>
      pageXml(
        "Versions",
        await iam.listPolicyVersions({ policyArn: p.required("PolicyArn"), ...pageOf(p) }),
        (v) => versionXml(v, false),
      ),
  },
  DeletePolicyVersion: {
    authorize: policyTarget,
    run: ({ iam, params: p }) =>
      done(
        iam.deletePolicyVersion({ policyArn: p.required("PolicyArn"), versionId: p.required("VersionId") }),
      ),
  },
  SetDefaultPolicyVersion: {
    authorize: policyTarget,
    run: ({ iam, params: p }) =>
      done(
        iam.setDefaultPolicyVersion({
          policyArn: p.required("PolicyArn"),
          versionId: p.required("VersionId"),
        }),
      ),
  },
  ListEntitiesForPolicy: {
    authorize: policyTarget,
    run: (c) => listEntitiesForPolicy(c),
  },
};

/** Inline policies and attachments, the same eight actions for users, groups and roles. */
interface Holder {
  readonly kind: "User" | "Group" | "Role";
  readonly nameParam: "UserName" | "GroupName" | "RoleName";
  readonly target: (c: ActionCall, name: string) => Promise<Target>;
  readonly put: (c: ActionCall, owner: string, name: string, doc: string) => Promise<void>;
  readonly get: (c: ActionCall, owner: string, name: string) => Promise<{ policyDocument: string }>;
  readonly del: (c: ActionCall, owner: string, name: string) => Promise<void>;
  readonly list: (
    c: ActionCall,
    owner: string,
    page: PageRequest,
  ) => ReturnType<ActionCall["iam"]["listUserPolicies"]>;
  readonly attach: (c: ActionCall, owner: string, arn: string) => Promise<void>;
  readonly detach: (c: ActionCall, owner: string, arn: string) => Promise<void>;
  readonly attached: (
    c: ActionCall,
    owner: string,
    input: { pathPrefix?: string } & PageRequest,
  ) => ReturnType<ActionCall["iam"]["listAttachedUserPolicies"]>;
}

const HOLDERS: readonly Holder[] = [
  {
    kind: "User",
    nameParam: "UserName",
    target: userTarget,
    put: (c, o, n, d) => c.iam.putUserPolicy({ userName: o, policyName: n, policyDocument: d }),
    get: (c, o, n) => c.iam.getUserPolicy({ userName: o, policyName: n }),
    del: (c, o, n) => c.iam.deleteUserPolicy({ userName: o, policyName: n }),
    list: (c, o, pg) => c.iam.listUserPolicies({ userName: o, ...pg }),
    attach: (c, o, a) => c.iam.attachUserPolicy({ userName: o, policyArn: a }),
    detach: (c, o, a) => c.iam.detachUserPolicy({ userName: o, policyArn: a }),
    attached: (c, o, i) => c.iam.listAttachedUserPolicies({ userName: o, ...i }),
  },
  {
    kind: "Group",
    nameParam: "GroupName",
    target: groupTarget,
    put: (c, o, n, d) => c.iam.putGroupPolicy({ groupName: o, policyName: n, policyDocument: d }),
    get: (c, o, n) => c.iam.getGroupPolicy({ groupName: o, policyName: n }),
    del: (c, o, n) => c.iam.deleteGroupPolicy({ groupName: o, policyName: n }),
    list: (c, o, pg) => c.iam.listGroupPolicies({ groupName: o, ...pg }),
    attach: (c, o, a) => c.iam.attachGroupPolicy({ groupName: o, policyArn: a }),
    detach: (c, o, a) => c.iam.detachGroupPolicy({ groupName: o, policyArn: a }),
    attached: (c, o, i) => c.iam.listAttachedGroupPolicies({ groupName: o, ...i }),
  },
  {
    kind: "Role",
    nameParam: "RoleName",
    target: roleTarget,
    put: (c, o, n, d) => c.iam.putRolePolicy({ roleName: o, policyName: n, policyDocument: d }),
    get: (c, o, n) => c.iam.getRolePolicy({ roleName: o, policyName: n }),
    del: (c, o, n) => c.iam.deleteRolePolicy({ roleName: o, policyName: n }),
    list: (c, o, pg) => c.iam.listRolePolicies({ roleName: o, ...pg }),
    attach: (c, o, a) => c.iam.attachRolePolicy({ roleName: o, policyArn: a }),
    detach: (c, o, a) => c.iam.detachRolePolicy({ roleName: o, policyArn: a }),
    attached: (c, o, i) => c.iam.listAttachedRolePolicies({ roleName: o, ...i }),
  },
];

function holderActions(h: Holder): Record<string, ActionSpec> {
  const owner = (c: ActionCall) => c.params.required(h.nameParam);
  const authorize = (c: ActionCall) => h.target(c, owner(c));
  return {
    [`Put${h.kind}Policy`]: {
      authorize,
      run: (c) =>
        done(h.put(c, owner(c), c.params.required("PolicyName"), c.params.required("PolicyDocument"))),
    },
    [`Get${h.kind}Policy`]: {
      authorize,
      run: async (c) => {
        const name = c.params.required("PolicyName");
        const r = await h.get(c, owner(c), name);
        return { [h.nameParam]: owner(c), PolicyName: name, PolicyDocument: encodePolicy(r.policyDocument) };
      },
    },
    [`Delete${h.kind}Policy`]: {
      authorize,
      run: (c) => done(h.del(c, owner(c), c.params.required("PolicyName"))),
    },
    [`List${h.kind}Policies`]: {
      authorize,
      run: async (c) => pageXml("PolicyNames", await h.list(c, owner(c), pageOf(c.params)), (n) => n),
    },
    [`Attach${h.kind}Policy`]: {
      authorize: async (c) => ({
        ...(await authorize(c)),
        context: { "iam:PolicyARN": c.params.required("PolicyArn") },
      }),
      run: (c) => done(h.attach(c, owner(c), c.params.required("PolicyArn"))),
    },
    [`Detach${h.kind}Policy`]: {
      authorize: async (c) => ({
        ...(await authorize(c)),
        context: { "iam:PolicyARN": c.params.required("PolicyArn") },
      }),
      run: (c) => done(h.detach(c, owner(c), c.params.required("PolicyArn"))),
    },
    [`ListAttached${h.kind}Policies`]: {
      authorize,
      run: async (c) =>
        pageXml(
          "AttachedPolicies",
          await h.attached(c, owner(c), { pathPrefix: c.params.str("PathPrefix"), ...pageOf(c.params) }),
          attachedXml,
        ),
    },
  };
}

/** Every item of a paged list, page by page. */
async function all<T>(
  fetch: (page: PageRequest) => Promise<{ items: T[]; marker?: string | undefined; isTruncated: boolean }>,
) {
  const out: T[] = [];
  let marker: string | undefined;
  do {
    const page = await fetch({ marker, maxItems: 1000 });
    out.push(...page.items);
    marker = page.isTruncated ? page.marker : undefined;
  } while (marker !== undefined);
  return out;
}

/**
 * Which users, groups and roles a managed policy is attached to. The control plane has no
 * reverse index, so this walks the principals; admin-API scale makes that acceptable.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListEntitiesForPolicy.html
 */
async function listEntitiesForPolicy(c: ActionCall) {
  const { iam, params: p } = c;
  const arn = p.required("PolicyArn");
  await iam.getPolicy({ policyArn: arn });
  const filter = p.str("EntityFilter");
  const prefix = p.str("PathPrefix") ?? "/";
  const want = (kind: string) => filter === undefined || filter === kind;
  const has = (list: { items: { policyArn: string }[] }) => list.items.some((a) => a.policyArn === arn);
  const users = want("User") ? await all((pg) => iam.listUsers({ pathPrefix: prefix, ...pg })) : [];
  const groups = want("Group") ? await all((pg) => iam.listGroups({ pathPrefix: prefix, ...pg })) : [];
  const roles = want("Role") ? await all((pg) => iam.listRoles({ pathPrefix: prefix, ...pg })) : [];
  const policyUsers: XmlObject[] = [];
  for (const u of users)
    if (has(await iam.listAttachedUserPolicies({ userName: u.userName, maxItems: 1000 })))
      policyUsers.push({ UserName: u.userName, UserId: u.userId });
  const policyGroups: XmlObject[] = [];
  for (const g of groups)
    if (has(await iam.listAttachedGroupPolicies({ groupName: g.groupName, maxItems: 1000 })))
      policyGroups.push({ GroupName: g.groupName, GroupId: g.groupId });
  const policyRoles: XmlObject[] = [];
  for (const r of roles)
    if (has(await iam.listAttachedRolePolicies({ roleName: r.roleName, maxItems: 1000 })))
      policyRoles.push({ RoleName: r.roleName, RoleId: r.roleId });
  return {
    PolicyGroups: xmlList(policyGroups),
    PolicyUsers: xmlList(policyUsers),
    PolicyRoles: xmlList(policyRoles),
    IsTruncated: false,
  };
}

const simulateActions: Record<string, ActionSpec> = {
  SimulatePrincipalPolicy: {
    authorize: (c) => ({ resource: c.params.required("PolicySourceArn") }),
    run: simulatePrincipalPolicy,
  },
  SimulateCustomPolicy: {
    authorize: () => ({ resource: "*" }),
    run: simulateCustomPolicy,
  },
};

export const IAM_ACTIONS: Readonly<Record<string, ActionSpec>> = {
  ...userActions,
  ...accessKeyActions,
  ...groupActions,
  ...roleActions,
  ...managedPolicyActions,
  ...Object.assign({}, ...HOLDERS.map(holderActions)),
  ...simulateActions,
};
