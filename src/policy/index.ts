/**
 * IAM policy language: parse and validate documents, compile them once, and
 * evaluate requests against them with AWS's evaluation logic. Pure: no I/O.
 */

export {
  type CompiledPolicy,
  type CompiledStatement,
  type CompileOptions,
  compileDocument,
  compilePolicy,
} from "./compile.js";
export { parseOperator } from "./conditions.js";
export type { ContextScalar, ContextValue, RequestContext } from "./context.js";
export {
  type ConditionEntry,
  type Effect,
  POLICY_VERSIONS,
  type PolicyDocument,
  type PolicyStatement,
  type PolicyVersion,
  type PrincipalElement,
  parsePolicyDocument,
} from "./document.js";
export { MalformedPolicyDocumentError, PolicySizeLimitExceededError } from "./errors.js";
export {
  type Decision,
  type DecisionType,
  type EvaluationRequest,
  evaluate,
  evaluateTrust,
  type MatchedStatement,
  type PolicySet,
  type PolicyType,
  type PrincipalType,
  type RequestPrincipal,
  type TrustDecision,
  type TrustRequest,
} from "./evaluate.js";
export { describeDecision, describeStatement } from "./explain.js";
export { POLICY_SIZE_LIMITS, type PolicyKind, policySize } from "./limits.js";
