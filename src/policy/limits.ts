/**
 * Where a policy document is used decides which elements it must have and how
 * large it may be.
 *
 * - `identity-managed`: customer managed policy (also used as a permissions boundary).
 * - `identity-inline-user` / `-role` / `-group`: inline policies embedded in a principal.
 * - `session`: session policy passed to AssumeRole / GetFederationToken.
 * - `trust`: a role's trust policy (AssumeRolePolicyDocument).
 * - `resource`: any other resource-based policy (Principal and Resource both required).
 */
export type PolicyKind =
  | "identity-managed"
  | "identity-inline-user"
  | "identity-inline-role"
  | "identity-inline-group"
  | "session"
  | "trust"
  | "resource";

/**
 * Maximum document size per kind, in characters, not counting white space (IAM
 * "doesn't count white space when calculating the size of a policy").
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (session policy: 2,048)
 */
export const POLICY_SIZE_LIMITS: Readonly<Record<PolicyKind, number>> = Object.freeze({
  "identity-managed": 6144,
  "identity-inline-user": 2048,
  "identity-inline-role": 10240,
  "identity-inline-group": 5120,
  session: 2048,
  trust: 2048,
  // S3 bucket policies, the largest common resource policy, allow 20 KB.
  resource: 20480,
});

/** Size of a policy document as IAM counts it: every character except white space. */
export function policySize(text: string): number {
  let size = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // JSON white space plus the other ASCII blanks IAM ignores.
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d && c !== 0x0b && c !== 0x0c) size++;
  }
  return size;
}
