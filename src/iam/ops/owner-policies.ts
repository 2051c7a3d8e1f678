import { POLICY_SIZE_LIMITS, type PolicyKind, policySize } from "../../policy/index.js";
import { QUOTAS, type ServiceContext } from "../context.js";
import { requireGroup, requirePolicy, requireRole, requireUser } from "../entities.js";
import { LimitExceededError, NoSuchEntityError } from "../errors.js";
import { type PageRequest, paginate } from "../paginate.js";
import { validatePolicy } from "../policy-port.js";
import type { OwnerKind, OwnerRef } from "../records.js";
import {
  checkGroupName,
  checkPathPrefix,
  checkPolicyName,
  checkRoleName,
  checkUserName,
} from "../validation.js";
import { type AttachedPolicy, attachedView, type Page } from "../views.js";

interface OwnerSpec {
  readonly field: string;
  readonly check: (field: string, v: unknown) => string;
  readonly resolve: (ctx: ServiceContext, name: string) => Promise<{ id: string; name: string }>;
  readonly inlineKind: PolicyKind;
  readonly maxAttached: number;
  readonly quotaName: string;
}

/** What differs between users, groups and roles as policy holders. */
const OWNERS: Readonly<Record<OwnerKind, OwnerSpec>> = {
  user: {
    field: "userName",
    check: checkUserName,
    resolve: async (ctx, n) => {
      const u = await requireUser(ctx, n);
      return { id: u.userId, name: u.userName };
    },
    inlineKind: "identity-inline-user",
    maxAttached: QUOTAS.managedPoliciesPerUser,
    quotaName: "PoliciesPerUser",
  },
  group: {
    field: "groupName",
    check: checkGroupName,
    resolve: async (ctx, n) => {
      const g = await requireGroup(ctx, n);
      return { id: g.groupId, name: g.groupName };
    },
    inlineKind: "identity-inline-group",
    maxAttached: QUOTAS.managedPoliciesPerGroup,
    quotaName: "PoliciesPerGroup",
  },
  role: {
    field: "roleName",
    check: checkRoleName,
    resolve: async (ctx, n) => {
      const r = await requireRole(ctx, n);
      return { id: r.roleId, name: r.roleName };
    },
    inlineKind: "identity-inline-role",
    maxAttached: QUOTAS.managedPoliciesPerRole,
    quotaName: "PoliciesPerRole",
  },
};

/**
 * Inline policies and managed-policy attachments, written once for all three holder kinds.
 * IAM's inline size quota is per holder, summed over all its inline policies, white space
 * not counted (user 2,048; group 5,120; role 10,240).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_AttachUserPolicy.html
 */
export function ownerPolicyOperations(ctx: ServiceContext, kind: OwnerKind) {
  const spec = OWNERS[kind];
  const owner = async (name: string): Promise<OwnerRef & { name: string }> => {
    const o = await spec.resolve(ctx, spec.check(spec.field, name));
    return { kind, id: o.id, name: o.name };
  };
  const noInline = (policyName: string) =>
    new NoSuchEntityError(`The ${kind} policy with name ${policyName} cannot be found.`);

  return {
    async put(ownerName: string, policyName: string, policyDocument: string): Promise<void> {
      checkPolicyName("policyName", policyName);
      const o = await owner(ownerName);
      validatePolicy(policyDocument, spec.inlineKind);
      const others = (await ctx.repo.listInlinePolicies(o)).filter(
        (p) => p.policyName.toLowerCase() !== policyName.toLowerCase(),
      );
      const total = others.reduce((n, p) => n + policySize(p.document), policySize(policyDocument));
      const limit = POLICY_SIZE_LIMITS[spec.inlineKind];
      if (total > limit) {
        throw new LimitExceededError(`Maximum policy size of ${limit} bytes exceeded for ${kind} ${o.name}`);
      }
      if ((await ctx.repo.putInlinePolicy(o, policyName, policyDocument)) === "missing") {
        throw new NoSuchEntityError(`The ${kind} with name ${ownerName} cannot be found.`);
      }
    },

    async get(
      ownerName: string,
      policyName: string,
    ): Promise<{ policyName: string; policyDocument: string }> {
      const o = await owner(ownerName);
      const p = await ctx.repo.getInlinePolicy(o, checkPolicyName("policyName", policyName));
      if (!p) throw noInline(policyName);
      return { policyName: p.policyName, policyDocument: p.document };
    },

    async delete(ownerName: string, policyName: string): Promise<void> {
      const o = await owner(ownerName);
      if (!(await ctx.repo.deleteInlinePolicy(o, checkPolicyName("policyName", policyName))))
        throw noInline(policyName);
    },

    async list(ownerName: string, page: PageRequest): Promise<Page<string>> {
      const o = await owner(ownerName);
      const names = (await ctx.repo.listInlinePolicies(o)).map((p) => p.policyName);
      return paginate(names, (n) => n.toLowerCase(), page);
    },

    /** Idempotent, as in IAM. */
    async attach(ownerName: string, policyArn: string): Promise<void> {
      const o = await owner(ownerName);
      const policy = await requirePolicy(ctx, policyArn);
      const outcome = await ctx.repo.attachPolicy(o, policy.policyId, spec.maxAttached);
      if (outcome === "limit")
        throw new LimitExceededError(`Cannot exceed quota for ${spec.quotaName}: ${spec.maxAttached}`);
      if (outcome === "missing")
        throw new NoSuchEntityError(`The ${kind} with name ${ownerName} cannot be found.`);
    },

    async detach(ownerName: string, policyArn: string): Promise<void> {
      const o = await owner(ownerName);
      const policy = await requirePolicy(ctx, policyArn);
      if (!(await ctx.repo.detachPolicy(o, policy.policyId))) {
        throw new NoSuchEntityError(`Policy ${policyArn} was not found.`);
      }
    },

    async listAttached(
      ownerName: string,
      input: { pathPrefix?: string } & PageRequest,
    ): Promise<Page<AttachedPolicy>> {
      const o = await owner(ownerName);
      const prefix = checkPathPrefix("pathPrefix", input.pathPrefix ?? "/");
      const attached = (await ctx.repo.listAttachedPolicies(o)).filter((p) => p.path.startsWith(prefix));
      const page = paginate(attached, (p) => p.policyName.toLowerCase(), input);
      return { ...page, items: page.items.map((p) => attachedView(ctx.account, p)) };
    },
  };
}
