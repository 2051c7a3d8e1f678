import type { Refusal, RefusalSubject } from "../../gateway/refusal.js";
import type { FailureCause } from "../../token/causes.js";
import { type ErrInfo, ErrorCode, encodePacket, errPacket, MysqlSqlState } from "../../wire/mysql/index.js";

/** mysqld's "Access denied" for a login of `dbUser` from `clientAddress`, whatever the cause. */
export function accessDenied(dbUser: string, clientAddress: string): ErrInfo {
  return {
    code: ErrorCode.ACCESS_DENIED,
    sqlState: MysqlSqlState.INVALID_AUTHORIZATION,
    message: `Access denied for user '${dbUser}'@'${clientAddress}' (using password: YES)`,
  };
}

/** What a client without TLS is told, with the fix. */
export const INSECURE_TRANSPORT_MESSAGE =
  "Connections using insecure transport are prohibited: IAM authentication requires TLS (connect with --ssl-ca=<the iamdb CA file> --ssl-verify-server-cert)";

/**
 * MySQL's refusal table, encoded: the ERR packet with sequence id `seq` (the one after the
 * client's last packet; 0 before the greeting), or undefined when nobody listens.
 */
export function mysqlRefusalPacket(seq: number, r: Refusal<ErrInfo>, s: RefusalSubject): Buffer | undefined {
  const e = mysqlRefusal(r, s);
  return e === undefined ? undefined : encodePacket(seq, errPacket(e.code, e.message, e.sqlState));
}

/**
 * MySQL's refusal table: the ERR packet each refusal becomes, in mysqld's own words where it
 * has them (a failed login is its "Access denied", whatever the cause: the cause goes to the
 * operator's log only, as RDS does), or undefined when the client has gone.
 * @see https://mariadb.com/kb/en/mariadb-error-code-reference/
 */
export function mysqlRefusal(r: Refusal<ErrInfo>, s: RefusalSubject): ErrInfo | undefined {
  const correlation = `iamdb correlation id ${s.correlationId}`;
  const handshakeError = (message: string): ErrInfo => ({
    code: ErrorCode.HANDSHAKE,
    sqlState: MysqlSqlState.COMMUNICATION_LINK_FAILURE,
    message,
  });
  switch (r.cause) {
    case "client-closed":
      return undefined;
    case "tls-required":
      return {
        code: ErrorCode.SECURE_TRANSPORT_REQUIRED,
        sqlState: MysqlSqlState.GENERAL,
        message: INSECURE_TRANSPORT_MESSAGE,
      };
    case "protocol-violation":
      // In the authentication exchange, whatever goes wrong is a failed login, as mysqld says
      // it; before it, the handshake itself is bad.
      return s.stage === "password"
        ? accessDenied(s.dbUser, s.clientAddress)
        : handshakeError("Bad handshake");
    case "throttled":
      // Before the greeting, mysqld's ERR has no SQLSTATE: the client has not said it speaks 4.1.
      if (s.stage === "accept")
        return { code: ErrorCode.CON_COUNT, sqlState: undefined, message: "Too many connections" };
      return {
        code: ErrorCode.CON_COUNT,
        sqlState: MysqlSqlState.CONNECTION_REJECTED,
        message: r.message === undefined ? "Too many connections" : `Too many connections: ${r.message}`,
      };
    case "login-timeout":
      return handshakeError(`could not log in within the login timeout (${correlation})`);
    case "internal-error":
      return handshakeError(`${r.message ?? "internal error"} (${correlation})`);
    case "backend-unavailable":
      return {
        code: ErrorCode.UNKNOWN_ERROR,
        sqlState: MysqlSqlState.GENERAL,
        message: `could not connect to the database (${correlation}); the operator's auth log has the cause`,
      };
    case "backend-login-failed":
      // The backend's own refusal of the session (unknown database, too many connections) is
      // the client's to see, as connecting directly; its refusal of the gateway's password is not.
      return r.own
        ? { code: r.own.code, sqlState: r.own.sqlState ?? MysqlSqlState.GENERAL, message: r.own.message }
        : accessDenied(s.dbUser, s.clientAddress);
    case "iam-disabled":
    case "db-user-not-iam-enabled":
    case "db-user-name-too-long":
    case "not-authorized":
      return accessDenied(s.dbUser, s.clientAddress);
    default: {
      // The token's own causes: a new gateway cause must get a row above.
      const token: FailureCause = r.cause;
      void token;
      return accessDenied(s.dbUser, s.clientAddress);
    }
  }
}
