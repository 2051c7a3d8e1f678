export { type DbAccount, DbAccountStore, newDbPassword } from "./accounts.js";
export { checkMasterKey, type Deployment, masterKeyFingerprint, openDeployment } from "./deployment.js";
export { importLegacyState, LEGACY_FILES } from "./legacy.js";
export { MemoryInstanceRegistry, type RegistryOptions } from "./memory.js";
export { StoreInstanceRegistry } from "./registry.js";
export type * from "./repository.js";
export { DBI_RESOURCE_ID, newDbiResourceId } from "./state.js";
export * from "./types.js";
