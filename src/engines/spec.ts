/**
 * What config, the CLI and the admin API may know about an engine without loading its gateway
 * code: its name, defaults and which instance settings apply to it. Pure data, no imports; the
 * full module (gateway engine, provisioning) is `EngineModule` in `./types.ts`.
 */

/** The engines an instance can front. MariaDB speaks the MySQL protocol (the `mysql` module serves it). */
export type DbEngine = "postgres" | "mysql" | "mariadb";

/** The engine modules, one per wire protocol: a folder under `src/engines/` each. */
export type EngineModuleName = "postgres" | "mysql";

/** An instance setting the engine has, or why it has not (the rest of "<field> ..." in the config error). */
export type Support = true | { readonly refusal: string };

/** The connection details the quickstart of `iamdb up` prints a client command line for. */
export interface QuickstartTarget {
  readonly host: string;
  readonly port: number;
  readonly caFile: string;
  readonly database: string;
  readonly user: string;
}

export interface EngineSpec {
  /** The module that serves it. */
  readonly module: EngineModuleName;
  /** Its default listener port (`instances[].listen.port`): clear of the database's own port and below 32768. */
  readonly listenPort: number;
  /** Defaults of `instances[].backend`. */
  readonly backend: {
    readonly port: number;
    /** Database for provisioning connections and clients naming none ("" when the protocol needs none). */
    readonly database: string;
    readonly adminUser: string;
  };
  /** Whether `backend` may be left out (then `iamdb up` runs an embedded server). */
  readonly embeddedBackend: boolean;
  /** `sessionIdentity`: the identity recorded in the database for each backend session. */
  readonly sessionIdentity: Support;
  /** `pool.mode: "transaction"`. */
  readonly transactionPooling: Support;
  /**
   * The client command `iamdb up`'s quickstart ends with, the token in `$TOKEN`; engines
   * without one get no quickstart.
   */
  readonly quickstart?: (target: QuickstartTarget) => string;
}
