import type { AccountConfig } from "./arns.js";
import type { IamRepository } from "./repository.js";
import type { SecretBox } from "./secret-box.js";

/** What every operation needs: storage, the sealing key, the account, and a clock. */
export interface ServiceContext {
  readonly repo: IamRepository;
  readonly secrets: SecretBox;
  readonly account: AccountConfig;
  readonly now: () => Date;
}

/** AWS default quotas we enforce. @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html */
export const QUOTAS = {
  accessKeysPerUser: 2,
  groupsPerUser: 10,
  managedPoliciesPerUser: 10,
  managedPoliciesPerGroup: 10,
  managedPoliciesPerRole: 10,
  versionsPerManagedPolicy: 5,
} as const;

/** Sealing contexts: bind each sealed value to its key id and purpose. */
export const sealContext = {
  secret: (accessKeyId: string) => `iamdb:secret:${accessKeyId}`,
  sessionToken: (accessKeyId: string) => `iamdb:session-token:${accessKeyId}`,
};
