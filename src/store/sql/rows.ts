import type {
  AccessKeyRecord,
  GroupRecord,
  KeyStatus,
  ManagedPolicyRecord,
  PolicyVersionRecord,
  RoleRecord,
  SessionRecord,
  UserRecord,
  WebIdentityClaims,
} from "../../iam/records.js";
import type { Tag } from "../../iam/tags.js";
import type { Row } from "./driver.js";

/** Row to record mapping. Times are stored as epoch milliseconds in a BIGINT / INTEGER column. */
export function str(row: Row, col: string): string {
  const v = row[col];
  if (typeof v !== "string") throw new TypeError(`column ${col} is not text`);
  return v;
}

export function optStr(row: Row, col: string): string | undefined {
  const v = row[col];
  return v === null || v === undefined ? undefined : String(v);
}

/** PostgreSQL returns BIGINT as a string to avoid precision loss; our values fit a double. */
export function num(row: Row, col: string): number {
  const v = row[col];
  if (typeof v === "number") return v;
  if (typeof v === "string" || typeof v === "bigint") return Number(v);
  throw new TypeError(`column ${col} is not numeric`);
}

export function date(row: Row, col: string): Date {
  return new Date(num(row, col));
}

export function optDate(row: Row, col: string): Date | undefined {
  const v = row[col];
  return v === null || v === undefined ? undefined : date(row, col);
}

export function tags(row: Row, col: string): Tag[] {
  return JSON.parse(str(row, col)) as Tag[];
}

export const encodeTags = (t: readonly Tag[]): string =>
  JSON.stringify(t.map((x) => ({ key: x.key, value: x.value })));

/** Case-insensitive key for name uniqueness; computed in code so both databases agree. */
export const nameKey = (name: string): string => name.toLowerCase();

export const userFromRow = (r: Row): UserRecord => ({
  userId: str(r, "user_id"),
  userName: str(r, "user_name"),
  path: str(r, "path"),
  createDate: date(r, "create_date"),
  tags: tags(r, "tags"),
  permissionsBoundaryPolicyId: optStr(r, "boundary_policy_id"),
});

export const groupFromRow = (r: Row): GroupRecord => ({
  groupId: str(r, "group_id"),
  groupName: str(r, "group_name"),
  path: str(r, "path"),
  createDate: date(r, "create_date"),
});

/** The trust_principal_ids column, present only when set (records compare equal otherwise). */
function trustPrincipalIds(r: Row): { trustPrincipalIds?: Record<string, string> } {
  const text = optStr(r, "trust_principal_ids");
  return text === undefined ? {} : { trustPrincipalIds: JSON.parse(text) as Record<string, string> };
}

export const roleFromRow = (r: Row): RoleRecord => ({
  roleId: str(r, "role_id"),
  roleName: str(r, "role_name"),
  path: str(r, "path"),
  createDate: date(r, "create_date"),
  assumeRolePolicyDocument: str(r, "trust_policy"),
  ...trustPrincipalIds(r),
  description: optStr(r, "description"),
  maxSessionDuration: num(r, "max_session_duration"),
  tags: tags(r, "tags"),
  permissionsBoundaryPolicyId: optStr(r, "boundary_policy_id"),
});

export const accessKeyFromRow = (r: Row): AccessKeyRecord => ({
  accessKeyId: str(r, "access_key_id"),
  userId: str(r, "user_id"),
  sealedSecret: str(r, "secret"),
  status: str(r, "status") as KeyStatus,
  createDate: date(r, "create_date"),
  lastUsedDate: optDate(r, "last_used_date"),
  lastUsedService: optStr(r, "last_used_service"),
  lastUsedRegion: optStr(r, "last_used_region"),
});

export function sessionFromRow(r: Row): SessionRecord {
  const kind = str(r, "subject_kind");
  const id = str(r, "subject_id");
  return {
    accessKeyId: str(r, "access_key_id"),
    sealedSecret: str(r, "secret"),
    sealedSessionToken: str(r, "session_token"),
    subject:
      kind === "role"
        ? { kind, roleId: id, sessionName: str(r, "session_name") }
        : { kind: "user", userId: id },
    sessionPolicy: optStr(r, "session_policy"),
    sessionPolicyArns: optJsonStrings(r, "session_policy_arns"),
    sessionTags: optStr(r, "session_tags") === undefined ? undefined : tags(r, "session_tags"),
    transitiveTagKeys: optJsonStrings(r, "transitive_tag_keys"),
    ...webIdentity(r),
    createDate: date(r, "create_date"),
    expiresAt: date(r, "expires_at"),
  };
}

/** The web_identity column, present only when set (records compare equal otherwise). */
function webIdentity(r: Row): { webIdentity?: WebIdentityClaims } {
  const text = optStr(r, "web_identity");
  return text === undefined ? {} : { webIdentity: JSON.parse(text) as WebIdentityClaims };
}

function optJsonStrings(row: Row, col: string): string[] | undefined {
  const text = optStr(row, col);
  return text === undefined ? undefined : (JSON.parse(text) as string[]);
}

/** Expects the counts selected by POLICY_COLUMNS. */
export const policyFromRow = (r: Row): ManagedPolicyRecord => ({
  policyId: str(r, "policy_id"),
  policyName: str(r, "policy_name"),
  path: str(r, "path"),
  description: optStr(r, "description"),
  defaultVersionId: str(r, "default_version_id"),
  createDate: date(r, "create_date"),
  updateDate: date(r, "update_date"),
  attachmentCount: num(r, "attachment_count"),
  permissionsBoundaryUsageCount: num(r, "boundary_count"),
});

export const versionFromRow = (r: Row, defaultVersionId: string): PolicyVersionRecord => ({
  policyId: str(r, "policy_id"),
  versionId: str(r, "version_id"),
  document: str(r, "document"),
  createDate: date(r, "create_date"),
  isDefaultVersion: str(r, "version_id") === defaultVersionId,
});

/** Managed-policy columns with usage counts; alias the policy table `p`. */
export const POLICY_COLUMNS = `p.policy_id, p.policy_name, p.path, p.description, p.default_version_id,
  p.create_date, p.update_date,
  (SELECT COUNT(*) FROM policy_attachments a WHERE a.policy_id = p.policy_id) AS attachment_count,
  ((SELECT COUNT(*) FROM users u WHERE u.boundary_policy_id = p.policy_id)
   + (SELECT COUNT(*) FROM roles r WHERE r.boundary_policy_id = p.policy_id)) AS boundary_count`;
