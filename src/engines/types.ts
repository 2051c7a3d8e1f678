import type { GatewayEngines } from "../gateway/engine.js";
import type { GatewayLimits } from "../gateway/limits.js";
import type { BackendSpec } from "../instances/types.js";
import type { EnableOptions } from "./admin.js";
import type { EngineModuleName } from "./spec.js";

/**
 * IAM-only DB accounts on an instance's backend, made through its administrator (the rds_iam
 * way: a password only the gateway holds). Failures are ProvisionErrors (`./admin.ts`) that say
 * what to do.
 */
export interface AccountProvisioner {
  /** A new account; refused when one of that name exists (enable takes an existing one over). */
  create(backend: BackendSpec, user: string, password: string): Promise<void>;
  /** Takes an existing account over: the gateway-held password, and the engine's IAM marker. */
  enable(backend: BackendSpec, user: string, password: string, options: EnableOptions): Promise<void>;
  /** A new gateway-held password for an account iamdb holds. */
  rotate(backend: BackendSpec, user: string, password: string): Promise<void>;
  drop(backend: BackendSpec, user: string): Promise<void>;
}

/**
 * One engine module per wire protocol (a folder under `src/engines/`): its handshake, backend
 * login, relay and pooling behind `gateway`, and its provisioning behind `accounts`. Its pure
 * data (defaults, which settings apply) is its `spec.ts`, read through `../catalog.ts`.
 */
export interface EngineModule {
  readonly name: EngineModuleName;
  /** The module's engines for one gateway; what they share (backend pools) lives as long as it. */
  gateway(limits: GatewayLimits): GatewayEngines;
  readonly accounts: AccountProvisioner;
}
