export { type FailureCause, RDS_ERROR_CODE, type RdsErrorCode, type TokenFailure } from "./causes.js";
export { MAX_TOKEN_LENGTH, RDS_DB_SERVICE, TOKEN_LIFETIME_SECONDS } from "./constants.js";
export {
  botocoreSignedHost,
  type GenerateAuthTokenInput,
  generateAuthToken,
  TokenInputError,
} from "./generate.js";
export { inspectAuthToken, type TokenInspection } from "./inspect.js";
export { type ParsedToken, type ParseResult, parseAuthToken } from "./parse.js";
export {
  type CredentialRecord,
  DEFAULT_CLOCK_SKEW_SECONDS,
  type TokenSuccess,
  type VerifyOptions,
  type VerifyResult,
  verifyAuthToken,
} from "./verify.js";
