import type { Refusal, RefusalSubject } from "../../gateway/refusal.js";
import type { FailureCause } from "../../token/causes.js";
import { type ErrorFields, errorResponse, SqlState } from "../../wire/postgres/index.js";

/** An error a PostgreSQL client sees as it is: the backend's own refusal, or one the codec worded. */
export interface PostgresOwnError {
  readonly code: string;
  readonly message: string;
  readonly detail?: string | undefined;
}

/** The fix a client without TLS is told (the server's pg_hba.conf refusal says only what is wrong). */
export const TLS_REQUIRED_HINT =
  "IAM authentication requires TLS: connect with sslmode=verify-full sslrootcert=<the iamdb CA file>";

/** What a client is told when the gateway could not reach or log in to its backend. */
export const BACKEND_UNAVAILABLE_HINT =
  "the gateway could not reach or log in to its backend; the operator's auth log has the cause";

const fatal = (
  code: string,
  message: string,
  more: { detail?: string; hint?: string } = {},
): ErrorFields => ({
  severity: "FATAL",
  code,
  message,
  ...(more.detail === undefined ? {} : { detail: more.detail }),
  ...(more.hint === undefined ? {} : { hint: more.hint }),
});

/** PostgreSQL's refusal table, encoded: the ErrorResponse to send, or undefined when nobody listens. */
export function postgresRefusalBytes(r: Refusal<PostgresOwnError>, s: RefusalSubject): Buffer | undefined {
  const fields = postgresRefusal(r, s);
  return fields === undefined ? undefined : errorResponse(fields);
}

/**
 * PostgreSQL's refusal table: the FATAL ErrorResponse each refusal becomes, in the server's
 * own words where it has them (a failed login is its PAM failure, whatever the cause: the
 * cause goes to the operator's log only, as RDS does), or undefined when the client has gone.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export function postgresRefusal(r: Refusal<PostgresOwnError>, s: RefusalSubject): ErrorFields | undefined {
  const correlation = `iamdb correlation id ${s.correlationId}`;
  const authFailed = () =>
    fatal(SqlState.InvalidAuthorizationSpecification, `PAM authentication failed for user "${s.dbUser}"`, {
      detail: correlation,
    });
  const own = (e: PostgresOwnError) =>
    fatal(e.code, e.message, e.detail === undefined ? {} : { detail: e.detail });
  switch (r.cause) {
    case "client-closed":
      return undefined;
    case "tls-required":
      return fatal(
        SqlState.InvalidAuthorizationSpecification,
        `no pg_hba.conf entry for host "${s.clientAddress}", user "${s.dbUser}", database "${s.database ?? s.dbUser}", no encryption`,
        { hint: TLS_REQUIRED_HINT },
      );
    case "protocol-violation":
      return r.own ? own(r.own) : fatal(SqlState.ProtocolViolation, r.message ?? "protocol violation");
    case "throttled":
      // Before the handshake: what the postmaster sends when it is out of slots.
      if (s.stage === "accept") return fatal(SqlState.TooManyConnections, "sorry, too many clients already");
      return fatal(SqlState.TooManyConnections, r.message ?? "sorry, too many clients already", {
        detail: correlation,
      });
    case "login-timeout":
      return fatal(SqlState.ConnectionFailure, `could not log in within the login timeout (${correlation})`);
    case "internal-error":
      return fatal(
        SqlState.ConnectionFailure,
        `${r.message ?? "internal error"} (${correlation})`,
        r.hint === undefined ? {} : { hint: r.hint },
      );
    case "backend-unavailable":
      return fatal(SqlState.ConnectionFailure, `could not connect to the database (${correlation})`, {
        hint: BACKEND_UNAVAILABLE_HINT,
      });
    case "backend-login-failed":
      // The backend's own refusal of the session (unknown database, too many connections) is
      // the client's to see, as connecting directly; its refusal of the gateway's password is not.
      return r.own ? own(r.own) : authFailed();
    case "iam-disabled":
    case "db-user-not-iam-enabled":
    case "db-user-name-too-long":
    case "not-authorized":
      return authFailed();
    default: {
      // The token's own causes: a new gateway cause must get a row above.
      const token: FailureCause = r.cause;
      void token;
      return authFailed();
    }
  }
}
