import type { CompiledPolicy, PrincipalElement } from "../policy/index.js";
import { parseIamArn, roleArn, userArn } from "./arns.js";
import type { ServiceContext } from "./context.js";
import { MalformedPolicyDocumentError } from "./errors.js";
import { validatePolicy } from "./policy-port.js";
import type { RoleRecord } from "./records.js";

/**
 * Trust policies name users and roles by ARN, but mean the principal that had that ARN when the
 * policy was saved: IAM turns such an ARN into the principal's unique id on save, shows the ARN
 * again while the principal exists (its current ARN, after a rename), and the unique id once it
 * is gone. A user deleted and re-created under the same name is another principal and is not
 * trusted. iamdb keeps the text as written plus the ARN -> unique id bindings
 * (`RoleRecord.trustPrincipalIds`), matches bound ARNs by id (`compilePrincipal`) and rewrites
 * the ARNs on display.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-roles
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-users
 */

/** The `"AWS"` identifiers of every Principal and NotPrincipal of a parsed trust policy. */
function awsPrincipals(policy: CompiledPolicy): string[] {
  const out: string[] = [];
  const add = (e: PrincipalElement | undefined) => {
    if (e !== undefined && e !== "*") out.push(...(e.AWS ?? []));
  };
  for (const s of policy.document.statements) {
    add(s.principal);
    add(s.notPrincipal);
  }
  return out;
}

/** The unique id of the user or role of this account an ARN names, or undefined when there is none. */
async function uniqueIdOf(ctx: ServiceContext, arn: string): Promise<string | undefined | null> {
  const parsed = parseIamArn(ctx.account, arn);
  if (parsed === undefined || (parsed.kind !== "user" && parsed.kind !== "role")) return null;
  if (parsed.kind === "user") {
    const u = await ctx.repo.getUserByName(parsed.name);
    return u !== undefined && u.userName === parsed.name && u.path === parsed.path ? u.userId : undefined;
  }
  const r = await ctx.repo.getRoleByName(parsed.name);
  return r !== undefined && r.roleName === parsed.name && r.path === parsed.path ? r.roleId : undefined;
}

/**
 * Binds the specific users and roles of this account a trust policy names to their unique ids.
 * `save` refuses a principal that does not exist, as IAM does (MalformedPolicyDocument "Invalid
 * principal in policy"); `upgrade` (a policy saved before iamdb bound principals) binds a missing
 * one to nobody. Account principals, role sessions and other accounts' ARNs are not bound.
 * `known`: bindings decided by the caller (CreateRole: the role being created, which may trust
 * itself).
 */
export async function bindTrustPrincipals(
  ctx: ServiceContext,
  policy: CompiledPolicy,
  mode: "save" | "upgrade",
  known: Readonly<Record<string, string>> = {},
): Promise<Record<string, string>> {
  const ids: Record<string, string> = {};
  for (const arn of awsPrincipals(policy)) {
    if (Object.hasOwn(ids, arn)) continue;
    if (Object.hasOwn(known, arn)) {
      ids[arn] = known[arn] ?? "";
      continue;
    }
    const id = await uniqueIdOf(ctx, arn);
    if (id === null) continue;
    if (id === undefined && mode === "save") {
      throw new MalformedPolicyDocumentError(`Invalid principal in policy: "AWS":"${arn}"`);
    }
    ids[arn] = id ?? "";
  }
  return ids;
}

/**
 * The role's trust policy compiled with its bindings. A trust policy saved before iamdb bound
 * principals is bound now, to the principals that have those ARNs at this moment, and saved so.
 */
export async function compiledTrustPolicy(ctx: ServiceContext, role: RoleRecord): Promise<CompiledPolicy> {
  let ids = role.trustPrincipalIds;
  if (ids === undefined) {
    ids = await bindTrustPrincipals(ctx, validatePolicy(role.assumeRolePolicyDocument, "trust"), "upgrade");
    await ctx.repo.updateRole(role.roleId, {
      assumeRolePolicyDocument: role.assumeRolePolicyDocument,
      trustPrincipalIds: ids,
    });
  }
  return validatePolicy(role.assumeRolePolicyDocument, "trust", { principalIds: ids });
}

/**
 * The trust policy as GetRole shows it: a bound ARN is replaced by the principal's current ARN
 * when it was renamed or moved, and by its unique id once it is gone. The text as written when
 * nothing changed.
 */
export async function displayedTrustPolicy(ctx: ServiceContext, role: RoleRecord): Promise<string> {
  const ids = role.trustPrincipalIds;
  if (ids === undefined) return role.assumeRolePolicyDocument;
  const shown = new Map<string, string>();
  for (const [arn, id] of Object.entries(ids)) {
    if (id === "") continue;
    const now = await currentArn(ctx, id);
    const display = now ?? id;
    if (display !== arn) shown.set(arn, display);
  }
  if (shown.size === 0) return role.assumeRolePolicyDocument;
  // The stored text passed validation (valid JSON, no duplicate keys): parsing it is faithful.
  const doc = JSON.parse(role.assumeRolePolicyDocument) as { Statement: unknown };
  const replace = (element: unknown) => {
    if (typeof element !== "object" || element === null || !Object.hasOwn(element, "AWS")) return;
    const holder = element as { AWS: unknown };
    if (typeof holder.AWS === "string") holder.AWS = shown.get(holder.AWS) ?? holder.AWS;
    else if (Array.isArray(holder.AWS)) holder.AWS = holder.AWS.map((a) => shown.get(a as string) ?? a);
  };
  for (const s of Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) {
    if (typeof s !== "object" || s === null) continue;
    const statement = s as Record<string, unknown>;
    if (Object.hasOwn(statement, "Principal")) replace(statement.Principal);
    if (Object.hasOwn(statement, "NotPrincipal")) replace(statement.NotPrincipal);
  }
  return JSON.stringify(doc);
}

async function currentArn(ctx: ServiceContext, id: string): Promise<string | undefined> {
  if (id.startsWith("AIDA")) {
    const u = await ctx.repo.getUserById(id);
    return u === undefined ? undefined : userArn(ctx.account, u.path, u.userName);
  }
  const r = await ctx.repo.getRoleById(id);
  return r === undefined ? undefined : roleArn(ctx.account, r.path, r.roleName);
}
