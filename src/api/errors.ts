import { ProvisionError } from "../engines/admin.js";
import { DbUserNotFoundError } from "../engines/db-users.js";
import { IamError } from "../iam/errors.js";
import { InstanceNotFoundError } from "../instances/types.js";
import { MalformedPolicyDocumentError as PolicyModuleError } from "../policy/index.js";

/**
 * An error the admin API answers with, in AWS's terms: the code the SDKs map to an exception
 * class, the HTTP status, and a message safe to show the caller.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/CommonErrors.html
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/CommonErrors.html
 */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    readonly httpStatus: number,
    message: string,
    readonly type: "Sender" | "Receiver" = "Sender",
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const invalidAction = (action: string, version: string) =>
  new ApiError("InvalidAction", 400, `Could not find operation ${action} for version ${version}`);

export const accessDenied = (principalArn: string, action: string, resource: string) =>
  new ApiError(
    "AccessDenied",
    403,
    `User: ${principalArn} is not authorized to perform: ${action} on resource: ${resource}`,
  );

/** IAM and STS report a missing member as a constraint violation on its (camelCase) name. */
export const nullMember = (member: string) =>
  new ApiError(
    "ValidationError",
    400,
    `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
  );

/** RDS reports a missing parameter by its wire name. */
export const missingParameter = (name: string) =>
  new ApiError("MissingParameter", 400, `The request must contain the parameter ${name}`);

/**
 * Maps what an operation threw to the error document's fields. Errors we do not know are
 * internal: the caller gets a generic message, the log gets the detail.
 */
export function toApiError(err: unknown): { error: ApiError; internal: boolean } {
  if (err instanceof ApiError) return { error: err, internal: false };
  if (err instanceof IamError)
    return { error: new ApiError(err.code, err.httpStatus, err.message, err.type), internal: false };
  if (err instanceof InstanceNotFoundError)
    return { error: new ApiError("DBInstanceNotFound", 404, err.message), internal: false };
  if (err instanceof ProvisionError)
    return { error: new ApiError("DBUserProvisioningFailed", 400, err.message), internal: false };
  if (err instanceof DbUserNotFoundError)
    return { error: new ApiError("DBUserNotFound", 404, err.message), internal: false };
  if (err instanceof PolicyModuleError) {
    const status = err.code === "LimitExceeded" ? 409 : 400;
    return { error: new ApiError(err.code, status, err.message), internal: false };
  }
  return {
    error: new ApiError(
      "InternalFailure",
      500,
      "The request processing has failed because of an unknown error; the server log has the details.",
      "Receiver",
    ),
    internal: true,
  };
}
