import { QUOTAS, type ServiceContext } from "../context.js";
import { requireGroup, requireUser } from "../entities.js";
import {
  DeleteConflictError,
  EntityAlreadyExistsError,
  LimitExceededError,
  NoSuchEntityError,
} from "../errors.js";
import { newUniqueId } from "../ids.js";
import { type PageRequest, paginate } from "../paginate.js";
import { checkGroupName, checkPath, checkPathPrefix, checkUserName } from "../validation.js";
import { type Group, groupView, type Page, type User, userView } from "../views.js";

/**
 * Group operations and membership.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateGroup.html
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetGroup.html
 */
export function groupOperations(ctx: ServiceContext) {
  return {
    async createGroup(input: { groupName: string; path?: string }): Promise<Group> {
      const groupName = checkGroupName("groupName", input.groupName);
      const group = {
        groupId: newUniqueId("AGPA"),
        groupName,
        path: checkPath("path", input.path ?? "/"),
        createDate: ctx.now(),
      };
      if (!(await ctx.repo.insertGroup(group))) {
        throw new EntityAlreadyExistsError(`Group with name ${groupName} already exists.`);
      }
      return groupView(ctx.account, group);
    },

    /** The group and a page of its members, as GetGroup answers. */
    async getGroup(input: { groupName: string } & PageRequest): Promise<{ group: Group } & Page<User>> {
      const group = await requireGroup(ctx, checkGroupName("groupName", input.groupName));
      const members = await ctx.repo.listGroupMembers(group.groupId);
      const page = paginate(members, (u) => u.userName.toLowerCase(), input);
      return {
        group: groupView(ctx.account, group),
        ...page,
        items: page.items.map((u) => userView(ctx.account, u)),
      };
    },

    async listGroups(input: { pathPrefix?: string } & PageRequest = {}): Promise<Page<Group>> {
      const prefix = checkPathPrefix("pathPrefix", input.pathPrefix ?? "/");
      const all = (await ctx.repo.listGroups()).filter((g) => g.path.startsWith(prefix));
      const page = paginate(all, (g) => g.groupName.toLowerCase(), input);
      return { ...page, items: page.items.map((g) => groupView(ctx.account, g)) };
    },

    async updateGroup(input: { groupName: string; newGroupName?: string; newPath?: string }): Promise<void> {
      const group = await requireGroup(ctx, checkGroupName("groupName", input.groupName));
      const outcome = await ctx.repo.updateGroup(group.groupId, {
        ...(input.newGroupName === undefined
          ? {}
          : { groupName: checkGroupName("newGroupName", input.newGroupName) }),
        ...(input.newPath === undefined ? {} : { path: checkPath("newPath", input.newPath) }),
      });
      if (outcome === "missing")
        throw new NoSuchEntityError(`The group with name ${input.groupName} cannot be found.`);
      if (outcome === "exists")
        throw new EntityAlreadyExistsError(`Group with name ${input.newGroupName} already exists.`);
    },

    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_DeleteGroup.html */
    async deleteGroup(input: { groupName: string }): Promise<void> {
      const group = await requireGroup(ctx, checkGroupName("groupName", input.groupName));
      const outcome = await ctx.repo.deleteGroup(group.groupId);
      const conflict = {
        members: "Cannot delete entity, must remove users from group first.",
        inlinePolicies: "Cannot delete entity, must delete policies first.",
        attachedPolicies: "Cannot delete entity, must detach all policies first.",
      } as const;
      if (outcome === "missing")
        throw new NoSuchEntityError(`The group with name ${input.groupName} cannot be found.`);
      if (outcome !== "ok") throw new DeleteConflictError(conflict[outcome]);
    },

    /** Idempotent, as in IAM. A user may be in at most 10 groups. */
    async addUserToGroup(input: { groupName: string; userName: string }): Promise<void> {
      const group = await requireGroup(ctx, checkGroupName("groupName", input.groupName));
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const outcome = await ctx.repo.addUserToGroup(group.groupId, user.userId, QUOTAS.groupsPerUser);
      if (outcome === "limit") {
        throw new LimitExceededError(`Cannot exceed quota for GroupsPerUser: ${QUOTAS.groupsPerUser}`);
      }
      if (outcome === "missing")
        throw new NoSuchEntityError(`The user with name ${input.userName} cannot be found.`);
    },

    async removeUserFromGroup(input: { groupName: string; userName: string }): Promise<void> {
      const group = await requireGroup(ctx, checkGroupName("groupName", input.groupName));
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      if (!(await ctx.repo.removeUserFromGroup(group.groupId, user.userId))) {
        throw new NoSuchEntityError(
          `The user with name ${input.userName} is not in group ${input.groupName}.`,
        );
      }
    },

    async listGroupsForUser(input: { userName: string } & PageRequest): Promise<Page<Group>> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const page = paginate(
        await ctx.repo.listGroupsForUser(user.userId),
        (g) => g.groupName.toLowerCase(),
        input,
      );
      return { ...page, items: page.items.map((g) => groupView(ctx.account, g)) };
    },
  };
}

export type GroupOperations = ReturnType<typeof groupOperations>;
