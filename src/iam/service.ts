import type { AccountConfig } from "./arns.js";
import type { ServiceContext } from "./context.js";
import { IamLookup, type LookupOptions } from "./lookup.js";
import { type OidcKeyOptions, OidcKeyStore } from "./oidc/keys.js";
import { type AccessKeyOperations, accessKeyOperations } from "./ops/access-keys.js";
import { type GroupOperations, groupOperations } from "./ops/groups.js";
import { type ManagedPolicyOperations, managedPolicyOperations } from "./ops/managed-policies.js";
import { type OidcProviderOperations, oidcProviderOperations } from "./ops/oidc-providers.js";
import { type PolicyHolderOperations, policyHolderOperations } from "./ops/policy-holders.js";
import { type RoleOperations, roleOperations } from "./ops/roles.js";
import { type StsOperations, stsOperations } from "./ops/sts.js";
import { type UserOperations, userOperations } from "./ops/users.js";
import {
  type WebIdentityOperations,
  type WebIdentityOptions,
  webIdentityOperations,
} from "./ops/web-identity.js";
import type { IamRepository } from "./repository.js";
import { SecretBox } from "./secret-box.js";

export interface IamServiceOptions {
  readonly repository: IamRepository;
  /** 32-byte key that seals secrets at rest (see store/master-key.ts). */
  readonly masterKey: Uint8Array;
  /** The 12-digit account id in every ARN. */
  readonly accountId: string;
  /** ARN partition. Default `aws`. */
  readonly partition?: string;
  /** Injected clock. Default `() => new Date()`. */
  readonly now?: () => Date;
  readonly cacheEntries?: LookupOptions["cacheEntries"];
  readonly keyUseIntervalMs?: LookupOptions["keyUseIntervalMs"];
  /** How OpenID Connect providers' keys are fetched and cached, and the web identity token skew. */
  readonly oidc?: OidcKeyOptions & WebIdentityOptions;
}

/**
 * The control plane: every IAM / STS action the admin API exposes (method names are the
 * action names in camelCase, `CreateUser` -> `createUser`), plus the read path the gateway
 * uses (`lookupCredential`, `policySetFor`, `recordKeyUse`).
 */
export type IamService = UserOperations &
  GroupOperations &
  RoleOperations &
  AccessKeyOperations &
  ManagedPolicyOperations &
  PolicyHolderOperations &
  OidcProviderOperations &
  StsOperations &
  WebIdentityOperations & {
    readonly account: AccountConfig;
    readonly lookupCredential: IamLookup["lookupCredential"];
    readonly policySetFor: IamLookup["policySetFor"];
    readonly recordKeyUse: IamLookup["recordKeyUse"];
    /** Stops listening for changes and closes the repository. */
    close(): Promise<void>;
  };

export class ConfigurationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigurationError";
  }
}

export function createIamService(options: IamServiceOptions): IamService {
  if (!/^\d{12}$/.test(options.accountId)) {
    throw new ConfigurationError(
      `The account id must be 12 digits, like 123456789012; got "${options.accountId}".`,
    );
  }
  const partition = options.partition ?? "aws";
  if (!/^aws(-[a-z]+)*$/.test(partition)) {
    throw new ConfigurationError(
      `The ARN partition must look like aws, aws-cn or aws-us-gov; got "${partition}".`,
    );
  }
  const account: AccountConfig = { accountId: options.accountId, partition };
  const ctx: ServiceContext = {
    repo: options.repository,
    secrets: new SecretBox(options.masterKey),
    account,
    now: options.now ?? (() => new Date()),
  };
  const lookup = new IamLookup({
    repo: ctx.repo,
    secrets: ctx.secrets,
    account,
    ...(options.cacheEntries === undefined ? {} : { cacheEntries: options.cacheEntries }),
    ...(options.keyUseIntervalMs === undefined ? {} : { keyUseIntervalMs: options.keyUseIntervalMs }),
  });
  const oidcKeys = new OidcKeyStore(ctx.now, options.oidc);
  return {
    ...userOperations(ctx),
    ...groupOperations(ctx),
    ...roleOperations(ctx),
    ...accessKeyOperations(ctx),
    ...managedPolicyOperations(ctx),
    ...policyHolderOperations(ctx),
    ...oidcProviderOperations(ctx, oidcKeys),
    ...stsOperations(ctx, lookup),
    ...webIdentityOperations(ctx, oidcKeys, options.oidc),
    account,
    lookupCredential: (id) => lookup.lookupCredential(id),
    policySetFor: (p) => lookup.policySetFor(p),
    recordKeyUse: (id, service, region, when) => lookup.recordKeyUse(id, service, region, when),
    close: async () => {
      lookup.close();
      await ctx.repo.close();
    },
  };
}
