/**
 * Why a token was refused. The client always sees the same generic error (as RDS); the
 * cause and its detail go to the operator's auth log.
 */
export type FailureCause =
  | "malformed"
  | "unsupported-algorithm"
  | "wrong-service"
  | "wrong-region"
  | "scope-date-mismatch"
  | "expires-too-long"
  | "not-yet-valid"
  | "expired"
  | "host-mismatch"
  | "port-mismatch"
  | "user-mismatch"
  | "unknown-key"
  | "inactive-key"
  | "session-token-missing"
  | "session-token-mismatch"
  | "session-token-unexpected"
  | "session-expired"
  | "signature-mismatch"
  | "lookup-failed";

/** The RDS error code the auth error log prints for a cause, as RDS writes it. */
export type RdsErrorCode = "InvalidToken" | "ExpiredToken" | "InternalFailure";

export const RDS_ERROR_CODE: Readonly<Record<FailureCause, RdsErrorCode>> = {
  malformed: "InvalidToken",
  "unsupported-algorithm": "InvalidToken",
  "wrong-service": "InvalidToken",
  "wrong-region": "InvalidToken",
  "scope-date-mismatch": "InvalidToken",
  "expires-too-long": "InvalidToken",
  "not-yet-valid": "InvalidToken",
  expired: "ExpiredToken",
  "host-mismatch": "InvalidToken",
  "port-mismatch": "InvalidToken",
  "user-mismatch": "InvalidToken",
  "unknown-key": "InvalidToken",
  "inactive-key": "InvalidToken",
  "session-token-missing": "InvalidToken",
  "session-token-mismatch": "InvalidToken",
  "session-token-unexpected": "InvalidToken",
  "session-expired": "ExpiredToken",
  "signature-mismatch": "InvalidToken",
  "lookup-failed": "InternalFailure",
};

export interface TokenFailure {
  ok: false;
  cause: FailureCause;
  errorCode: RdsErrorCode;
  /** What exactly is wrong and what to do; never contains the token, a secret or a session token. */
  detail: string;
  /** Known when the token parsed far enough; safe to log (AWS logs key ids too). */
  accessKeyId?: string;
  dbUser?: string;
}

export function failure(
  cause: FailureCause,
  detail: string,
  who?: { accessKeyId?: string | undefined; dbUser?: string | undefined },
): TokenFailure {
  const f: TokenFailure = { ok: false, cause, errorCode: RDS_ERROR_CODE[cause], detail };
  if (who?.accessKeyId !== undefined) f.accessKeyId = who.accessKeyId;
  if (who?.dbUser !== undefined) f.dbUser = who.dbUser;
  return f;
}
