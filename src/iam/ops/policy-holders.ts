import type { ServiceContext } from "../context.js";
import type { PageRequest } from "../paginate.js";
import type { AttachedPolicy, Page } from "../views.js";
import { ownerPolicyOperations } from "./owner-policies.js";

type InlineOut = { policyName: string; policyDocument: string };

/** The IAM action names for inline policies and attachments on users, groups and roles. */
export function policyHolderOperations(ctx: ServiceContext) {
  const user = ownerPolicyOperations(ctx, "user");
  const group = ownerPolicyOperations(ctx, "group");
  const role = ownerPolicyOperations(ctx, "role");
  type Doc = { policyName: string; policyDocument: string };
  type Name = { policyName: string };
  type Arn = { policyArn: string };
  type Listed = { pathPrefix?: string } & PageRequest;

  return {
    putUserPolicy: (i: { userName: string } & Doc) => user.put(i.userName, i.policyName, i.policyDocument),
    getUserPolicy: async (i: { userName: string } & Name): Promise<{ userName: string } & InlineOut> => ({
      userName: i.userName,
      ...(await user.get(i.userName, i.policyName)),
    }),
    deleteUserPolicy: (i: { userName: string } & Name) => user.delete(i.userName, i.policyName),
    listUserPolicies: (i: { userName: string } & PageRequest): Promise<Page<string>> =>
      user.list(i.userName, i),
    attachUserPolicy: (i: { userName: string } & Arn) => user.attach(i.userName, i.policyArn),
    detachUserPolicy: (i: { userName: string } & Arn) => user.detach(i.userName, i.policyArn),
    listAttachedUserPolicies: (i: { userName: string } & Listed): Promise<Page<AttachedPolicy>> =>
      user.listAttached(i.userName, i),

    putGroupPolicy: (i: { groupName: string } & Doc) =>
      group.put(i.groupName, i.policyName, i.policyDocument),
    getGroupPolicy: async (i: { groupName: string } & Name): Promise<{ groupName: string } & InlineOut> => ({
      groupName: i.groupName,
      ...(await group.get(i.groupName, i.policyName)),
    }),
    deleteGroupPolicy: (i: { groupName: string } & Name) => group.delete(i.groupName, i.policyName),
    listGroupPolicies: (i: { groupName: string } & PageRequest): Promise<Page<string>> =>
      group.list(i.groupName, i),
    attachGroupPolicy: (i: { groupName: string } & Arn) => group.attach(i.groupName, i.policyArn),
    detachGroupPolicy: (i: { groupName: string } & Arn) => group.detach(i.groupName, i.policyArn),
    listAttachedGroupPolicies: (i: { groupName: string } & Listed): Promise<Page<AttachedPolicy>> =>
      group.listAttached(i.groupName, i),

    putRolePolicy: (i: { roleName: string } & Doc) => role.put(i.roleName, i.policyName, i.policyDocument),
    getRolePolicy: async (i: { roleName: string } & Name): Promise<{ roleName: string } & InlineOut> => ({
      roleName: i.roleName,
      ...(await role.get(i.roleName, i.policyName)),
    }),
    deleteRolePolicy: (i: { roleName: string } & Name) => role.delete(i.roleName, i.policyName),
    listRolePolicies: (i: { roleName: string } & PageRequest): Promise<Page<string>> =>
      role.list(i.roleName, i),
    attachRolePolicy: (i: { roleName: string } & Arn) => role.attach(i.roleName, i.policyArn),
    detachRolePolicy: (i: { roleName: string } & Arn) => role.detach(i.roleName, i.policyArn),
    listAttachedRolePolicies: (i: { roleName: string } & Listed): Promise<Page<AttachedPolicy>> =>
      role.listAttached(i.roleName, i),
  };
}

export type PolicyHolderOperations = ReturnType<typeof policyHolderOperations>;
