import { type CompiledPolicy, compileDocument, compilePolicy, type PolicyKind } from "../policy/index.js";
import { type AccountConfig, policyArn, roleArn, userArn } from "./arns.js";
import type { AttachedDocument, InlinePolicyRecord, RolePolicyGraph, UserPolicyGraph } from "./records.js";
import { tagsToRecord } from "./tags.js";

/** A principal's standing permissions, compiled once per cache fill. */
export interface CompiledGraph {
  readonly arn: string;
  readonly name: string;
  readonly id: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly identity: readonly CompiledPolicy[];
  readonly boundary?: CompiledPolicy | undefined;
}

/**
 * A stored policy no longer compiles (for instance after an upgrade made validation stricter).
 * Authorization fails closed: skipping the policy could drop a Deny.
 */
export class StoredPolicyError extends Error {
  constructor(policy: string, cause: unknown) {
    super(
      `The stored policy ${policy} cannot be evaluated: ${cause instanceof Error ? cause.message : String(cause)}. ` +
        "Rewrite it with a valid document (put-*-policy or create-policy-version).",
      { cause },
    );
    this.name = "StoredPolicyError";
  }
}

/**
 * Compiled policies by kind, id, name and exact text. A compiled policy is immutable and a
 * pure function of those, so sharing one is always correct, and a managed or group policy
 * that many principals share is compiled once, not once per principal whose cache fills.
 */
const compiled = new Map<string, CompiledPolicy>();
const COMPILED_MAX = 4096;

function compile(text: string, kind: PolicyKind, name: string, id: string): CompiledPolicy {
  const key = `${kind}\0${id}\0${name}\0${text}`;
  const hit = compiled.get(key);
  if (hit !== undefined) return hit;
  let policy: CompiledPolicy;
  try {
    policy = compilePolicy(text, { kind, name, id });
  } catch (e) {
    throw new StoredPolicyError(id, e);
  }
  if (compiled.size >= COMPILED_MAX) {
    const oldest = compiled.keys().next();
    if (oldest.done !== true) compiled.delete(oldest.value);
  }
  compiled.set(key, policy);
  return policy;
}

/**
 * Decisions name each policy: managed ones by ARN, inline ones as `KIND/OWNER/POLICY` (they have
 * no ARN), so the auth error log tells a group's inline policy from the user's own.
 */
const inline = (kind: "user" | "group" | "role", owner: string, p: InlinePolicyRecord) =>
  compile(p.document, `identity-inline-${kind}`, p.policyName, `${kind}/${owner}/${p.policyName}`);

const managed = (a: AccountConfig, d: AttachedDocument) =>
  compile(
    d.document,
    "identity-managed",
    d.policy.policyName,
    policyArn(a, d.policy.path, d.policy.policyName),
  );

/** User inline, user attached, then each group's inline and attached; the order shows in decisions. */
export function compileUserGraph(a: AccountConfig, g: UserPolicyGraph): CompiledGraph {
  const { user } = g;
  const identity = [
    ...g.inline.map((p) => inline("user", user.userName, p)),
    ...g.attached.map((d) => managed(a, d)),
    ...g.groups.flatMap((x) => [
      ...x.inline.map((p) => inline("group", x.group.groupName, p)),
      ...x.attached.map((d) => managed(a, d)),
    ]),
  ];
  return {
    arn: userArn(a, user.path, user.userName),
    name: user.userName,
    id: user.userId,
    tags: tagsToRecord(user.tags),
    identity,
    boundary: g.boundary && managed(a, g.boundary),
  };
}

export function compileRoleGraph(a: AccountConfig, g: RolePolicyGraph): CompiledGraph {
  const { role } = g;
  return {
    arn: roleArn(a, role.path, role.roleName),
    name: role.roleName,
    id: role.roleId,
    tags: tagsToRecord(role.tags),
    identity: [
      ...g.inline.map((p) => inline("role", role.roleName, p)),
      ...g.attached.map((d) => managed(a, d)),
    ],
    boundary: g.boundary && managed(a, g.boundary),
  };
}

export function compileSessionPolicy(text: string, sessionArn: string): CompiledPolicy {
  return compile(text, "session", "SessionPolicy", sessionArn);
}

/**
 * A managed policy passed as a session policy (AssumeRole `PolicyArns`), with the document of its
 * current default version. Compiled as a managed policy: its size limit is the managed one.
 */
export function compileManagedSessionPolicy(a: AccountConfig, d: AttachedDocument): CompiledPolicy {
  return managed(a, d);
}

/**
 * Stands in for a managed session policy that no longer exists: a session policy that allows
 * nothing, so the session fails closed rather than losing a restriction.
 */
export function vanishedSessionPolicy(arn: string): CompiledPolicy {
  return compileDocument(
    { version: "2012-10-17", versionSpecified: true, id: undefined, statements: [] },
    { kind: "session", name: arn.slice(arn.lastIndexOf("/") + 1), id: arn },
  );
}
