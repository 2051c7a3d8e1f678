/**
 * Errors raised while reading a policy document.
 *
 * Messages follow the wording IAM returns for `MalformedPolicyDocument` so that
 * the admin API can pass them through unchanged; where IAM only says
 * "Syntax errors in policy." we append the precise reason so the author can fix it.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutUserPolicy.html#API_PutUserPolicy_Errors
 */
export class MalformedPolicyDocumentError extends Error {
  /** AWS error code the Query API should answer with. */
  readonly code: "MalformedPolicyDocument" | "LimitExceeded" = "MalformedPolicyDocument";
  /** Where in the document the problem is, e.g. `Statement[1].Condition.StringEquals`. */
  readonly path: string | undefined;

  constructor(message: string, path?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "MalformedPolicyDocumentError";
    this.path = path;
  }
}

/**
 * The document is larger than IAM allows for its kind. IAM reports this as
 * `LimitExceeded` ("Cannot exceed quota for PolicySize: 2048"), not as a malformed
 * document; it still extends {@link MalformedPolicyDocumentError} so callers that
 * only care "was the document accepted" need one `instanceof` check.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length
 */
export class PolicySizeLimitExceededError extends MalformedPolicyDocumentError {
  override readonly code = "LimitExceeded";
  readonly limit: number;
  readonly size: number;

  constructor(limit: number, size: number) {
    super(
      `Cannot exceed quota for PolicySize: ${limit}. The document has ${size} non-whitespace characters; split it into several policies.`,
    );
    this.name = "PolicySizeLimitExceededError";
    this.limit = limit;
    this.size = size;
  }
}
