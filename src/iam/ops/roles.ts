import { roleArn } from "../arns.js";
import type { ServiceContext } from "../context.js";
import { boundaryOf, requirePolicy, requireRole } from "../entities.js";
import { DeleteConflictError, EntityAlreadyExistsError, NoSuchEntityError } from "../errors.js";
import { newUniqueId } from "../ids.js";
import { type PageRequest, paginate } from "../paginate.js";
import { validatePolicy } from "../policy-port.js";
import type { RoleRecord } from "../records.js";
import { checkTags, mergeTags, removeTags, type Tag } from "../tags.js";
import { bindTrustPrincipals, displayedTrustPolicy } from "../trust.js";
import { checkDescription, checkInteger, checkPath, checkPathPrefix, checkRoleName } from "../validation.js";
import { type Page, type Role, roleView } from "../views.js";

/** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html (MaxSessionDuration 3600..43200) */
export const ROLE_SESSION_DURATION = { min: 3600, max: 43200, default: 3600 } as const;

const checkMaxSession = (v: unknown) =>
  checkInteger("maxSessionDuration", v, ROLE_SESSION_DURATION.min, ROLE_SESSION_DURATION.max);

/**
 * Role operations. The trust policy (AssumeRolePolicyDocument) is validated as a
 * resource-based policy: Principal required, only sts: actions, no Resource.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_create_for-user.html
 */
export function roleOperations(ctx: ServiceContext) {
  const view = async (r: RoleRecord) =>
    roleView(
      ctx.account,
      { ...r, assumeRolePolicyDocument: await displayedTrustPolicy(ctx, r) },
      await boundaryOf(ctx, r.permissionsBoundaryPolicyId),
    );

  return {
    async createRole(input: {
      roleName: string;
      assumeRolePolicyDocument: string;
      path?: string;
      description?: string;
      maxSessionDuration?: number;
      tags?: readonly Tag[];
      permissionsBoundary?: string;
    }): Promise<Role> {
      const roleName = checkRoleName("roleName", input.roleName);
      const path = checkPath("path", input.path ?? "/");
      const trust = validatePolicy(input.assumeRolePolicyDocument, "trust");
      const tags = checkTags("tags", input.tags ?? []);
      mergeTags([], tags);
      const boundary =
        input.permissionsBoundary === undefined
          ? undefined
          : await requirePolicy(ctx, input.permissionsBoundary, "permissionsBoundary");
      const roleId = newUniqueId("AROA");
      // A role may trust itself: its own ARN binds to the id it is being created with.
      const self = roleArn(ctx.account, path, roleName);
      const trustPrincipalIds = await bindTrustPrincipals(ctx, trust, "save", { [self]: roleId });
      const role: RoleRecord = {
        roleId,
        roleName,
        path,
        createDate: ctx.now(),
        assumeRolePolicyDocument: input.assumeRolePolicyDocument,
        trustPrincipalIds,
        description:
          input.description === undefined ? undefined : checkDescription("description", input.description),
        maxSessionDuration: checkMaxSession(input.maxSessionDuration ?? ROLE_SESSION_DURATION.default),
        tags,
        permissionsBoundaryPolicyId: boundary?.policyId,
      };
      if (!(await ctx.repo.insertRole(role))) {
        throw new EntityAlreadyExistsError(`Role with name ${roleName} already exists.`);
      }
      return roleView(ctx.account, role, boundary);
    },

    async getRole(input: { roleName: string }): Promise<Role> {
      return view(await requireRole(ctx, checkRoleName("roleName", input.roleName)));
    },

    async listRoles(input: { pathPrefix?: string } & PageRequest = {}): Promise<Page<Role>> {
      const prefix = checkPathPrefix("pathPrefix", input.pathPrefix ?? "/");
      const all = (await ctx.repo.listRoles()).filter((r) => r.path.startsWith(prefix));
      const page = paginate(all, (r) => r.roleName.toLowerCase(), input);
      return { ...page, items: await Promise.all(page.items.map(view)) };
    },

    /** Refuses while the role has policies. Its sessions stop working at once. */
    async deleteRole(input: { roleName: string }): Promise<void> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      const outcome = await ctx.repo.deleteRole(role.roleId);
      const conflict = {
        inlinePolicies: "Cannot delete entity, must delete policies first.",
        attachedPolicies: "Cannot delete entity, must detach all policies first.",
      } as const;
      if (outcome === "missing")
        throw new NoSuchEntityError(`The role with name ${input.roleName} cannot be found.`);
      if (outcome !== "ok") throw new DeleteConflictError(conflict[outcome]);
    },

    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateAssumeRolePolicy.html */
    async updateAssumeRolePolicy(input: { roleName: string; policyDocument: string }): Promise<void> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      const trust = validatePolicy(input.policyDocument, "trust");
      await ctx.repo.updateRole(role.roleId, {
        assumeRolePolicyDocument: input.policyDocument,
        trustPrincipalIds: await bindTrustPrincipals(ctx, trust, "save"),
      });
    },

    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_UpdateRole.html */
    async updateRole(input: {
      roleName: string;
      description?: string;
      maxSessionDuration?: number;
    }): Promise<void> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      await ctx.repo.updateRole(role.roleId, {
        ...(input.description === undefined
          ? {}
          : { description: checkDescription("description", input.description) }),
        ...(input.maxSessionDuration === undefined
          ? {}
          : { maxSessionDuration: checkMaxSession(input.maxSessionDuration) }),
      });
    },

    async tagRole(input: { roleName: string; tags: readonly Tag[] }): Promise<void> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      await ctx.repo.updateRole(role.roleId, { tags: mergeTags(role.tags, checkTags("tags", input.tags)) });
    },

    async untagRole(input: { roleName: string; tagKeys: readonly string[] }): Promise<void> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      await ctx.repo.updateRole(role.roleId, { tags: removeTags(role.tags, input.tagKeys) });
    },

    async listRoleTags(input: { roleName: string } & PageRequest): Promise<Page<Tag>> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      return paginate(role.tags, (t) => t.key.toLowerCase(), input);
    },

    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePermissionsBoundary.html */
    async putRolePermissionsBoundary(input: {
      roleName: string;
      permissionsBoundary: string;
    }): Promise<void> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      const policy = await requirePolicy(ctx, input.permissionsBoundary, "permissionsBoundary");
      await ctx.repo.updateRole(role.roleId, { permissionsBoundaryPolicyId: policy.policyId });
    },

    async deleteRolePermissionsBoundary(input: { roleName: string }): Promise<void> {
      const role = await requireRole(ctx, checkRoleName("roleName", input.roleName));
      await ctx.repo.updateRole(role.roleId, { permissionsBoundaryPolicyId: null });
    },
  };
}

export type RoleOperations = ReturnType<typeof roleOperations>;
