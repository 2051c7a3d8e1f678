/**
 * MySQL client/server protocol constants.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/group__group__cs__capabilities__flags.html
 */

export const Capability = {
  LONG_PASSWORD: 1,
  FOUND_ROWS: 1 << 1,
  LONG_FLAG: 1 << 2,
  CONNECT_WITH_DB: 1 << 3,
  NO_SCHEMA: 1 << 4,
  COMPRESS: 1 << 5,
  ODBC: 1 << 6,
  LOCAL_FILES: 1 << 7,
  IGNORE_SPACE: 1 << 8,
  PROTOCOL_41: 1 << 9,
  INTERACTIVE: 1 << 10,
  SSL: 1 << 11,
  IGNORE_SIGPIPE: 1 << 12,
  TRANSACTIONS: 1 << 13,
  RESERVED: 1 << 14,
  SECURE_CONNECTION: 1 << 15,
  MULTI_STATEMENTS: 1 << 16,
  MULTI_RESULTS: 1 << 17,
  PS_MULTI_RESULTS: 1 << 18,
  PLUGIN_AUTH: 1 << 19,
  CONNECT_ATTRS: 1 << 20,
  PLUGIN_AUTH_LENENC_CLIENT_DATA: 1 << 21,
  CAN_HANDLE_EXPIRED_PASSWORDS: 1 << 22,
  SESSION_TRACK: 1 << 23,
  DEPRECATE_EOF: 1 << 24,
  ZSTD_COMPRESSION: 1 << 26,
  QUERY_ATTRIBUTES: 1 << 27,
  MULTI_FACTOR_AUTH: 1 << 28,
} as const;

/**
 * Flags that shape the session after login (result-set framing, multi-statements, EOF
 * packets, session tracking). The gateway passes them to the backend exactly as the client
 * chose them, so the relayed bytes are framed the way the client expects.
 */
export const SESSION_CAPABILITIES =
  Capability.FOUND_ROWS |
  Capability.LONG_FLAG |
  Capability.LOCAL_FILES |
  Capability.IGNORE_SPACE |
  Capability.PROTOCOL_41 |
  Capability.INTERACTIVE |
  Capability.TRANSACTIONS |
  Capability.MULTI_STATEMENTS |
  Capability.MULTI_RESULTS |
  Capability.PS_MULTI_RESULTS |
  Capability.SESSION_TRACK |
  Capability.DEPRECATE_EOF;

/**
 * What the gateway announces in its HandshakeV10: a fixed set every backend iamdb supports
 * (MySQL 5.7+, 8.x; MariaDB 10.2+) also announces, so a flag the client picks can always be
 * passed on. Left out on purpose: COMPRESS (the relay does not decompress, so it could not
 * see COM_CHANGE_USER), QUERY_ATTRIBUTES and MULTI_FACTOR_AUTH (MySQL 8 only),
 * CAN_HANDLE_EXPIRED_PASSWORDS (a sandboxed session is not what a token promises), and
 * MariaDB's extended capabilities: LONG_PASSWORD (bit 0, "CLIENT_MYSQL") set tells MariaDB
 * clients this is a MySQL server, so they never use them, and the gateway sets it toward a
 * MariaDB backend for the same reason (MariaDB servers clear it in their own handshake).
 */
export const GATEWAY_CAPABILITIES =
  SESSION_CAPABILITIES |
  Capability.LONG_PASSWORD |
  Capability.CONNECT_WITH_DB |
  Capability.SSL |
  Capability.SECURE_CONNECTION |
  Capability.PLUGIN_AUTH |
  Capability.CONNECT_ATTRS |
  Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA;

/** Command bytes (first payload byte of a packet with sequence id 0). */
export const Command = {
  QUIT: 0x01,
  INIT_DB: 0x02,
  QUERY: 0x03,
  CHANGE_USER: 0x11,
  STMT_PREPARE: 0x16,
  RESET_CONNECTION: 0x1f,
} as const;

export const SERVER_STATUS_AUTOCOMMIT = 0x0002;

/** utf8mb4_general_ci: known to every supported server. */
export const DEFAULT_CHARSET = 45;

/** The largest payload of one packet; a payload of exactly this size is continued by the next packet. */
export const MAX_PACKET_PAYLOAD = 0xffffff;

export const Plugin = {
  CLEAR: "mysql_clear_password",
  NATIVE: "mysql_native_password",
  CACHING_SHA2: "caching_sha2_password",
  SHA256: "sha256_password",
} as const;

/**
 * caching_sha2_password's one-byte messages after the client's scramble.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_caching_sha2_authentication_exchanges.html
 */
export const CachingSha2 = {
  /** Client to server (also sha256_password's 0x01): "send me your RSA public key". */
  REQUEST_PUBLIC_KEY: 2,
  FAST_AUTH_SUCCESS: 3,
  /** Server to client: no cached entry; over TLS the client answers with its password, NUL-terminated. */
  PERFORM_FULL_AUTHENTICATION: 4,
} as const;

/** Server error numbers the gateway sends. @see https://mariadb.com/kb/en/mariadb-error-code-reference/ */
export const ErrorCode = {
  CON_COUNT: 1040,
  /** ER_CONNECTION_KILLED (MariaDB), SQLSTATE 70100: the session was ended by the server side. */
  CONNECTION_KILLED: 1927,
  HANDSHAKE: 1043,
  ACCESS_DENIED: 1045,
  NET_PACKET_TOO_LARGE: 1153,
  NOT_SUPPORTED_AUTH_MODE: 1251,
  SECURE_TRANSPORT_REQUIRED: 3159,
  // Refusals at the gateway's edge (src/engines/mysql/refusals.ts) and what iamdb proxy sends.
  /** ER_UNKNOWN_ERROR: a failure on the gateway's side with no closer number (the backend or a proxy's target is unreachable). */
  UNKNOWN_ERROR: 1105,
} as const;

/**
 * SQLSTATEs the gateway sends with its ERR packets.
 * @see https://mariadb.com/kb/en/mariadb-error-code-reference/
 */
export const MysqlSqlState = {
  /** The general error: what mysqld sends with most refusals. */
  GENERAL: "HY000",
  /** ER_HANDSHAKE_ERROR's: a communication link failure. */
  COMMUNICATION_LINK_FAILURE: "08S01",
  /** ER_CON_COUNT_ERROR's: the server rejected the connection. */
  CONNECTION_REJECTED: "08004",
  /** ER_ACCESS_DENIED_ERROR's: invalid authorization specification. */
  INVALID_AUTHORIZATION: "28000",
  /** ER_CONNECTION_KILLED's. */
  CONNECTION_KILLED: "70100",
} as const;
