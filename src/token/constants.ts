/** RDS auth tokens live 15 minutes; `X-Amz-Expires` may not exceed it. */
export const TOKEN_LIFETIME_SECONDS = 900;
/** The signing name of RDS IAM database authentication. */
export const RDS_DB_SERVICE = "rds-db";
/**
 * The longest token we parse. Tokens with a session token are 1-2 KB; STS session tokens
 * with many session tags can reach a few KB. PostgreSQL bounds a password message at 64 KiB.
 */
export const MAX_TOKEN_LENGTH = 16 * 1024;
