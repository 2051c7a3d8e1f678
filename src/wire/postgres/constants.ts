/**
 * Numbers fixed by the PostgreSQL frontend/backend protocol.
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

/** Protocol 3.0 as sent in a StartupMessage: major << 16 | minor. */
export const PROTOCOL_VERSION_3_0 = (3 << 16) | 0;
/** SSLRequest "protocol version": 1234.5679. */
export const SSL_REQUEST_CODE = (1234 << 16) | 5679;
/** GSSENCRequest "protocol version": 1234.5680. */
export const GSSENC_REQUEST_CODE = (1234 << 16) | 5680;
/** CancelRequest "protocol version": 1234.5678. */
export const CANCEL_REQUEST_CODE = (1234 << 16) | 5678;
/** iamdb's fleet "peer cancel" (1234.7890): a CancelRequest forwarded between gateways (`src/fleet/peer-cancel.ts`). */
export const PEER_CANCEL_CODE = (1234 << 16) | 7890;

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH (src/include/libpq/pqcomm.h). */
export const MAX_STARTUP_PACKET_LENGTH = 10000;
/** Smallest valid startup length field: the length itself plus the protocol code. */
export const MIN_STARTUP_PACKET_LENGTH = 8;
/**
 * Cancel keys are 4 bytes before protocol 3.2 and 4..256 bytes since (PostgreSQL 18).
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-CANCELREQUEST
 */
export const MIN_CANCEL_KEY_LENGTH = 4;
export const MAX_CANCEL_KEY_LENGTH = 256;
/**
 * NAMEDATALEN - 1: the longest identifier (role, database) PostgreSQL keeps, in bytes; it
 * cuts longer ones short without a word, in DDL and in the startup packet alike.
 * @see https://www.postgresql.org/docs/current/sql-syntax-lexical.html#SQL-SYNTAX-IDENTIFIERS
 */
export const MAX_IDENTIFIER_BYTES = 63;
/** PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH: the largest password / SASL message it reads. */
export const MAX_AUTH_TOKEN_LENGTH = 65535;

/**
 * Authentication request codes carried by the backend's 'R' message.
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html#PROTOCOL-MESSAGE-FORMATS-AUTHENTICATIONOK
 */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/**
 * The SQLSTATEs this codec produces or its callers commonly send.
 * @see https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
export const SqlState = {
  ProtocolViolation: "08P01",
  FeatureNotSupported: "0A000",
  InvalidAuthorizationSpecification: "28000",
  InvalidPassword: "28P01",
  // Refusals at the gateway's edge (src/engines/*/refusals.ts) and its sessions' ends.
  /** connection_failure: the gateway failed on its side (backend unreachable, internal error). */
  ConnectionFailure: "08006",
  /** too_many_connections: the postmaster's answer when it is out of slots. */
  TooManyConnections: "53300",
  /** admin_shutdown: the session is ended by the server side. */
  AdminShutdown: "57P01",
  // Sent by the embedded server, the transaction-mode relay and provisioning.
  /** invalid_catalog_name: no such database. */
  InvalidCatalogName: "3D000",
  /** duplicate_object: e.g. a role that exists already. */
  DuplicateObject: "42710",
  /** duplicate_prepared_statement. */
  DuplicatePreparedStatement: "42P05",
  /** internal_error. */
  InternalError: "XX000",
} as const;
