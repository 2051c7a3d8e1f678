import type { InstanceTag } from "./types.js";

/**
 * Storage for the deployment's own state, beside the IAM model in the same store (SQLite or
 * PostgreSQL), so every gateway sharing the store sees one instance, one set of DB accounts,
 * one certificate authority and the fleet. Writes announce themselves on the store's change
 * feed as `{ scope: "deployment", kind }`.
 */
export interface InstanceStateRecord {
  readonly identifier: string;
  readonly dbiResourceId: string;
  readonly iamAuthEnabled: boolean;
  readonly tags: readonly InstanceTag[];
  readonly createdAt: Date;
}

export interface DbAccountRecord {
  readonly instance: string;
  readonly username: string;
  /** The gateway-held password, sealed with the master key (context `iamdb:db-account:INSTANCE/USER`). */
  readonly sealedPassword: string;
  readonly createdAt: Date;
  readonly rotatedAt: Date;
}

export interface TlsAuthorityRecord {
  readonly name: string;
  readonly certPem: string;
  /** The CA's private key, sealed with the master key. */
  readonly sealedKey: string;
  readonly createdAt: Date;
}

/** What a gateway tells the fleet about itself (JSON in the store). */
export interface FleetMemberInfo {
  readonly version: string;
  readonly pid: number;
  readonly hostname: string;
  readonly apiUrl?: string | undefined;
  readonly opsUrl?: string | undefined;
  /** Where each instance's listener can be reached by the other gateways. */
  readonly listeners: Readonly<Record<string, { readonly host: string; readonly port: number }>>;
}

export interface FleetMemberRecord {
  readonly memberId: string;
  /** Small number unique among live members; it is carried in the PostgreSQL BackendKeyData. */
  readonly memberNo: number;
  readonly info: FleetMemberInfo;
  readonly started: Date;
  readonly heartbeat: Date;
}

export interface DeploymentRepository {
  /**
   * The instance's stored state, created from `initial` when absent. Two gateways starting at
   * once both get the row that won the insert, so one DbiResourceId is minted per instance.
   */
  ensureInstance(initial: InstanceStateRecord): Promise<InstanceStateRecord>;
  getInstanceState(identifier: string): Promise<InstanceStateRecord | undefined>;
  listInstanceStates(): Promise<InstanceStateRecord[]>;
  /** Applies the change under a row lock, so concurrent tag edits do not lose each other. */
  updateInstanceState(
    identifier: string,
    change: (current: InstanceStateRecord) => InstanceStateRecord,
  ): Promise<InstanceStateRecord | undefined>;

  /** Creates or replaces the account's password; keeps the creation time of an existing one. */
  putDbAccount(
    instance: string,
    username: string,
    sealedPassword: string,
    now: Date,
  ): Promise<DbAccountRecord>;
  /** Creates only: false when the account exists (the import of old data directories uses it). */
  insertDbAccount(record: DbAccountRecord): Promise<boolean>;
  getDbAccount(instance: string, username: string): Promise<DbAccountRecord | undefined>;
  listDbAccounts(instance?: string): Promise<DbAccountRecord[]>;
  deleteDbAccount(instance: string, username: string): Promise<boolean>;

  /** The stored value, or `value` stored now when there was none (first writer wins). */
  ensureFact(name: string, value: string): Promise<string>;
  ensureTlsAuthority(initial: TlsAuthorityRecord): Promise<TlsAuthorityRecord>;

  /**
   * Registers a gateway: removes members whose heartbeat is older than `staleBefore`, then takes
   * the lowest free member number (1 … maxMemberNo).
   */
  registerFleetMember(
    memberId: string,
    info: FleetMemberInfo,
    now: Date,
    staleBefore: Date,
    maxMemberNo: number,
  ): Promise<FleetMemberRecord>;
  /** False when the member's row is gone (declared dead by another gateway): register again. */
  heartbeatFleetMember(memberId: string, now: Date): Promise<boolean>;
  removeFleetMember(memberId: string): Promise<void>;
  /** Members whose last heartbeat is at or after `aliveSince`, by member number. */
  listFleetMembers(aliveSince: Date): Promise<FleetMemberRecord[]>;
}

export type DeploymentChangeKind = "instances" | "dbAccounts" | "fleet" | "sessions";
