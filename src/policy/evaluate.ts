/**
 * Policy evaluation: who may do what, and which statements decided it.
 *
 * Within one account (the only kind iamdb has):
 * 1. An explicit Deny in any identity, boundary, session or resource policy wins.
 * 2. Otherwise the request is allowed when an identity policy allows it, and the
 *    permissions boundary (if set) allows it, and a session policy (if any were
 *    passed) allows it.
 * 3. A resource-based policy Allow that names the principal itself (user ARN,
 *    role-session ARN, or `*`) is enough on its own; one that names a role ARN
 *    stands in for the identity policy but is still limited by boundary and
 *    session policies; one that names the account delegates to identity policies.
 * 4. Anything else is an implicit deny.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html#access_policies_boundaries-eval-logic
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
 */
import type { CompiledPolicy, CompiledStatement } from "./compile.js";
import { evaluateCondition } from "./conditions.js";
import { ContextLookup, type RequestContext } from "./context.js";
import type { Effect } from "./document.js";
import { matchGlob } from "./match.js";
import {
  accountOf,
  matchPrincipal,
  type PrincipalIdentity,
  type PrincipalKind,
  type PrincipalMatch,
} from "./principal.js";

/** Where a statement came from. */
export type PolicyType = "identity" | "boundary" | "session" | "resource";

export type DecisionType = "allowed" | "explicitDeny" | "implicitDeny";

/** One statement that applied to the request (SimulatePrincipalPolicy's MatchedStatements). */
export interface MatchedStatement {
  readonly policyName: string | undefined;
  readonly policyId: string | undefined;
  readonly policyType: PolicyType;
  readonly sid: string | undefined;
  readonly effect: Effect;
  /** 0-based position in the policy's Statement array. */
  readonly statementIndex: number;
}

export interface Decision {
  readonly decision: DecisionType;
  /**
   * explicitDeny: every Deny that applied. allowed: every Allow that applied.
   * implicitDeny: the Allows that applied in some layers but not all.
   */
  readonly matchedStatements: readonly MatchedStatement[];
  /** Context keys the applicable statements read but the request did not carry. */
  readonly missingContextValues?: readonly string[];
  /** implicitDeny only: the policy types that needed an Allow and had none. */
  readonly missingAllowFrom?: readonly PolicyType[];
}

/**
 * Values of `aws:PrincipalType`, plus `Service` for service principals and
 * `Federated` for web-identity / SAML providers (trust policies' `"Federated"`).
 */
export type PrincipalType =
  | "Account"
  | "User"
  | "FederatedUser"
  | "AssumedRole"
  | "Anonymous"
  | "Service"
  | "Federated";

export interface RequestPrincipal {
  /** User, role-session or root ARN (a service name such as `ec2.amazonaws.com` for `Service`). */
  readonly arn: string;
  /** Inferred from the ARN when omitted. */
  readonly type?: PrincipalType;
  readonly accountId?: string;
  /** Friendly user name (`aws:username`, IAM users only). */
  readonly username?: string;
  /** Unique id (`aws:userid`), e.g. `AIDA...` or `AROA...:session`. */
  readonly userId?: string;
  /** Principal tags (`aws:PrincipalTag/<key>`). */
  readonly tags?: Readonly<Record<string, string>>;
  /** For role sessions: the role's ARN, with its path. */
  readonly roleArn?: string;
  /**
   * Keys the principal's session carries into every request: `aws:TokenIssueTime` of temporary
   * credentials, a web-identity session's `HOST/PATH:sub|aud|amr` and `aws:FederatedProvider`.
   * Added unless `context` has them.
   */
  readonly sessionContext?: RequestContext;
}

export interface EvaluationRequest {
  /** e.g. `rds-db:connect`; compared case-insensitively. */
  readonly action: string;
  /** e.g. `arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABC.../jane`; compared case-sensitively. */
  readonly resource: string;
  /** Adds `aws:PrincipalArn`, `aws:username`, `aws:userid`, `aws:PrincipalTag/*`, ... unless `context` has them. */
  readonly principal?: RequestPrincipal;
  /** Condition keys and values; key names are case-insensitive. */
  readonly context?: RequestContext;
  /** Adds `aws:CurrentTime` and `aws:EpochTime` unless `context` has them. */
  readonly now?: Date;
}

export interface PolicySet {
  /** The user's inline + attached + groups' policies, or the role's. */
  readonly identity: readonly CompiledPolicy[];
  /** The permissions boundary, when one is set. */
  readonly boundary?: CompiledPolicy;
  /** Session policies passed when the session was created; none means no restriction. */
  readonly session?: readonly CompiledPolicy[];
  /** A resource-based policy on the resource. */
  readonly resource?: CompiledPolicy;
}

interface Prepared {
  /** Actions compare case-insensitively: lower-cased once per request. */
  readonly actionLower: string;
  readonly resource: string;
  readonly context: ContextLookup;
  readonly principal: PrincipalIdentity | undefined;
}

/** Evaluates `request` against `policies`. Never throws. */
export function evaluate(request: EvaluationRequest, policies: PolicySet): Decision {
  const prepared = prepare(request.action, request.resource, request.principal, request.context, request.now);
  const missing = new Set<string>();
  const denies: MatchedStatement[] = [];
  const allows: Record<PolicyType, MatchedStatement[]> = {
    identity: [],
    boundary: [],
    session: [],
    resource: [],
  };
  let resourceGrantsPrincipal = false;
  let resourceGrantsRole = false;

  const scan = (policy: CompiledPolicy, type: PolicyType) => {
    for (const statement of policy.statements) {
      const match = statementApplies(statement, prepared, type === "resource", missing);
      if (match === undefined) continue;
      const matched = describe(policy, type, statement);
      if (statement.effect === "Deny") {
        denies.push(matched);
      } else {
        allows[type].push(matched);
        if (type === "resource" && match === "principal") resourceGrantsPrincipal = true;
        if (type === "resource" && match === "role") resourceGrantsRole = true;
      }
    }
  };
  for (const policy of policies.identity) scan(policy, "identity");
  if (policies.boundary !== undefined) scan(policies.boundary, "boundary");
  const sessions = policies.session ?? [];
  for (const policy of sessions) scan(policy, "session");
  if (policies.resource !== undefined) scan(policies.resource, "resource");

  const extra = missing.size > 0 ? { missingContextValues: [...missing] } : {};
  if (denies.length > 0) return { decision: "explicitDeny", matchedStatements: denies, ...extra };

  const matchedStatements = [...allows.identity, ...allows.boundary, ...allows.session, ...allows.resource];
  const lacking: PolicyType[] = [];
  if (allows.identity.length === 0 && !resourceGrantsRole) lacking.push("identity");
  if (policies.boundary !== undefined && allows.boundary.length === 0) lacking.push("boundary");
  if (sessions.length > 0 && allows.session.length === 0) lacking.push("session");
  if (resourceGrantsPrincipal || lacking.length === 0) {
    return { decision: "allowed", matchedStatements, ...extra };
  }
  return { decision: "implicitDeny", matchedStatements, missingAllowFrom: lacking, ...extra };
}

export interface TrustRequest {
  /** ARN of the principal asking to assume the role (service name for `Service`). */
  readonly principalArn: string;
  /** Inferred from the ARN when omitted. */
  readonly principalType?: PrincipalType;
  /** When the caller is itself a role session: that role's ARN. */
  readonly roleArn?: string;
  /**
   * The caller's `aws:userid`: `AIDA…` for a user, `AROA…:session` for a role session. Needed to
   * match principals the trust policy bound to unique ids.
   */
  readonly principalId?: string;
  /** Defaults to `sts:AssumeRole`. */
  readonly action?: string;
  readonly context?: RequestContext;
  readonly now?: Date;
}

export interface TrustDecision extends Decision {
  /**
   * True when the trust policy allowed only through an account principal
   * (`123456789012` / `arn:aws:iam::123456789012:root`): the account delegates,
   * so the caller's identity policies must also allow `sts:AssumeRole`.
   */
  readonly requiresIdentityAllow: boolean;
}

/**
 * Evaluates a role's trust policy for a principal that wants to assume the role.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-trust-policy
 */
export function evaluateTrust(trustPolicy: CompiledPolicy, request: TrustRequest): TrustDecision {
  const principal: RequestPrincipal = {
    arn: request.principalArn,
    ...(request.principalType === undefined ? {} : { type: request.principalType }),
    ...(request.roleArn === undefined ? {} : { roleArn: request.roleArn }),
    ...(request.principalId === undefined ? {} : { userId: request.principalId }),
  };
  const prepared = prepare(request.action ?? "sts:AssumeRole", "", principal, request.context, request.now);
  const missing = new Set<string>();
  const denies: MatchedStatement[] = [];
  const allows: MatchedStatement[] = [];
  let direct = false;
  for (const statement of trustPolicy.statements) {
    const match = statementApplies(statement, prepared, true, missing);
    if (match === undefined) continue;
    const matched = describe(trustPolicy, "resource", statement);
    if (statement.effect === "Deny") denies.push(matched);
    else {
      allows.push(matched);
      if (match !== "account") direct = true;
    }
  }
  const extra = missing.size > 0 ? { missingContextValues: [...missing] } : {};
  if (denies.length > 0) {
    return { decision: "explicitDeny", matchedStatements: denies, requiresIdentityAllow: false, ...extra };
  }
  if (allows.length > 0) {
    return { decision: "allowed", matchedStatements: allows, requiresIdentityAllow: !direct, ...extra };
  }
  return {
    decision: "implicitDeny",
    matchedStatements: [],
    missingAllowFrom: ["resource"],
    requiresIdentityAllow: false,
    ...extra,
  };
}

/**
 * Whether `statement` applies: action, resource, principal (resource policies
 * only) and every condition match. Returns how the principal matched, or
 * undefined when the statement does not apply.
 */
function statementApplies(
  statement: CompiledStatement,
  request: Prepared,
  resourceBased: boolean,
  missing: Set<string>,
): PrincipalMatch | undefined {
  const { actions, resources, principals } = statement;
  // NotAction: the statement applies to every action that matches none of the list.
  let actionHit = false;
  for (const glob of actions.globs) {
    if (matchGlob(glob, request.actionLower, true)) {
      actionHit = true;
      break;
    }
  }
  if (actionHit === actions.negated) return undefined;

  if (resources !== undefined) {
    let hit = false;
    let unresolved = false;
    for (const pattern of resources.patterns) {
      const resolved = pattern.resolve(request.context);
      if (!resolved.ok) {
        missing.add(resolved.missingKey);
        unresolved = true;
      } else if (matchGlob(resolved.value, request.resource)) {
        hit = true;
        break;
      }
    }
    // NotResource: applies when the resource matches none of the list; an
    // unresolvable variable leaves that undecided, so the statement does not apply.
    if (resources.negated ? hit || unresolved : !hit) return undefined;
  }

  let match: PrincipalMatch = "principal";
  if (resourceBased) {
    if (principals === undefined || request.principal === undefined) return undefined;
    const found = matchPrincipal(principals.principal, request.principal);
    if (principals.negated) {
      if (found !== undefined) return undefined;
    } else {
      if (found === undefined) return undefined;
      match = found;
    }
  }

  for (const { key, keyLower } of statement.referencedKeys) {
    if (!request.context.has(keyLower)) missing.add(key);
  }
  for (const condition of statement.conditions) {
    if (!evaluateCondition(condition, request.context)) return undefined;
  }
  return match;
}

function describe(
  policy: CompiledPolicy,
  policyType: PolicyType,
  statement: CompiledStatement,
): MatchedStatement {
  return {
    policyName: policy.name,
    policyId: policy.id,
    policyType,
    sid: statement.sid,
    effect: statement.effect,
    statementIndex: statement.index,
  };
}

function prepare(
  action: string,
  resource: string,
  principal: RequestPrincipal | undefined,
  context: RequestContext | undefined,
  now: Date | undefined,
): Prepared {
  const lookup = new ContextLookup(context);
  let identity: PrincipalIdentity | undefined;
  if (principal !== undefined) {
    const type = principal.type ?? inferPrincipalType(principal.arn);
    const accountId = principal.accountId ?? accountOf(principal.arn);
    const roleArn =
      principal.roleArn ?? (type === "AssumedRole" ? roleArnOfSession(principal.arn) : undefined);
    const kind: PrincipalKind = type === "Service" || type === "Federated" ? type : "AWS";
    const uniqueId = type === "User" ? principal.userId : undefined;
    const roleId = type === "AssumedRole" ? principal.userId?.split(":")[0] : undefined;
    identity = { kind, id: principal.arn, accountId, roleArn, uniqueId, roleId };
    // Global keys AWS puts in every request context.
    // @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn
    if (kind === "AWS") {
      lookup.setIfAbsent(
        "aws:PrincipalArn",
        type === "AssumedRole" ? (roleArn ?? principal.arn) : principal.arn,
      );
      lookup.setIfAbsent("aws:PrincipalAccount", accountId);
      lookup.setIfAbsent("aws:PrincipalType", type);
    }
    if (type === "User") lookup.setIfAbsent("aws:username", principal.username ?? userNameOf(principal.arn));
    lookup.setIfAbsent("aws:userid", principal.userId);
    for (const [key, value] of Object.entries(principal.tags ?? {}))
      lookup.setIfAbsent(`aws:PrincipalTag/${key}`, value);
    for (const [key, value] of Object.entries(principal.sessionContext ?? {})) lookup.setIfAbsent(key, value);
  }
  if (now !== undefined && !Number.isNaN(now.getTime())) {
    lookup.setIfAbsent("aws:CurrentTime", now);
    lookup.setIfAbsent("aws:EpochTime", Math.floor(now.getTime() / 1000));
  }
  return { actionLower: action.toLowerCase(), resource, context: lookup, principal: identity };
}

function inferPrincipalType(arn: string): PrincipalType | undefined {
  if (/^arn:[^:]+:iam::\d{12}:root$/.test(arn)) return "Account";
  if (/^arn:[^:]+:iam::\d{12}:user\//.test(arn)) return "User";
  if (/^arn:[^:]+:sts::\d{12}:assumed-role\//.test(arn)) return "AssumedRole";
  if (/^arn:[^:]+:sts::\d{12}:federated-user\//.test(arn)) return "FederatedUser";
  if (!arn.startsWith("arn:") && arn.includes(".")) return "Service";
  return undefined;
}

/** `arn:aws:sts::A:assumed-role/R/S` -> `arn:aws:iam::A:role/R` (the path is not in session ARNs). */
function roleArnOfSession(arn: string): string | undefined {
  const m = /^arn:([^:]+):sts::(\d{12}):assumed-role\/([^/]+)\/[^/]+$/.exec(arn);
  return m === null ? undefined : `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`;
}

/** `arn:aws:iam::A:user/path/jane` -> `jane`. */
function userNameOf(arn: string): string | undefined {
  const m = /^arn:[^:]+:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/.exec(arn);
  return m?.[1];
}
