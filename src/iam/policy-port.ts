import {
  type CompiledPolicy,
  compilePolicy,
  type PolicyKind,
  MalformedPolicyDocumentError as PolicyModuleError,
} from "../policy/index.js";
import { LimitExceededError, MalformedPolicyDocumentError } from "./errors.js";

/**
 * Validates a document on write through the policy module and translates its errors into the
 * IAM error family (the policy module reports an oversized document with code LimitExceeded,
 * as IAM does). Returns the compiled policy so callers that evaluate need not parse twice.
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
    if (e instanceof PolicyModuleError) {
      const Err = e.code === "LimitExceeded" ? LimitExceededError : MalformedPolicyDocumentError;
      throw new Err(e.message, { cause: e });
    }
    throw e;
  }
}
