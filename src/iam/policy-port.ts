import {
  type CompiledPolicy,
  compilePolicy,
  MalformedPolicyDocumentError,
  type PolicyKind,
  PolicySizeLimitExceededError,
} from "../policy/index.js";
import { LimitExceededError } from "./errors.js";

/**
 * Validates a document on write through the policy module. Its MalformedPolicyDocumentError
 * goes out as it is; an oversized document becomes IAM's LimitExceededError (the policy
 * module reports it with code LimitExceeded, as IAM does). Returns the compiled policy so
 * callers that evaluate need not parse twice.
 */
export function validatePolicy(
  document: unknown,
  kind: PolicyKind,
  label: { name?: string; id?: string; principalIds?: Readonly<Record<string, string>> } = {},
): CompiledPolicy {
  if (typeof document !== "string" || document.length === 0) {
    throw new MalformedPolicyDocumentError(
      "Syntax errors in policy. The policy document must be a non-empty string.",
    );
  }
  try {
    return compilePolicy(document, { kind, ...label });
  } catch (e) {
    if (e instanceof PolicySizeLimitExceededError) throw new LimitExceededError(e.message, { cause: e });
    throw e;
  }
}
