import { type AccountConfig, groupArn, policyArn, roleArn, userArn } from "./arns.js";
import type {
  AccessKeyRecord,
  GroupRecord,
  ManagedPolicyRecord,
  PolicyVersionRecord,
  RoleRecord,
  UserRecord,
} from "./records.js";
import type { Tag } from "./tags.js";

/**
 * What operations return: the shapes of the IAM API's data types, with member names in
 * camelCase (`UserName` -> `userName`), so the Query-protocol layer only re-cases them.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_Types.html
 */
export interface PermissionsBoundary {
  readonly permissionsBoundaryType: "PermissionsBoundaryPolicy";
  readonly permissionsBoundaryArn: string;
}

export interface User {
  readonly path: string;
  readonly userName: string;
  readonly userId: string;
  readonly arn: string;
  readonly createDate: Date;
  readonly tags: readonly Tag[];
  readonly permissionsBoundary?: PermissionsBoundary | undefined;
}

export interface Group {
  readonly path: string;
  readonly groupName: string;
  readonly groupId: string;
  readonly arn: string;
  readonly createDate: Date;
}

export interface Role {
  readonly path: string;
  readonly roleName: string;
  readonly roleId: string;
  readonly arn: string;
  readonly createDate: Date;
  readonly assumeRolePolicyDocument: string;
  readonly description?: string | undefined;
  readonly maxSessionDuration: number;
  readonly tags: readonly Tag[];
  readonly permissionsBoundary?: PermissionsBoundary | undefined;
}

export interface AccessKeyMetadata {
  readonly userName: string;
  readonly accessKeyId: string;
  readonly status: "Active" | "Inactive";
  readonly createDate: Date;
}

/** CreateAccessKey's answer: the only time the secret is shown. */
export interface AccessKey extends AccessKeyMetadata {
  readonly secretAccessKey: string;
}

export interface AccessKeyLastUsed {
  readonly lastUsedDate?: Date | undefined;
  /** "N/A" until the key is used, as AWS answers. */
  readonly serviceName: string;
  readonly region: string;
}

export interface ManagedPolicy {
  readonly policyName: string;
  readonly policyId: string;
  readonly arn: string;
  readonly path: string;
  readonly defaultVersionId: string;
  readonly attachmentCount: number;
  readonly permissionsBoundaryUsageCount: number;
  readonly isAttachable: true;
  readonly description?: string | undefined;
  readonly createDate: Date;
  readonly updateDate: Date;
}

export interface PolicyVersion {
  readonly document: string;
  readonly versionId: string;
  readonly isDefaultVersion: boolean;
  readonly createDate: Date;
}

export interface AttachedPolicy {
  readonly policyName: string;
  readonly policyArn: string;
}

/** A page of a List* answer. `marker` is set when `isTruncated`; pass it back to continue. */
export interface Page<T> {
  readonly items: T[];
  readonly isTruncated: boolean;
  readonly marker?: string | undefined;
}

export function userView(a: AccountConfig, u: UserRecord, boundary?: ManagedPolicyRecord): User {
  return {
    path: u.path,
    userName: u.userName,
    userId: u.userId,
    arn: userArn(a, u.path, u.userName),
    createDate: u.createDate,
    tags: u.tags,
    permissionsBoundary: boundary && boundaryView(a, boundary),
  };
}

export function groupView(a: AccountConfig, g: GroupRecord): Group {
  return {
    path: g.path,
    groupName: g.groupName,
    groupId: g.groupId,
    arn: groupArn(a, g.path, g.groupName),
    createDate: g.createDate,
  };
}

export function roleView(a: AccountConfig, r: RoleRecord, boundary?: ManagedPolicyRecord): Role {
  return {
    path: r.path,
    roleName: r.roleName,
    roleId: r.roleId,
    arn: roleArn(a, r.path, r.roleName),
    createDate: r.createDate,
    assumeRolePolicyDocument: r.assumeRolePolicyDocument,
    description: r.description,
    maxSessionDuration: r.maxSessionDuration,
    tags: r.tags,
    permissionsBoundary: boundary && boundaryView(a, boundary),
  };
}

export function accessKeyView(userName: string, k: AccessKeyRecord): AccessKeyMetadata {
  return { userName, accessKeyId: k.accessKeyId, status: k.status, createDate: k.createDate };
}

export function policyView(a: AccountConfig, p: ManagedPolicyRecord): ManagedPolicy {
  return {
    policyName: p.policyName,
    policyId: p.policyId,
    arn: policyArn(a, p.path, p.policyName),
    path: p.path,
    defaultVersionId: p.defaultVersionId,
    attachmentCount: p.attachmentCount,
    permissionsBoundaryUsageCount: p.permissionsBoundaryUsageCount,
    isAttachable: true,
    description: p.description,
    createDate: p.createDate,
    updateDate: p.updateDate,
  };
}

export function versionView(v: PolicyVersionRecord): PolicyVersion {
  return {
    document: v.document,
    versionId: v.versionId,
    isDefaultVersion: v.isDefaultVersion,
    createDate: v.createDate,
  };
}

export function attachedView(a: AccountConfig, p: ManagedPolicyRecord): AttachedPolicy {
  return { policyName: p.policyName, policyArn: policyArn(a, p.path, p.policyName) };
}

function boundaryView(a: AccountConfig, p: ManagedPolicyRecord): PermissionsBoundary {
  return {
    permissionsBoundaryType: "PermissionsBoundaryPolicy",
    permissionsBoundaryArn: policyArn(a, p.path, p.policyName),
  };
}
