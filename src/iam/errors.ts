/**
 * Typed IAM / STS errors. Each carries the AWS error code and HTTP status the Query-protocol
 * API returns, so the admin API converts them without a lookup table.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateUser.html#API_CreateUser_Errors
 */
export abstract class IamError extends Error {
  /** The AWS error code, e.g. `NoSuchEntity`. */
  abstract readonly code: string;
  /** The HTTP status AWS answers with. */
  abstract readonly httpStatus: number;
  /** `Sender` (caller's fault) or `Receiver`, as in the Query-protocol error envelope. */
  readonly type: "Sender" | "Receiver" = "Sender";

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class NoSuchEntityError extends IamError {
  readonly code = "NoSuchEntity";
  readonly httpStatus = 404;
}

export class EntityAlreadyExistsError extends IamError {
  readonly code = "EntityAlreadyExists";
  readonly httpStatus = 409;
}

export class LimitExceededError extends IamError {
  readonly code = "LimitExceeded";
  readonly httpStatus = 409;
}

export class DeleteConflictError extends IamError {
  readonly code = "DeleteConflict";
  readonly httpStatus = 409;
}

/**
 * A policy document IAM would refuse: the policy module's error, one class for the whole
 * control plane (the admin API answers it with 400 MalformedPolicyDocument, `api/errors.ts`).
 */
export { MalformedPolicyDocumentError } from "../policy/errors.js";

export class ValidationError extends IamError {
  readonly code = "ValidationError";
  readonly httpStatus = 400;
}

/** STS refuses AssumeRole / GetSessionToken for this caller. */
export class AccessDeniedError extends IamError {
  readonly code = "AccessDenied";
  readonly httpStatus = 403;
}

/** STS: a parameter value is well-formed but not acceptable (session tag conflicts, for instance). */
export class InvalidParameterValueError extends IamError {
  readonly code = "InvalidParameterValue";
  readonly httpStatus = 400;
}

/**
 * STS: the session policies and session tags together exceed the packed size limit.
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html#API_AssumeRole_Errors
 */
export class PackedPolicyTooLargeError extends IamError {
  readonly code = "PackedPolicyTooLarge";
  readonly httpStatus = 400;
}

/** IAM: a parameter is outside what the action accepts (an OIDC provider URL, a thumbprint). */
export class InvalidInputError extends IamError {
  readonly code = "InvalidInput";
  readonly httpStatus = 400;
}

/**
 * STS AssumeRoleWithWebIdentity: the token is not one iamdb can accept (not a JWT, bad
 * signature, wrong issuer or audience, not yet valid, unknown provider, untrusted certificate).
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html#API_AssumeRoleWithWebIdentity_Errors
 */
export class InvalidIdentityTokenError extends IamError {
  readonly code = "InvalidIdentityToken";
  readonly httpStatus = 400;
}

/** STS: the web identity token has expired. AWS's code carries the `Exception` suffix. */
export class ExpiredTokenError extends IamError {
  readonly code = "ExpiredTokenException";
  readonly httpStatus = 400;
}

/** STS: the token's claims are signed but not acceptable (no subject, malformed `amr`). */
export class IdpRejectedClaimError extends IamError {
  readonly code = "IDPRejectedClaim";
  readonly httpStatus = 403;
}

/** STS: the issuer's discovery document or keys could not be fetched. The caller may retry. */
export class IdpCommunicationError extends IamError {
  readonly code = "IDPCommunicationError";
  readonly httpStatus = 400;
}
