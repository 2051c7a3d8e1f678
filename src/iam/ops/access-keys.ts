import { QUOTAS, type ServiceContext, sealContext } from "../context.js";
import { requireUser } from "../entities.js";
import { LimitExceededError, NoSuchEntityError } from "../errors.js";
import { newAccessKeyId, newSecretAccessKey } from "../ids.js";
import { type PageRequest, paginate } from "../paginate.js";
import type { AccessKeyRecord } from "../records.js";
import { checkAccessKeyId, checkStatus, checkUserName } from "../validation.js";
import {
  type AccessKey,
  type AccessKeyLastUsed,
  type AccessKeyMetadata,
  accessKeyView,
  type Page,
} from "../views.js";

const notFound = (id: string) => new NoSuchEntityError(`The Access Key with id ${id} cannot be found.`);

/**
 * Long-term access keys. The secret is sealed before it reaches the store and returned in
 * clear exactly once, by CreateAccessKey.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html
 */
export function accessKeyOperations(ctx: ServiceContext) {
  /** The key, if it belongs to the named user (IAM answers NoSuchEntity otherwise). */
  async function keyOf(userName: string, accessKeyId: string) {
    const user = await requireUser(ctx, checkUserName("userName", userName));
    const key = await ctx.repo.getAccessKey(checkAccessKeyId("accessKeyId", accessKeyId));
    if (!key || key.userId !== user.userId) throw notFound(accessKeyId);
    return { user, key };
  }

  return {
    /** At most two keys per user, active or not. */
    async createAccessKey(input: { userName: string }): Promise<AccessKey> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const accessKeyId = newAccessKeyId("AKIA");
      const secretAccessKey = newSecretAccessKey();
      const record: AccessKeyRecord = {
        accessKeyId,
        userId: user.userId,
        sealedSecret: ctx.secrets.seal(secretAccessKey, sealContext.secret(accessKeyId)),
        status: "Active",
        createDate: ctx.now(),
      };
      const outcome = await ctx.repo.insertAccessKey(record, QUOTAS.accessKeysPerUser);
      if (outcome === "limit") {
        throw new LimitExceededError(
          `Cannot exceed quota for AccessKeysPerUser: ${QUOTAS.accessKeysPerUser}`,
        );
      }
      if (outcome === "missing")
        throw new NoSuchEntityError(`The user with name ${input.userName} cannot be found.`);
      return { ...accessKeyView(user.userName, record), secretAccessKey };
    },

    async listAccessKeys(input: { userName: string } & PageRequest): Promise<Page<AccessKeyMetadata>> {
      const user = await requireUser(ctx, checkUserName("userName", input.userName));
      const keys = await ctx.repo.listAccessKeys(user.userId);
      const page = paginate(keys, (k) => k.accessKeyId, input);
      return { ...page, items: page.items.map((k) => accessKeyView(user.userName, k)) };
    },

    /** Deactivation takes effect on the very next authentication, in this and every other process. */
    async updateAccessKey(input: { userName: string; accessKeyId: string; status: "Active" | "Inactive" }) {
      const status = checkStatus("status", input.status);
      const { key } = await keyOf(input.userName, input.accessKeyId);
      if (!(await ctx.repo.updateAccessKeyStatus(key.accessKeyId, status))) throw notFound(input.accessKeyId);
    },

    async deleteAccessKey(input: { userName: string; accessKeyId: string }): Promise<void> {
      const { key } = await keyOf(input.userName, input.accessKeyId);
      if (!(await ctx.repo.deleteAccessKey(key.accessKeyId))) throw notFound(input.accessKeyId);
    },

    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetAccessKeyLastUsed.html */
    async getAccessKeyLastUsed(input: {
      accessKeyId: string;
    }): Promise<{ userName: string; accessKeyLastUsed: AccessKeyLastUsed }> {
      const key = await ctx.repo.getAccessKey(checkAccessKeyId("accessKeyId", input.accessKeyId));
      const user = key && (await ctx.repo.getUserById(key.userId));
      if (!key || !user) throw notFound(input.accessKeyId);
      return {
        userName: user.userName,
        accessKeyLastUsed: {
          lastUsedDate: key.lastUsedDate,
          serviceName: key.lastUsedService ?? "N/A",
          region: key.lastUsedRegion ?? "N/A",
        },
      };
    },
  };
}

export type AccessKeyOperations = ReturnType<typeof accessKeyOperations>;
