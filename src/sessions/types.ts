/**
 * A live session as the fleet sees it: one authenticated client relayed to its backend by one
 * gateway. Recorded in the store by the gateway that holds it (`src/sessions/live.ts`), listed
 * and ended through the admin API (`iamdb:ListDBSessions`, `iamdb:TerminateDBSessions`).
 */
export interface LiveSessionRecord {
  /** The login's correlation id: the auth log's lines for this session carry it too. */
  readonly sessionId: string;
  /** The fleet member (gateway) relaying it. */
  readonly memberId: string;
  readonly instance: string;
  readonly engine: string;
  readonly dbUser: string;
  readonly database: string;
  readonly principalArn: string;
  readonly accessKeyId: string;
  /** Temporary credentials (AssumeRole, GetSessionToken): `ASIA…` keys. */
  readonly temporary: boolean;
  /** When the temporary credentials that signed the token expire. */
  readonly credentialExpiresAt?: Date | undefined;
  /** `address:port` of the client as the gateway saw it. */
  readonly client: string;
  readonly started: Date;
  /** Whether the session got a pooled backend connection rather than a fresh login. */
  readonly backendReused: boolean;
}

/** Which sessions a list or a termination applies to; every field given must match. */
export interface SessionFilter {
  readonly sessionId?: string | undefined;
  readonly accessKeyId?: string | undefined;
  readonly principalArn?: string | undefined;
  readonly dbUser?: string | undefined;
  readonly instance?: string | undefined;
}

/** A termination asked for through the admin API, carried to every gateway through the store. */
export interface SessionCommandRecord {
  readonly commandId: string;
  readonly filter: SessionFilter;
  /** Who asked (the caller's ARN), for the auth log line of each session it ends. */
  readonly requestedBy: string;
  readonly created: Date;
}

export function matchesFilter(s: LiveSessionRecord, f: SessionFilter): boolean {
  return (
    (f.sessionId === undefined || s.sessionId === f.sessionId) &&
    (f.accessKeyId === undefined || s.accessKeyId === f.accessKeyId) &&
    (f.principalArn === undefined || s.principalArn === f.principalArn) &&
    (f.dbUser === undefined || s.dbUser === f.dbUser) &&
    (f.instance === undefined || s.instance === f.instance)
  );
}

/** Where live sessions and termination commands are kept (the shared store). */
export interface SessionRepository {
  /** Records sessions that started (or replaces rows with the same id). */
  putLiveSessions(rows: readonly LiveSessionRecord[]): Promise<void>;
  deleteLiveSessions(sessionIds: readonly string[]): Promise<void>;
  /** Sessions of members whose heartbeat is at or after `aliveSince` that match `filter`, oldest first. */
  listLiveSessions(filter: SessionFilter, aliveSince: Date, limit: number): Promise<LiveSessionRecord[]>;
  /** Sessions of `principalArn` on `instance` held by live members other than `exceptMember`. */
  countLiveSessions(
    principalArn: string,
    instance: string,
    exceptMember: string,
    aliveSince: Date,
  ): Promise<number>;
  /** Drops rows of members that are gone (no heartbeat since `aliveSince`) and of `memberId` when given. */
  pruneLiveSessions(aliveSince: Date, memberId?: string): Promise<number>;
  /** Stores a termination and tells every gateway (change feed kind "sessions"). */
  addSessionCommand(command: SessionCommandRecord, pruneBefore: Date): Promise<void>;
  listSessionCommands(since: Date): Promise<SessionCommandRecord[]>;
}
