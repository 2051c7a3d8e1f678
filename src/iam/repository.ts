import type {
  AccessKeyRecord,
  GroupRecord,
  InlinePolicyRecord,
  KeyStatus,
  ManagedPolicyRecord,
  OidcProviderRecord,
  OwnerRef,
  PolicyVersionRecord,
  RolePolicyGraph,
  RoleRecord,
  SessionRecord,
  UserPolicyGraph,
  UserRecord,
} from "./records.js";
import type { Tag } from "./tags.js";

/**
 * Storage for the IAM model. Async so that a networked store (PostgreSQL) fits the same shape
 * as the embedded one (SQLite). Writes that must respect a quota or a conflict rule do the
 * check and the write atomically and report the outcome; the service turns outcomes into
 * AWS errors, so the wording lives in one place. Name arguments are matched without regard
 * to case, as IAM does.
 */
export interface UserRepository {
  /** False when a user with that name (in any case) exists. */
  insertUser(user: UserRecord): Promise<boolean>;
  getUserByName(userName: string): Promise<UserRecord | undefined>;
  getUserById(userId: string): Promise<UserRecord | undefined>;
  /** All users, ordered by name (case-insensitively). */
  listUsers(): Promise<UserRecord[]>;
  /** "exists" when the new name is taken by another user. */
  updateUser(userId: string, patch: UserPatch): Promise<"ok" | "missing" | "exists">;
  /** Refuses while the user has keys, inline or attached policies, or group memberships; drops its sessions. */
  deleteUser(userId: string): Promise<DeleteUserOutcome>;
}

export interface UserPatch {
  readonly userName?: string;
  readonly path?: string;
  readonly tags?: readonly Tag[];
  /** null removes the boundary. */
  readonly permissionsBoundaryPolicyId?: string | null;
}

export type DeleteUserOutcome =
  | "ok"
  | "missing"
  | "accessKeys"
  | "inlinePolicies"
  | "attachedPolicies"
  | "groups";

export interface GroupRepository {
  insertGroup(group: GroupRecord): Promise<boolean>;
  getGroupByName(groupName: string): Promise<GroupRecord | undefined>;
  listGroups(): Promise<GroupRecord[]>;
  updateGroup(
    groupId: string,
    patch: { groupName?: string; path?: string },
  ): Promise<"ok" | "missing" | "exists">;
  deleteGroup(groupId: string): Promise<"ok" | "missing" | "members" | "inlinePolicies" | "attachedPolicies">;
  /** Idempotent; "limit" when the user is already in `maxGroupsPerUser` groups. */
  addUserToGroup(
    groupId: string,
    userId: string,
    maxGroupsPerUser: number,
  ): Promise<"ok" | "limit" | "missing">;
  /** False when the user was not a member. */
  removeUserFromGroup(groupId: string, userId: string): Promise<boolean>;
  listGroupMembers(groupId: string): Promise<UserRecord[]>;
  listGroupsForUser(userId: string): Promise<GroupRecord[]>;
}

export interface RoleRepository {
  insertRole(role: RoleRecord): Promise<boolean>;
  getRoleByName(roleName: string): Promise<RoleRecord | undefined>;
  getRoleById(roleId: string): Promise<RoleRecord | undefined>;
  listRoles(): Promise<RoleRecord[]>;
  updateRole(roleId: string, patch: RolePatch): Promise<boolean>;
  /** Refuses while the role has inline or attached policies; drops its sessions. */
  deleteRole(roleId: string): Promise<"ok" | "missing" | "inlinePolicies" | "attachedPolicies">;
}

export interface RolePatch {
  readonly assumeRolePolicyDocument?: string;
  readonly trustPrincipalIds?: Readonly<Record<string, string>>;
  readonly description?: string;
  readonly maxSessionDuration?: number;
  readonly tags?: readonly Tag[];
  readonly permissionsBoundaryPolicyId?: string | null;
}

export interface AccessKeyRepository {
  /** "limit" when the user already has `maxPerUser` keys; "missing" when the user is gone. */
  insertAccessKey(key: AccessKeyRecord, maxPerUser: number): Promise<"ok" | "limit" | "missing">;
  getAccessKey(accessKeyId: string): Promise<AccessKeyRecord | undefined>;
  listAccessKeys(userId: string): Promise<AccessKeyRecord[]>;
  updateAccessKeyStatus(accessKeyId: string, status: KeyStatus): Promise<boolean>;
  deleteAccessKey(accessKeyId: string): Promise<boolean>;
  /** Last-used bookkeeping; never invalidates caches. */
  recordAccessKeyUse(accessKeyId: string, when: Date, service: string, region: string): Promise<void>;
}

export interface SessionRepository {
  insertSession(session: SessionRecord): Promise<void>;
  getSession(accessKeyId: string): Promise<SessionRecord | undefined>;
  /** Removes sessions that expired before `before`; returns how many. */
  deleteExpiredSessions(before: Date): Promise<number>;
}

/** OpenID Connect providers, by URL (`HOST/PATH`, compared exactly). */
export interface OidcProviderRepository {
  /** False when a provider with that URL exists. */
  insertOidcProvider(provider: OidcProviderRecord): Promise<boolean>;
  getOidcProvider(url: string): Promise<OidcProviderRecord | undefined>;
  /** All providers, ordered by URL. */
  listOidcProviders(): Promise<OidcProviderRecord[]>;
  /**
   * Reads the provider and writes `change(current)` in one transaction (a throw from `change`
   * rolls back), so concurrent client-id additions respect the quota. False when it is gone.
   */
  updateOidcProvider(
    url: string,
    change: (current: OidcProviderRecord) => OidcProviderPatch,
  ): Promise<boolean>;
  deleteOidcProvider(url: string): Promise<boolean>;
}

export interface OidcProviderPatch {
  readonly clientIds?: readonly string[];
  readonly thumbprints?: readonly string[];
  readonly tags?: readonly Tag[];
  /** null removes the static JWKS. */
  readonly staticJwks?: string | null;
}

export interface ManagedPolicyRepository {
  /** Creates the policy with version v1 as default. False when the name is taken. */
  insertPolicy(policy: NewManagedPolicy, document: string): Promise<boolean>;
  getPolicyByName(policyName: string): Promise<ManagedPolicyRecord | undefined>;
  getPolicyById(policyId: string): Promise<ManagedPolicyRecord | undefined>;
  listPolicies(): Promise<ManagedPolicyRecord[]>;
  /** Refuses while attached, used as a boundary, or holding versions besides the default. */
  deletePolicy(policyId: string): Promise<"ok" | "missing" | "attached" | "boundary" | "versions">;
  /** Numbers the version (v1, v2, … never reused); "limit" at `maxVersions`. */
  insertPolicyVersion(
    policyId: string,
    document: string,
    setAsDefault: boolean,
    when: Date,
    maxVersions: number,
  ): Promise<{ outcome: "ok"; versionId: string } | { outcome: "limit" | "missing" }>;
  getPolicyVersion(policyId: string, versionId: string): Promise<PolicyVersionRecord | undefined>;
  listPolicyVersions(policyId: string): Promise<PolicyVersionRecord[]>;
  deletePolicyVersion(policyId: string, versionId: string): Promise<"ok" | "missing" | "default">;
  setDefaultPolicyVersion(policyId: string, versionId: string, when: Date): Promise<boolean>;
}

export interface NewManagedPolicy {
  readonly policyId: string;
  readonly policyName: string;
  readonly path: string;
  readonly description?: string | undefined;
  readonly createDate: Date;
}

export interface PolicyAttachmentRepository {
  /** Idempotent; "limit" when the owner already has `maxAttached` other policies. */
  attachPolicy(owner: OwnerRef, policyId: string, maxAttached: number): Promise<"ok" | "limit" | "missing">;
  /** False when the policy was not attached. */
  detachPolicy(owner: OwnerRef, policyId: string): Promise<boolean>;
  listAttachedPolicies(owner: OwnerRef): Promise<ManagedPolicyRecord[]>;
  /** Creates or replaces. "missing" when the owner is gone. */
  putInlinePolicy(owner: OwnerRef, policyName: string, document: string): Promise<"ok" | "missing">;
  getInlinePolicy(owner: OwnerRef, policyName: string): Promise<InlinePolicyRecord | undefined>;
  deleteInlinePolicy(owner: OwnerRef, policyName: string): Promise<boolean>;
  listInlinePolicies(owner: OwnerRef): Promise<InlinePolicyRecord[]>;
}

export interface PolicyGraphRepository {
  loadUserPolicyGraph(userId: string): Promise<UserPolicyGraph | undefined>;
  loadRolePolicyGraph(roleId: string): Promise<RolePolicyGraph | undefined>;
}

/**
 * What a cache must drop. `credential` names one key (status change, deletion); `all` is sent
 * for every other change that can alter an authorization (policies, memberships, principals),
 * and when changes may have been missed. `deployment` names a kind of deployment state
 * (instances, DB accounts, fleet members: `src/instances/repository.ts`); IAM caches ignore it.
 */
export type Invalidation =
  | { readonly scope: "credential"; readonly accessKeyId: string }
  | { readonly scope: "deployment"; readonly kind: "instances" | "dbAccounts" | "fleet" | "sessions" }
  | { readonly scope: "all" };

/** How caches learn of changes, including changes made by other processes. */
export interface ChangeFeed {
  /** Registers a listener; returns the function that removes it. */
  subscribe(listener: (change: Invalidation) => void): () => void;
  /**
   * Brings the feed up to date before a cached read. SQLite compares `PRAGMA data_version`
   * (changes by other connections); PostgreSQL is pushed by LISTEN/NOTIFY and does nothing here.
   */
  poll(): void;
  /** False while the store cannot promise notifications (PostgreSQL listener reconnecting): do not cache. */
  readonly live: boolean;
}

export interface IamRepository
  extends UserRepository,
    GroupRepository,
    RoleRepository,
    AccessKeyRepository,
    SessionRepository,
    OidcProviderRepository,
    ManagedPolicyRepository,
    PolicyAttachmentRepository,
    PolicyGraphRepository {
  readonly changes: ChangeFeed;
  close(): Promise<void>;
}
