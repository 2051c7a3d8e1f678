import type { DbEngine } from "../engines/spec.js";

/** The engines an instance can front (defined with the engine registry, `src/engines/spec.ts`). */
export type { DbEngine };

export interface InstanceTag {
  readonly key: string;
  readonly value: string;
}

/** How the gateway reaches the real database behind an instance. */
export interface BackendSpec {
  readonly host: string;
  readonly port: number;
  /** Database used for provisioning connections and when a client names none. */
  readonly database: string;
  /** TLS to the backend: off, required (unverified), or verified against `caFile`. */
  readonly tls: "disable" | "require" | "verify-full";
  readonly caFile?: string | undefined;
  /** The administrator that provisions IAM-only DB accounts (never used for client sessions). */
  readonly adminUser: string;
  /** Its password, when the backend asks for one (kept sealed at rest by the instance store). */
  readonly adminPassword?: string | undefined;
  /**
   * False when backend connections must not be reused between clients (the embedded server,
   * whose clients share one database session: a reset for one would reach them all).
   */
  readonly reuseConnections?: boolean | undefined;
}

/**
 * A DB instance as clients and the RDS API see it: what a token is signed for and what the
 * gateway listens on. Mirrors the RDS DescribeDBInstances fields iamdb supports.
 */
export interface DbInstance {
  /** DBInstanceIdentifier: 1-63 letters, digits, hyphens; starts with a letter. */
  readonly identifier: string;
  readonly engine: DbEngine;
  readonly region: string;
  /** `db-` + 26 upper-case letters and digits; stable for the instance's life. */
  readonly dbiResourceId: string;
  /** Where the gateway listens. */
  readonly listen: { readonly host: string; readonly port: number };
  /** Names a token may be signed for; the first is Endpoint.Address. DNS aliases allowed. */
  readonly endpoints: readonly string[];
  /** The port clients connect to and sign tokens for (Endpoint.Port); the listen port unless behind a forwarder. */
  readonly port: number;
  /** IAMDatabaseAuthenticationEnabled. */
  readonly iamAuthEnabled: boolean;
  readonly tags: readonly InstanceTag[];
  readonly backend: BackendSpec;
  readonly createdAt: Date;
}

/** The instances this deployment defines, as the gateway and the RDS API use them. */
export interface InstanceRegistry {
  list(): readonly DbInstance[];
  get(identifier: string): DbInstance | undefined;
  /** `arn:PARTITION:rds:REGION:ACCOUNT:db:IDENTIFIER` */
  arn(instance: DbInstance): string;
  /**
   * The instance as it stands now, for decisions (the login's IAM switch and tags): memory while
   * the store's change feed is live, else the store itself (throws when it cannot be read).
   */
  current(identifier: string): Promise<DbInstance | undefined>;
  /** ModifyDBInstance --(no-)enable-iam-database-authentication. Rejects with InstanceNotFoundError. */
  setIamAuth(identifier: string, enabled: boolean): Promise<DbInstance>;
  /** AddTagsToResource: merges by key. */
  addTags(identifier: string, tags: readonly InstanceTag[]): Promise<DbInstance>;
  /** RemoveTagsFromResource. */
  removeTags(identifier: string, keys: readonly string[]): Promise<DbInstance>;
}

/** DBInstanceNotFound, as RDS names it. */
export class InstanceNotFoundError extends Error {
  readonly code = "DBInstanceNotFound";
  constructor(identifier: string) {
    super(`DBInstance ${identifier} not found.`);
    this.name = "InstanceNotFoundError";
  }
}
