import pg from "pg";
import type { BackendSpec } from "../../instances/types.js";
import { log } from "../../log/logger.js";

/** Who is behind a backend session, as the database sees it through `iamdb.session_identity()`. */
export interface SessionIdentity {
  readonly sessionId: string;
  readonly principalArn: string;
  readonly accessKeyId: string;
  readonly dbUser: string;
}

/**
 * The objects a database gets the first time a session with `sessionIdentity` lands in it,
 * made by the gateway's administrator. The table is the administrator's alone; sessions read
 * their own row only through the SECURITY DEFINER functions, matched on the backend's pid
 * and start time (so a pid reused by a later connection that did not come through the gateway
 * sees nothing). Nothing a client can run (SET, set_config, its own tables or functions in
 * another schema) changes what these functions answer.
 */
const SETUP = [
  "SELECT pg_advisory_xact_lock(hashtext('iamdb.session_identity'))",
  "CREATE SCHEMA IF NOT EXISTS iamdb",
  `CREATE TABLE IF NOT EXISTS iamdb.sessions (
     pid           integer PRIMARY KEY,
     backend_start timestamptz NOT NULL,
     session_id    text NOT NULL,
     principal_arn text NOT NULL,
     access_key_id text NOT NULL,
     db_user       text NOT NULL,
     recorded      timestamptz NOT NULL DEFAULT now()
   )`,
  "REVOKE ALL ON iamdb.sessions FROM PUBLIC",
  `CREATE OR REPLACE FUNCTION iamdb.session_identity()
     RETURNS TABLE (principal_arn text, access_key_id text, session_id text)
     LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
     AS $$
       SELECT s.principal_arn, s.access_key_id, s.session_id
       FROM iamdb.sessions s JOIN pg_catalog.pg_stat_activity a
         ON a.pid = s.pid AND a.backend_start = s.backend_start
       WHERE s.pid = pg_catalog.pg_backend_pid()
     $$`,
  `CREATE OR REPLACE FUNCTION iamdb.principal_arn() RETURNS text
     LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
     AS $$ SELECT principal_arn FROM iamdb.session_identity() $$`,
  "REVOKE ALL ON FUNCTION iamdb.session_identity(), iamdb.principal_arn() FROM PUBLIC",
  "GRANT USAGE ON SCHEMA iamdb TO PUBLIC",
  "GRANT EXECUTE ON FUNCTION iamdb.session_identity(), iamdb.principal_arn() TO PUBLIC",
];

/** The identity could not be recorded: the login is refused (a session must not run unattributed). */
export class SessionIdentityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SessionIdentityError";
  }
}

/**
 * Records, for each PostgreSQL session of an instance with `sessionIdentity`, who is behind
 * its backend connection (fresh or reused) before the client can send a statement. One
 * administrator connection per database, kept open; the objects are made in a database on
 * first use. Rows are overwritten when a pooled backend serves its next client and deleted
 * (best effort) when a session ends.
 */
export class SessionIdentityWriter {
  readonly #clients = new Map<string, Promise<pg.Client>>();

  constructor(private readonly spec: BackendSpec) {}

  async #client(database: string): Promise<pg.Client> {
    let p = this.#clients.get(database);
    if (p === undefined) {
      p = this.#connect(database);
      this.#clients.set(database, p);
      p.catch(() => this.#clients.delete(database));
    }
    return p;
  }

  async #connect(database: string): Promise<pg.Client> {
    const { spec } = this;
    const client = new pg.Client({
      host: spec.host,
      port: spec.port,
      user: spec.adminUser,
      password: spec.adminPassword,
      database,
      ssl: spec.tls === "disable" ? false : { rejectUnauthorized: spec.tls === "verify-full" },
      connectionTimeoutMillis: 10_000,
      application_name: "iamdb session identity",
    });
    const drop = () => {
      if (this.#clients.get(database) !== undefined) this.#clients.delete(database);
    };
    client.on("error", drop);
    client.on("end", drop);
    try {
      await client.connect();
      await client.query("BEGIN");
      for (const sql of SETUP.slice(0, 2)) await client.query(sql);
      const owner = await client.query<{ mine: boolean }>(
        "SELECT pg_catalog.pg_get_userbyid(nspowner) = current_user AS mine FROM pg_catalog.pg_namespace WHERE nspname = 'iamdb'",
      );
      if (!owner.rows[0]?.mine) {
        throw new SessionIdentityError(
          `schema "iamdb" in database "${database}" belongs to another role than the gateway's administrator ${spec.adminUser}; drop it (or hand it over: ALTER SCHEMA iamdb OWNER TO ${spec.adminUser}) so that sessions' identities can be trusted`,
        );
      }
      for (const sql of SETUP.slice(2)) await client.query(sql);
      await client.query("COMMIT");
      return client;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (err instanceof SessionIdentityError) throw err;
      throw new SessionIdentityError(
        `cannot prepare session identity in database "${database}" as ${spec.adminUser}: ${(err as Error).message}`,
      );
    }
  }

  /** Records `who` for backend `pid` in `database`; resolves once the row is there. */
  async record(database: string, pid: number, who: SessionIdentity): Promise<void> {
    const client = await this.#client(database);
    let n: number | null;
    try {
      const r = await client.query(
        `INSERT INTO iamdb.sessions (pid, backend_start, session_id, principal_arn, access_key_id, db_user)
         SELECT pid, backend_start, $2, $3, $4, $5 FROM pg_catalog.pg_stat_activity
         WHERE pid = $1 AND backend_start IS NOT NULL
         ON CONFLICT (pid) DO UPDATE SET backend_start = excluded.backend_start,
           session_id = excluded.session_id, principal_arn = excluded.principal_arn,
           access_key_id = excluded.access_key_id, db_user = excluded.db_user, recorded = now()`,
        [pid, who.sessionId, who.principalArn, who.accessKeyId, who.dbUser],
      );
      n = r.rowCount;
    } catch (err) {
      throw new SessionIdentityError(`cannot record the session's identity: ${(err as Error).message}`);
    }
    if (n !== 1) {
      throw new SessionIdentityError(
        `cannot record the session's identity: the administrator ${this.spec.adminUser} cannot see backend ${pid}'s start time in pg_stat_activity; GRANT pg_read_all_stats TO ${this.spec.adminUser}`,
      );
    }
  }

  /** Removes backend `pid`'s row if it is still `sessionId`'s (best effort: a later record overwrites it anyway). */
  forget(database: string, pid: number, sessionId: string): void {
    void this.#client(database)
      .then((c) => c.query("DELETE FROM iamdb.sessions WHERE pid = $1 AND session_id = $2", [pid, sessionId]))
      .catch((err: Error) =>
        log().debug({ component: "session-identity", err }, "could not remove a session's identity row"),
      );
  }

  close(): void {
    for (const p of this.#clients.values()) void p.then((c) => c.end()).catch(() => undefined);
    this.#clients.clear();
  }
}
