import type { Tag } from "../iam/tags.js";
import type {
  AccessKeyMetadata,
  AttachedPolicy,
  Group,
  ManagedPolicy,
  Page,
  PermissionsBoundary,
  PolicyVersion,
  Role,
  User,
} from "../iam/views.js";
import type { DbInstance, InstanceRegistry } from "../instances/types.js";
import { type XmlObject, type XmlValue, xmlList } from "./xml.js";

/**
 * The IAM, STS and RDS data types as XML members, from the control plane's camelCase views.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_Types.html
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html
 */

/** IAM returns policy documents URL-encoded (RFC 3986); the SDKs leave decoding to the caller. */
export const encodePolicy = (document: string) => encodeURIComponent(document);

export const tagXml = (t: Tag): XmlObject => ({ Key: t.key, Value: t.value });

const tagsXml = (tags: readonly Tag[]) => (tags.length === 0 ? undefined : xmlList(tags.map(tagXml)));

const boundaryXml = (b: PermissionsBoundary | undefined): XmlObject | undefined =>
  b && {
    PermissionsBoundaryType: b.permissionsBoundaryType,
    PermissionsBoundaryArn: b.permissionsBoundaryArn,
  };

export const userXml = (u: User): XmlObject => ({
  Path: u.path,
  UserName: u.userName,
  UserId: u.userId,
  Arn: u.arn,
  CreateDate: u.createDate,
  PermissionsBoundary: boundaryXml(u.permissionsBoundary),
  Tags: tagsXml(u.tags),
});

export const groupXml = (g: Group): XmlObject => ({
  Path: g.path,
  GroupName: g.groupName,
  GroupId: g.groupId,
  Arn: g.arn,
  CreateDate: g.createDate,
});

export const roleXml = (r: Role): XmlObject => ({
  Path: r.path,
  RoleName: r.roleName,
  RoleId: r.roleId,
  Arn: r.arn,
  CreateDate: r.createDate,
  AssumeRolePolicyDocument: encodePolicy(r.assumeRolePolicyDocument),
  Description: r.description,
  MaxSessionDuration: r.maxSessionDuration,
  PermissionsBoundary: boundaryXml(r.permissionsBoundary),
  Tags: tagsXml(r.tags),
});

export const accessKeyMetadataXml = (k: AccessKeyMetadata): XmlObject => ({
  UserName: k.userName,
  AccessKeyId: k.accessKeyId,
  Status: k.status,
  CreateDate: k.createDate,
});

export const policyXml = (p: ManagedPolicy): XmlObject => ({
  PolicyName: p.policyName,
  PolicyId: p.policyId,
  Arn: p.arn,
  Path: p.path,
  DefaultVersionId: p.defaultVersionId,
  AttachmentCount: p.attachmentCount,
  PermissionsBoundaryUsageCount: p.permissionsBoundaryUsageCount,
  IsAttachable: p.isAttachable,
  Description: p.description,
  CreateDate: p.createDate,
  UpdateDate: p.updateDate,
});

export const versionXml = (v: PolicyVersion, withDocument = true): XmlObject => ({
  Document: withDocument ? encodePolicy(v.document) : undefined,
  VersionId: v.versionId,
  IsDefaultVersion: v.isDefaultVersion,
  CreateDate: v.createDate,
});

export const attachedXml = (p: AttachedPolicy): XmlObject => ({
  PolicyName: p.policyName,
  PolicyArn: p.policyArn,
});

/** A List* result: `{[listName]: [...], IsTruncated, Marker}`. */
export function pageXml<T>(listName: string, page: Page<T>, item: (t: T) => XmlValue): XmlObject {
  return {
    [listName]: xmlList(page.items.map(item)),
    IsTruncated: page.isTruncated,
    Marker: page.marker,
  };
}

/** RDS lists name their members after the element type (`<DBInstance>`, `<Tag>`). */
export const rdsTagListXml = (tags: readonly { key: string; value: string }[]) =>
  xmlList(tags.map(tagXml), "Tag");

export function dbInstanceXml(registry: InstanceRegistry, i: DbInstance): XmlObject {
  return {
    DBInstanceIdentifier: i.identifier,
    Engine: i.engine,
    DBInstanceStatus: "available",
    Endpoint: { Address: i.endpoints[0] ?? i.listen.host, Port: i.port },
    InstanceCreateTime: i.createdAt,
    DbiResourceId: i.dbiResourceId,
    IAMDatabaseAuthenticationEnabled: i.iamAuthEnabled,
    DBInstanceArn: registry.arn(i),
    TagList: rdsTagListXml(i.tags),
  };
}
