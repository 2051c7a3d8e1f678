/**
 * Matching the Principal / NotPrincipal element of resource-based (trust) policies.
 *
 * - `"*"` or `{"AWS": "*"}`: everyone.
 * - `{"AWS": "123456789012"}` or `arn:aws:iam::123456789012:root`: the account,
 *   which delegates to its identities ("any principal of that account"); the
 *   caller's identity policies must also allow.
 * - A user, role, or role-session ARN: that principal. A role ARN also matches
 *   every session of that role.
 * - A user or role ARN bound to a unique id when the trust policy was saved (see
 *   `CompileOptions.principalIds`): only the principal with that id (`AIDA…` / `AROA…`) and,
 *   for a role, its sessions. A user deleted and re-created under the same name is another
 *   principal, as in AWS.
 * - `{"Service": "ec2.amazonaws.com"}`, `{"Federated": ...}`: those principals.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
 */
import type { PrincipalElement } from "./document.js";
import { splitArn } from "./match.js";

export type PrincipalKind = "AWS" | "Service" | "Federated" | "CanonicalUser";

/** Who is asking, as resource-policy matching needs it. */
export interface PrincipalIdentity {
  readonly kind: PrincipalKind;
  /** ARN for AWS principals; the service or provider name otherwise. */
  readonly id: string;
  readonly accountId: string | undefined;
  /** For a role session: the role's ARN (`arn:aws:iam::ACCOUNT:role/path/Name`). */
  readonly roleArn: string | undefined;
  /** A user's unique id (`AIDA…`), when known. */
  readonly uniqueId?: string | undefined;
  /** For a role session: the role's unique id (`AROA…`), when known. */
  readonly roleId?: string | undefined;
}

/**
 * How a statement's principal matched:
 * - `principal`: this exact principal (or everyone, `*`);
 * - `role`: the role of this role session;
 * - `account`: the principal's account (delegation: identity policies must allow too).
 */
export type PrincipalMatch = "principal" | "role" | "account";

export interface CompiledPrincipal {
  readonly everyone: boolean;
  readonly arns: ReadonlySet<string>;
  /** Unique ids of the users and roles bound when the policy was saved. */
  readonly ids: ReadonlySet<string>;
  readonly accounts: ReadonlySet<string>;
  /** `ACCOUNT/RoleName` of role ARNs, to match sessions whose role ARN is not known. */
  readonly roleNames: ReadonlySet<string>;
  readonly services: ReadonlySet<string>;
  readonly federated: ReadonlySet<string>;
  readonly canonical: ReadonlySet<string>;
}

const ROOT = /^arn:[^:]+:iam::(\d{12}):root$/;
const ROLE = /^arn:[^:]+:iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/;
const SESSION = /^arn:[^:]+:sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/;

/**
 * `principalIds`: ARN -> unique id of the principals bound when the policy was saved; a bound
 * ARN matches by id only (an empty id matches nobody: the principal was gone when bound).
 */
export function compilePrincipal(
  element: PrincipalElement,
  principalIds?: Readonly<Record<string, string>>,
): CompiledPrincipal {
  const arns = new Set<string>();
  const ids = new Set<string>();
  const accounts = new Set<string>();
  const roleNames = new Set<string>();
  let everyone = element === "*";
  if (element !== "*") {
    for (const id of element.AWS ?? []) {
      if (id === "*") everyone = true;
      else if (/^\d{12}$/.test(id)) accounts.add(id);
      else if (principalIds !== undefined && Object.hasOwn(principalIds, id)) {
        const unique = principalIds[id];
        if (unique !== undefined && unique !== "") ids.add(unique);
      } else {
        const root = ROOT.exec(id);
        if (root?.[1] !== undefined) accounts.add(root[1]);
        else arns.add(id);
        const role = ROLE.exec(id);
        if (role !== null) roleNames.add(`${role[1]}/${role[2]}`);
      }
    }
  }
  const services = new Set(element === "*" ? [] : (element.Service ?? []).map((s) => s.toLowerCase()));
  const federated = new Set(element === "*" ? [] : (element.Federated ?? []));
  const canonical = new Set(element === "*" ? [] : (element.CanonicalUser ?? []));
  return { everyone, arns, ids, accounts, roleNames, services, federated, canonical };
}

export function matchPrincipal(
  principal: CompiledPrincipal,
  who: PrincipalIdentity,
): PrincipalMatch | undefined {
  if (principal.everyone) return "principal";
  switch (who.kind) {
    case "Service":
      return principal.services.has(who.id.toLowerCase()) || principal.services.has("*")
        ? "principal"
        : undefined;
    case "Federated":
      return principal.federated.has(who.id) ? "principal" : undefined;
    case "CanonicalUser":
      return principal.canonical.has(who.id) ? "principal" : undefined;
    case "AWS":
      break;
  }
  if (principal.ids.size > 0) {
    if (who.uniqueId !== undefined && principal.ids.has(who.uniqueId)) return "principal";
    if (who.roleId !== undefined && principal.ids.has(who.roleId)) return "role";
  }
  if (principal.arns.has(who.id)) return "principal";
  if (who.roleArn !== undefined && principal.arns.has(who.roleArn)) return "role";
  const session = SESSION.exec(who.id);
  if (session !== null && principal.roleNames.has(`${session[1]}/${session[2]}`)) return "role";
  const account = who.accountId ?? accountOf(who.id);
  if (account !== undefined && principal.accounts.has(account))
    return ROOT.test(who.id) ? "principal" : "account";
  return undefined;
}

/** The account field of an ARN, when it is a 12-digit account id. */
export function accountOf(arn: string): string | undefined {
  const account = splitArn(arn)[4];
  return account !== undefined && /^\d{12}$/.test(account) ? account : undefined;
}
