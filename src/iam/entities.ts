import { parseIamArn } from "./arns.js";
import type { ServiceContext } from "./context.js";
import { NoSuchEntityError, ValidationError } from "./errors.js";
import type { GroupRecord, ManagedPolicyRecord, RoleRecord, UserRecord } from "./records.js";
import { checkPolicyArn } from "./validation.js";

/**
 * Find-or-throw, with IAM's NoSuchEntity wording.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html#API_GetUser_Errors
 */
export async function requireUser(ctx: ServiceContext, userName: string): Promise<UserRecord> {
  const u = await ctx.repo.getUserByName(userName);
  if (!u) throw new NoSuchEntityError(`The user with name ${userName} cannot be found.`);
  return u;
}

export async function requireGroup(ctx: ServiceContext, groupName: string): Promise<GroupRecord> {
  const g = await ctx.repo.getGroupByName(groupName);
  if (!g) throw new NoSuchEntityError(`The group with name ${groupName} cannot be found.`);
  return g;
}

export async function requireRole(ctx: ServiceContext, roleName: string): Promise<RoleRecord> {
  const r = await ctx.repo.getRoleByName(roleName);
  if (!r) throw new NoSuchEntityError(`The role with name ${roleName} cannot be found.`);
  return r;
}

/**
 * A customer managed policy by ARN. The path must match too: IAM treats an ARN with the wrong
 * path as another (missing) policy.
 */
export async function requirePolicy(
  ctx: ServiceContext,
  arn: string,
  field = "policyArn",
): Promise<ManagedPolicyRecord> {
  checkPolicyArn(field, arn);
  const parsed = parseIamArn(ctx.account, arn);
  if (parsed === undefined && !/^arn:[^:]+:iam::(\d{12}|aws):policy\//.test(arn)) {
    throw new ValidationError(`ARN ${arn} is not valid.`);
  }
  const p = parsed?.kind === "policy" ? await ctx.repo.getPolicyByName(parsed.name) : undefined;
  if (!p || parsed === undefined || p.path !== parsed.path || p.policyName !== parsed.name) {
    throw new NoSuchEntityError(`Policy ${arn} does not exist or is not attachable.`);
  }
  return p;
}

export async function boundaryOf(
  ctx: ServiceContext,
  policyId: string | undefined,
): Promise<ManagedPolicyRecord | undefined> {
  return policyId === undefined ? undefined : ctx.repo.getPolicyById(policyId);
}
