export { type DbAccount, DbAccountStore, newDbPassword } from "./accounts.js";
export { MemoryInstanceRegistry, type RegistryOptions } from "./memory.js";
export { DBI_RESOURCE_ID, loadInstances, newDbiResourceId } from "./state.js";
export * from "./types.js";
