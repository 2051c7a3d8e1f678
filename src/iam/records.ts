import type { Tag } from "./tags.js";

/**
 * What the store keeps. ARNs are not stored: they follow from path, name and the deployment's
 * account (see arns.ts), so renaming a user or changing the account id needs no data rewrite.
 * Names are unique without regard to case, as in IAM, and keep the case they were created with.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-names
 */
export interface UserRecord {
  readonly userId: string;
  readonly userName: string;
  readonly path: string;
  readonly createDate: Date;
  readonly tags: readonly Tag[];
  readonly permissionsBoundaryPolicyId?: string | undefined;
}

export interface GroupRecord {
  readonly groupId: string;
  readonly groupName: string;
  readonly path: string;
  readonly createDate: Date;
}

export interface RoleRecord {
  readonly roleId: string;
  readonly roleName: string;
  readonly path: string;
  readonly createDate: Date;
  readonly assumeRolePolicyDocument: string;
  /**
   * The specific users and roles the trust policy names, bound to their unique ids when it was
   * saved (ARN as written -> `AIDA…` / `AROA…`; "" for one that did not exist). Undefined for a
   * trust policy saved before iamdb bound principals (bound at its next use).
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles
   */
  readonly trustPrincipalIds?: Readonly<Record<string, string>> | undefined;
  readonly description?: string | undefined;
  readonly maxSessionDuration: number;
  readonly tags: readonly Tag[];
  readonly permissionsBoundaryPolicyId?: string | undefined;
}

export type KeyStatus = "Active" | "Inactive";

/** A long-term access key. The secret is sealed (see secret-box.ts); the store never sees it in clear. */
export interface AccessKeyRecord {
  readonly accessKeyId: string;
  readonly userId: string;
  readonly sealedSecret: string;
  readonly status: KeyStatus;
  readonly createDate: Date;
  readonly lastUsedDate?: Date | undefined;
  readonly lastUsedService?: string | undefined;
  readonly lastUsedRegion?: string | undefined;
}

/** Who a temporary credential speaks for: a user (GetSessionToken) or a role session (AssumeRole). */
export type SessionSubject =
  | { readonly kind: "user"; readonly userId: string }
  | { readonly kind: "role"; readonly roleId: string; readonly sessionName: string };

/** Temporary (STS) credentials. Secret and session token are sealed. */
export interface SessionRecord {
  readonly accessKeyId: string;
  readonly sealedSecret: string;
  readonly sealedSessionToken: string;
  readonly subject: SessionSubject;
  /** The inline session policy (AssumeRole `Policy`). */
  readonly sessionPolicy?: string | undefined;
  /**
   * Managed session policies (AssumeRole `PolicyArns`), by ARN: evaluated with the policy's
   * default version at the time of each request, like attached managed policies.
   */
  readonly sessionPolicyArns?: readonly string[] | undefined;
  /**
   * Session tags: those passed to AssumeRole plus the transitive tags inherited from the calling
   * session. They become `aws:PrincipalTag/*` and override the role's tags with the same key.
   */
  readonly sessionTags?: readonly Tag[] | undefined;
  /** Keys of `sessionTags` that pass on to sessions this session creates (role chaining). */
  readonly transitiveTagKeys?: readonly string[] | undefined;
  /** AssumeRoleWithWebIdentity sessions: what the token said, for the `HOST/PATH:sub|aud|amr` keys. */
  readonly webIdentity?: WebIdentityClaims | undefined;
  readonly createDate: Date;
  readonly expiresAt: Date;
}

/**
 * The claims of the web identity token a role session was created with. They become the
 * condition keys `HOST/PATH:sub`, `HOST/PATH:aud`, `HOST/PATH:amr` (and `aws:FederatedProvider`)
 * of every request the session makes, as in AWS.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
 */
export interface WebIdentityClaims {
  /** The provider's URL without `https://` (`HOST/PATH`), as in its ARN. */
  readonly provider: string;
  readonly subject: string;
  /** The client id (`aud` value) that matched the provider's list. */
  readonly audience: string;
  readonly amr?: readonly string[] | undefined;
}

/**
 * An IAM OpenID Connect identity provider. `url` is the issuer without `https://` (`HOST/PATH`),
 * which is also the ARN's resource (`oidc-provider/HOST/PATH`) and the prefix of its condition keys.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
 */
export interface OidcProviderRecord {
  readonly url: string;
  readonly clientIds: readonly string[];
  /** SHA-1 thumbprints (40 lower-case hex) of certificates trusted for the issuer's HTTPS. */
  readonly thumbprints: readonly string[];
  readonly tags: readonly Tag[];
  readonly createDate: Date;
  /**
   * iamdb only: a JWKS (JSON text) used instead of fetching the issuer's keys, for issuers the
   * control plane cannot reach (`iamdb:PutOpenIDConnectProviderJwks`).
   */
  readonly staticJwks?: string | undefined;
}

export interface ManagedPolicyRecord {
  readonly policyId: string;
  readonly policyName: string;
  readonly path: string;
  readonly description?: string | undefined;
  readonly defaultVersionId: string;
  readonly createDate: Date;
  readonly updateDate: Date;
  /** Users, groups and roles the policy is attached to. */
  readonly attachmentCount: number;
  /** Users and roles that use the policy as their permissions boundary. */
  readonly permissionsBoundaryUsageCount: number;
}

export interface PolicyVersionRecord {
  readonly policyId: string;
  readonly versionId: string;
  readonly document: string;
  readonly createDate: Date;
  readonly isDefaultVersion: boolean;
}

export type OwnerKind = "user" | "group" | "role";

/** The user, group or role that holds an inline policy or an attachment. */
export interface OwnerRef {
  readonly kind: OwnerKind;
  readonly id: string;
}

export interface InlinePolicyRecord {
  readonly policyName: string;
  readonly document: string;
}

/** A managed policy with the document of its default version, as evaluation needs it. */
export interface AttachedDocument {
  readonly policy: ManagedPolicyRecord;
  readonly document: string;
}

/** Everything that decides a user's permissions, read in one go. */
export interface UserPolicyGraph {
  readonly user: UserRecord;
  readonly inline: readonly InlinePolicyRecord[];
  readonly attached: readonly AttachedDocument[];
  readonly groups: readonly {
    readonly group: GroupRecord;
    readonly inline: readonly InlinePolicyRecord[];
    readonly attached: readonly AttachedDocument[];
  }[];
  readonly boundary?: AttachedDocument | undefined;
}

/** Everything that decides a role's permissions, read in one go. */
export interface RolePolicyGraph {
  readonly role: RoleRecord;
  readonly inline: readonly InlinePolicyRecord[];
  readonly attached: readonly AttachedDocument[];
  readonly boundary?: AttachedDocument | undefined;
}
