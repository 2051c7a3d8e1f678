/** The admin API: IAM, STS and RDS subsets in the AWS Query protocol, and first-start bootstrap. */
export {
  ADMIN_PROFILE,
  ADMIN_USER,
  AdministratorError,
  type AdministratorFiles,
  type EnsureAdministratorOptions,
  ensureAdministrator,
} from "./bootstrap.js";
export { ApiError } from "./errors.js";
export {
  type ApiHandlerOptions,
  type ApiRequest,
  type ApiResponse,
  createApiHandler,
  SERVICES,
} from "./handler.js";
export { type AdminApi, type AdminApiOptions, DEFAULT_MAX_BODY_BYTES, startAdminApi } from "./server.js";
