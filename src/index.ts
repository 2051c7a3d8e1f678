// Package root: the library API other programs script against (see docs/ARCHITECTURE.md).
// The signer and verifier are exported flat, as the brief names them; the control plane's
// modules are also exported whole as namespaces, since their names (Credentials,
// PolicyVersion) would otherwise collide.

// The client kit (docs/CLIENT-KIT.md): token caching and helpers for node-postgres and mysql2.
export { IamdbAuthConfigError, type IamdbAuthOptions, type TokenFunction } from "./client/auth.js";
export {
  type AwsCredentials,
  type CredentialProvider,
  NoCredentialsError,
  standardCredentials,
  staticCredentials,
} from "./client/credentials.js";
export {
  createIamdbMysqlPool,
  type IamdbMysqlOptions,
  iamdbMysqlConfig,
  isMysqlAuthError,
  mysqlClearPasswordPlugin,
} from "./client/mysql2.js";
export {
  type IamdbPgOptions,
  IamdbPgPool,
  iamdbPassword,
  iamdbPgConfig,
  isPgAuthError,
} from "./client/pg.js";
export {
  CredentialsExpiredError,
  type SignedToken,
  TokenCache,
  type TokenCacheOptions,
} from "./client/token-cache.js";
export * as iam from "./iam/index.js";
export { createIamService, type IamService, type IamServiceOptions } from "./iam/index.js";
export * as policy from "./policy/index.js";
export { compilePolicy, type Decision, describeDecision, evaluate, evaluateTrust } from "./policy/index.js";
export * from "./sigv4/index.js";
export * as store from "./store/index.js";
export { loadMasterKey, openPostgresStore, openSqliteStore } from "./store/index.js";
export * from "./token/index.js";
