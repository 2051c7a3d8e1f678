// Package root: the library API other programs script against (see docs/ARCHITECTURE.md).
// The signer and verifier are exported flat, as the brief names them; the control plane's
// modules are also exported whole as namespaces, since their names (Credentials,
// MalformedPolicyDocumentError, PolicyVersion) would otherwise collide.

export * as iam from "./iam/index.js";
export { createIamService, type IamService, type IamServiceOptions } from "./iam/index.js";
export * as policy from "./policy/index.js";
export { compilePolicy, type Decision, describeDecision, evaluate, evaluateTrust } from "./policy/index.js";
export * from "./sigv4/index.js";
export * as store from "./store/index.js";
export { loadMasterKey, openPostgresStore, openSqliteStore } from "./store/index.js";
export * from "./token/index.js";
