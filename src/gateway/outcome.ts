import type { FailureCause, RdsErrorCode } from "../token/causes.js";

/** Why a login failed, beyond the token's own causes. */
export type LoginFailureCause =
  | FailureCause
  | "iam-disabled"
  | "db-user-not-iam-enabled"
  /** PostgreSQL: a login name over 63 bytes, which the backend would cut to another role's. */
  | "db-user-name-too-long"
  | "not-authorized"
  | "throttled"
  | "backend-unavailable"
  | "backend-login-failed"
  | "internal-error"
  /** Not authentication attempts: logged for the operator, not counted in the RDS metrics. */
  | "tls-required"
  | "protocol-violation"
  | "login-timeout"
  | "client-closed";

/**
 * The causes that are no IAM authentication attempt (no TLS, a protocol violation, the login
 * timer, the client left): the auth log records them, iamdb_login_ended_total counts them,
 * and RDS's IamDbAuthConnection* families leave them out.
 */
export const NOT_AUTHENTICATION_CAUSES = [
  "tls-required",
  "client-closed",
  "protocol-violation",
  "login-timeout",
] as const satisfies readonly LoginFailureCause[];
export type NotAuthenticationCause = (typeof NOT_AUTHENTICATION_CAUSES)[number];

/** Whether a failure with `cause` counts in RDS's IamDbAuthConnection* families. */
export function isAuthenticationCause(cause: LoginFailureCause): boolean {
  return !(NOT_AUTHENTICATION_CAUSES as readonly string[]).includes(cause);
}

/** The metric family a failure counts under, as RDS's IamDbAuthConnectionFailure* metrics split them. */
export type FailureKind = "InvalidToken" | "InsufficientPermissions" | "Throttling" | "ServerError";

export interface FailureClass {
  kind: FailureKind;
  statusCode: 400 | 403 | 429 | 500;
  errorCode: RdsErrorCode | "NotAuthorized" | "ThrottlingException" | "InternalError";
  /** RDS's wording after "because ". */
  because: string;
}

export function classify(cause: LoginFailureCause, tokenErrorCode?: RdsErrorCode): FailureClass {
  switch (cause) {
    case "not-authorized":
      return {
        kind: "InsufficientPermissions",
        statusCode: 403,
        errorCode: "NotAuthorized",
        because: "the principal is not authorized to perform rds-db:connect",
      };
    case "throttled":
      return {
        kind: "Throttling",
        statusCode: 429,
        errorCode: "ThrottlingException",
        because: "of throttling",
      };
    case "backend-unavailable":
    case "backend-login-failed":
    case "internal-error":
    case "lookup-failed":
      return {
        kind: "ServerError",
        statusCode: 500,
        errorCode: "InternalError",
        because: "of an internal error",
      };
    case "expired":
    case "session-expired":
      return {
        kind: "InvalidToken",
        statusCode: 400,
        errorCode: "ExpiredToken",
        because: "the token age is longer than 15 minutes",
      };
    default:
      return {
        kind: "InvalidToken",
        statusCode: 400,
        errorCode: tokenErrorCode === "ExpiredToken" ? "ExpiredToken" : "InvalidToken",
        because: "the provided token is malformed or otherwise invalid",
      };
  }
}
