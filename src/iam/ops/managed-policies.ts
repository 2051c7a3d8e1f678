import { QUOTAS, type ServiceContext } from "../context.js";
import { requirePolicy } from "../entities.js";
import {
  DeleteConflictError,
  EntityAlreadyExistsError,
  LimitExceededError,
  NoSuchEntityError,
} from "../errors.js";
import { newUniqueId } from "../ids.js";
import { type PageRequest, paginate } from "../paginate.js";
import { validatePolicy } from "../policy-port.js";
import {
  checkDescription,
  checkPath,
  checkPathPrefix,
  checkPolicyName,
  checkVersionId,
} from "../validation.js";
import { type ManagedPolicy, type Page, type PolicyVersion, policyView, versionView } from "../views.js";

/**
 * Customer managed policies and their versions (at most five, one default).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_managed-versioning.html
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicyVersion.html
 */
export function managedPolicyOperations(ctx: ServiceContext) {
  const missingVersion = (arn: string, versionId: string) =>
    new NoSuchEntityError(`Policy ${arn} version ${versionId} does not exist or is not attachable.`);

  return {
    async createPolicy(input: {
      policyName: string;
      policyDocument: string;
      path?: string;
      description?: string;
    }): Promise<ManagedPolicy> {
      const policyName = checkPolicyName("policyName", input.policyName);
      const path = checkPath("path", input.path ?? "/");
      const description =
        input.description === undefined ? undefined : checkDescription("description", input.description);
      validatePolicy(input.policyDocument, "identity-managed");
      const now = ctx.now();
      const record = { policyId: newUniqueId("ANPA"), policyName, path, description, createDate: now };
      if (!(await ctx.repo.insertPolicy(record, input.policyDocument))) {
        throw new EntityAlreadyExistsError(
          `A policy called ${policyName} already exists. Duplicate names are not allowed.`,
        );
      }
      return policyView(ctx.account, {
        ...record,
        defaultVersionId: "v1",
        updateDate: now,
        attachmentCount: 0,
        permissionsBoundaryUsageCount: 0,
      });
    },

    async getPolicy(input: { policyArn: string }): Promise<ManagedPolicy> {
      return policyView(ctx.account, await requirePolicy(ctx, input.policyArn));
    },

    /**
     * Only customer managed policies exist here, so Scope `AWS` lists nothing.
     * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_ListPolicies.html
     */
    async listPolicies(
      input: {
        scope?: "All" | "AWS" | "Local";
        onlyAttached?: boolean;
        pathPrefix?: string;
        policyUsageFilter?: "PermissionsPolicy" | "PermissionsBoundary";
      } & PageRequest = {},
    ): Promise<Page<ManagedPolicy>> {
      const prefix = checkPathPrefix("pathPrefix", input.pathPrefix ?? "/");
      const keep = (p: { path: string; attachmentCount: number; permissionsBoundaryUsageCount: number }) =>
        p.path.startsWith(prefix) &&
        (!(input.onlyAttached ?? false) || p.attachmentCount > 0) &&
        (input.policyUsageFilter !== "PermissionsPolicy" || p.attachmentCount > 0) &&
        (input.policyUsageFilter !== "PermissionsBoundary" || p.permissionsBoundaryUsageCount > 0);
      const all = input.scope === "AWS" ? [] : (await ctx.repo.listPolicies()).filter(keep);
      const page = paginate(all, (p) => p.policyName.toLowerCase(), input);
      return { ...page, items: page.items.map((p) => policyView(ctx.account, p)) };
    },

    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeletePolicy.html */
    async deletePolicy(input: { policyArn: string }): Promise<void> {
      const policy = await requirePolicy(ctx, input.policyArn);
      const outcome = await ctx.repo.deletePolicy(policy.policyId);
      const conflict = {
        attached: "Cannot delete a policy attached to entities.",
        boundary:
          "Cannot delete a policy used as a permissions boundary. Remove it from the users and roles that use it first.",
        versions:
          "This policy has more than one version. Before you delete a policy, you must delete the policy's versions. " +
          "The default version is deleted with the policy.",
      } as const;
      if (outcome === "missing")
        throw new NoSuchEntityError(`Policy ${input.policyArn} does not exist or is not attachable.`);
      if (outcome !== "ok") throw new DeleteConflictError(conflict[outcome]);
    },

    async createPolicyVersion(input: {
      policyArn: string;
      policyDocument: string;
      setAsDefault?: boolean;
    }): Promise<PolicyVersion> {
      const policy = await requirePolicy(ctx, input.policyArn);
      validatePolicy(input.policyDocument, "identity-managed");
      const when = ctx.now();
      const setAsDefault = input.setAsDefault ?? false;
      const result = await ctx.repo.insertPolicyVersion(
        policy.policyId,
        input.policyDocument,
        setAsDefault,
        when,
        QUOTAS.versionsPerManagedPolicy,
      );
      if (result.outcome === "limit") {
        throw new LimitExceededError(
          `A managed policy can have up to ${QUOTAS.versionsPerManagedPolicy} versions. ` +
            "Before you create a new version, you must delete an existing version.",
        );
      }
      if (result.outcome !== "ok") {
        throw new NoSuchEntityError(`Policy ${input.policyArn} does not exist or is not attachable.`);
      }
      return {
        document: input.policyDocument,
        versionId: result.versionId,
        isDefaultVersion: setAsDefault,
        createDate: when,
      };
    },

    async getPolicyVersion(input: { policyArn: string; versionId: string }): Promise<PolicyVersion> {
      const policy = await requirePolicy(ctx, input.policyArn);
      const v = await ctx.repo.getPolicyVersion(
        policy.policyId,
        checkVersionId("versionId", input.versionId),
      );
      if (!v) throw missingVersion(input.policyArn, input.versionId);
      return versionView(v);
    },

    async listPolicyVersions(input: { policyArn: string } & PageRequest): Promise<Page<PolicyVersion>> {
      const policy = await requirePolicy(ctx, input.policyArn);
      const versions = await ctx.repo.listPolicyVersions(policy.policyId);
      // Newest first, like IAM; the zero-padded key keeps that order through paging.
      const key = (v: { versionId: string }) => String(1e9 - Number(v.versionId.slice(1))).padStart(10, "0");
      const page = paginate(versions, key, input);
      return { ...page, items: page.items.map(versionView) };
    },

    async deletePolicyVersion(input: { policyArn: string; versionId: string }): Promise<void> {
      const policy = await requirePolicy(ctx, input.policyArn);
      const outcome = await ctx.repo.deletePolicyVersion(
        policy.policyId,
        checkVersionId("versionId", input.versionId),
      );
      if (outcome === "default")
        throw new DeleteConflictError("Cannot delete the default version of a policy.");
      if (outcome === "missing") throw missingVersion(input.policyArn, input.versionId);
    },

    /** Changes what every principal the policy is attached to may do, from the next authorization on. */
    async setDefaultPolicyVersion(input: { policyArn: string; versionId: string }): Promise<void> {
      const policy = await requirePolicy(ctx, input.policyArn);
      const ok = await ctx.repo.setDefaultPolicyVersion(
        policy.policyId,
        checkVersionId("versionId", input.versionId),
        ctx.now(),
      );
      if (!ok) throw missingVersion(input.policyArn, input.versionId);
    },
  };
}

export type ManagedPolicyOperations = ReturnType<typeof managedPolicyOperations>;
