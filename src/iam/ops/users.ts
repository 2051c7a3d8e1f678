import type { ServiceContext } from "../context.js";
import { boundaryOf, requirePolicy, requireUser } from "../entities.js";
import { DeleteConflictError, EntityAlreadyExistsError, NoSuchEntityError } from "../errors.js";
import { newUniqueId } from "../ids.js";
import { type PageRequest, paginate } from "../paginate.js";
import { checkTags, mergeTags, removeTags, type Tag } from "../tags.js";
import { checkPath, checkPathPrefix, checkPolicyArn, checkUserName } from "../validation.js";
import { type Page, type User, userView } from "../views.js";

/**
 * User operations.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteUser.html
 */
export function userOperations(ctx: ServiceContext) {
  const view = async (u: Parameters<typeof userView>[1]) =>
    userView(ctx.account, u, await boundaryOf(ctx, u.permissionsBoundaryPolicyId));

  return {
    async createUser(input: {
      userName: string;
      path?: string;
      tags?: readonly Tag[];
      permissionsBoundary?: string;
    }): Promise<User> {
      const userName = checkUserName("userName", input.userName);
      const path = checkPath("path", input.path ?? "/");
      const tags = checkTags("tags", input.tags ?? []);
      mergeTags([], tags);
      const boundary =
        input.permissionsBoundary === undefined
          ? undefined
          : await requirePolicy(
              ctx,
              checkPolicyArn("permissionsBoundary", input.permissionsBoundary),
              "permissionsBoundary",
            );
      const user = {
        userId: newUniqueId("AIDA"),
        userName,
        path,
        createDate: ctx.now(),
        tags,
        permissionsBoundaryPolicyId: boundary?.policyId,
      };
      if (!(await ctx.repo.insertUser(user))) {
        throw new EntityAlreadyExistsError(`User with name ${userName} already exists.`);
      }
      return userView(ctx.account, user, boundary);
    },

    async getUser(input: { userName: string }): Promise<User> {
      return view(await requireUser(ctx, checkUserName("userName", input.userName)));
    },

    async listUsers(input: { pathPrefix?: string } & PageRequest = {}): Promise<Page<User>> {
      const prefix = checkPathPrefix("pathPrefix", input.pathPrefix ?? "/");
      const all = (await ctx.repo.listUsers()).filter((u) => u.path.startsWith(prefix));
      const page = paginate(all, (u) => u.userName.toLowerCase(), input);
      return { ...page, items: await Promise.all(page.items.map(view)) };
    },

    /** Renames and/or moves a user; the unique id, keys, groups and policies stay with it. */
    async updateUser(input: { userName: string; newUserName?: string; newPath?: string }): Promise<void> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const patch = {
        ...(input.newUserName === undefined
          ? {}
          : { userName: checkUserName("newUserName", input.newUserName) }),
        ...(input.newPath === undefined ? {} : { path: checkPath("newPath", input.newPath) }),
      };
      const outcome = await ctx.repo.updateUser(user.userId, patch);
      if (outcome === "missing")
        throw new NoSuchEntityError(`The user with name ${input.userName} cannot be found.`);
      if (outcome === "exists")
        throw new EntityAlreadyExistsError(`User with name ${input.newUserName} already exists.`);
    },

    /**
     * Refuses, like IAM, while the user still has access keys, policies or group memberships;
     * the message names what to remove first. Temporary credentials the user obtained stop
     * working at once.
     */
    async deleteUser(input: { userName: string }): Promise<void> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const outcome = await ctx.repo.deleteUser(user.userId);
      const conflict = {
        accessKeys: "Cannot delete entity, must delete access keys first.",
        inlinePolicies: "Cannot delete entity, must delete policies first.",
        attachedPolicies: "Cannot delete entity, must detach all policies first.",
        groups: "Cannot delete entity, must remove users from group first.",
      } as const;
      if (outcome === "missing")
        throw new NoSuchEntityError(`The user with name ${input.userName} cannot be found.`);
      if (outcome !== "ok") throw new DeleteConflictError(conflict[outcome]);
    },

    async tagUser(input: { userName: string; tags: readonly Tag[] }): Promise<void> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const tags = mergeTags(user.tags, checkTags("tags", input.tags));
      await ctx.repo.updateUser(user.userId, { tags });
    },

    async untagUser(input: { userName: string; tagKeys: readonly string[] }): Promise<void> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      await ctx.repo.updateUser(user.userId, { tags: removeTags(user.tags, input.tagKeys) });
    },

    async listUserTags(input: { userName: string } & PageRequest): Promise<Page<Tag>> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      return paginate(user.tags, (t) => t.key.toLowerCase(), input);
    },

    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPermissionsBoundary.html */
    async putUserPermissionsBoundary(input: {
      userName: string;
      permissionsBoundary: string;
    }): Promise<void> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const policy = await requirePolicy(ctx, input.permissionsBoundary, "permissionsBoundary");
      await ctx.repo.updateUser(user.userId, { permissionsBoundaryPolicyId: policy.policyId });
    },

    async deleteUserPermissionsBoundary(input: { userName: string }): Promise<void> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      await ctx.repo.updateUser(user.userId, { permissionsBoundaryPolicyId: null });
    },
  };
}

export type UserOperations = ReturnType<typeof userOperations>;
