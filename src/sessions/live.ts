import type { ChangeFeed } from "../iam/repository.js";
import { log } from "../log/logger.js";
import {
  type LiveSessionRecord,
  matchesFilter,
  type SessionCommandRecord,
  type SessionFilter,
  type SessionRepository,
} from "./types.js";

/** How long a termination command stays in the store: every live gateway reads it well within this. */
export const COMMAND_RETENTION_MS = 5 * 60_000;
/** How often started and ended sessions are written to the store (the listing lags by at most this). */
const FLUSH_MS = 100;
/** How often rows of gateways that died without a clean stop are removed. */
const PRUNE_MS = 10_000;

/** Why a session ends before its client leaves; the text the client and the auth log get. */
export interface Termination {
  /** For the client's error and the log: what happened, without secrets. */
  readonly reason: string;
  /** The auth log's cause: "revoked" (a change to IAM or the instance), "terminated" (an administrator), "expired". */
  readonly kind: "revoked" | "terminated" | "credentials-expired";
  /** More for the auth log only (the policy's explanation of a denial). */
  readonly detail?: string | undefined;
}

/** What the gateway keeps about a session it relays, beyond the record the fleet sees. */
export interface LocalSession {
  readonly record: LiveSessionRecord;
  /** The condition keys the login was authorized with (re-evaluated as they were). */
  readonly sourceIp: string;
  readonly secureTransport: boolean;
  /** Ends the session with the protocol's own termination error; idempotent. */
  terminate(t: Termination): void;
}

export interface SessionStoreOptions {
  readonly repo: SessionRepository;
  readonly changes: ChangeFeed;
  readonly memberId: string;
  /** The oldest heartbeat of a member still alive (the fleet's MISSED_BEATS rule). */
  readonly aliveSince: () => Date;
}

/**
 * The live sessions of this gateway: in memory for the gateway's own use (revocation, limits,
 * termination), written to the store in batches for the fleet's listing, and told about
 * termination commands from any gateway through the store's change feed.
 */
export class LiveSessions {
  readonly #sessions = new Map<string, LocalSession>();
  /** Sessions and logins admitted but not yet relaying, per `instance\0principal` (for maxSessionsPerPrincipal). */
  readonly #perPrincipal = new Map<string, number>();
  readonly #listeners = new Set<(s: LocalSession, event: "added" | "removed") => void>();
  #store: SessionStoreOptions | undefined;
  #toPut = new Map<string, LiveSessionRecord>();
  #toDelete = new Set<string>();
  #flushTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #unsubscribe: (() => void) | undefined;
  /** Commands already applied, by id, with when they were made (forgotten after the retention). */
  readonly #applied = new Map<string, number>();
  #readingCommands: Promise<void> | undefined;
  #commandsAgain = false;

  get size(): number {
    return this.#sessions.size;
  }

  get(sessionId: string): LocalSession | undefined {
    return this.#sessions.get(sessionId);
  }

  all(): IterableIterator<LocalSession> {
    return this.#sessions.values();
  }

  list(filter: SessionFilter = {}): LiveSessionRecord[] {
    return [...this.#sessions.values()].map((s) => s.record).filter((r) => matchesFilter(r, filter));
  }

  /** Told of every session added or removed (the revoker's timers of credential expiry). */
  onChange(listener: (s: LocalSession, event: "added" | "removed") => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Counts a login of `principal` on `instance` from its admission on (before it relays), so
   * logins racing each other cannot all pass maxSessionsPerPrincipal. Returns the release,
   * called once when the login fails or its session ends.
   */
  reserve(instance: string, principal: string): () => void {
    const key = `${instance}\0${principal}`;
    this.#perPrincipal.set(key, (this.#perPrincipal.get(key) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.#perPrincipal.get(key) ?? 1) - 1;
      if (n <= 0) this.#perPrincipal.delete(key);
      else this.#perPrincipal.set(key, n);
    };
  }

  /** This gateway's sessions (and admitted logins) of `principal` on `instance`. */
  countFor(instance: string, principal: string): number {
    return this.#perPrincipal.get(`${instance}\0${principal}`) ?? 0;
  }

  /** Other gateways' sessions of `principal` on `instance`, from the store (0 without one). */
  async remoteCountFor(instance: string, principal: string): Promise<number> {
    const store = this.#store;
    if (!store) return 0;
    return store.repo.countLiveSessions(principal, instance, store.memberId, store.aliveSince());
  }

  /** Records a session that started relaying; returns its removal (call once, when it ends). */
  add(session: LocalSession): () => void {
    const id = session.record.sessionId;
    this.#sessions.set(id, session);
    this.#toPut.set(id, session.record);
    this.#scheduleFlush();
    for (const l of this.#listeners) l(session, "added");
    return () => {
      if (this.#sessions.get(id) !== session) return;
      this.#sessions.delete(id);
      if (!this.#toPut.delete(id)) this.#toDelete.add(id);
      this.#scheduleFlush();
      for (const l of this.#listeners) l(session, "removed");
    };
  }

  /** Ends this gateway's sessions matching `filter`; returns how many. */
  terminateLocal(filter: SessionFilter, t: Termination): number {
    let n = 0;
    for (const s of [...this.#sessions.values()]) {
      if (!matchesFilter(s.record, filter)) continue;
      s.terminate(t);
      n++;
    }
    return n;
  }

  /**
   * Starts writing to the store (from then on the fleet lists this gateway's sessions) and
   * following termination commands. Sessions that started before are written at once.
   */
  attachStore(store: SessionStoreOptions): void {
    this.#store = store;
    for (const s of this.#sessions.values())
      this.#toPut.set(s.record.sessionId, { ...s.record, memberId: store.memberId });
    this.#scheduleFlush();
    this.#unsubscribe = store.changes.subscribe((c) => {
      if (c.scope === "all" || (c.scope === "deployment" && c.kind === "sessions")) void this.#readCommands();
    });
    // Commands made before this gateway joined are history: only newer ones apply.
    void store.repo
      .listSessionCommands(new Date(Date.now() - COMMAND_RETENTION_MS))
      .then((cmds) => {
        for (const c of cmds) this.#applied.set(c.commandId, c.created.getTime());
      })
      .catch(() => undefined);
    this.#pruneTimer = setInterval(() => {
      void store.repo.pruneLiveSessions(store.aliveSince()).catch(() => undefined);
    }, PRUNE_MS);
    this.#pruneTimer.unref();
  }

  /** The member id sessions are recorded under ("" before the store is attached). */
  get memberId(): string {
    return this.#store?.memberId ?? "";
  }

  /** Asks every gateway (this one included) to end the sessions matching `filter`. */
  async requestTermination(command: SessionCommandRecord): Promise<void> {
    const store = this.#store;
    if (!store) {
      this.#apply(command);
      return;
    }
    await store.repo.addSessionCommand(command, new Date(command.created.getTime() - COMMAND_RETENTION_MS));
    // Our own change arrives through the feed too; applying it now saves the round trip.
    this.#apply(command);
  }

  /** Lists the fleet's sessions (the store's), or this gateway's without a store. */
  async listFleet(filter: SessionFilter, limit: number): Promise<LiveSessionRecord[]> {
    const store = this.#store;
    if (!store) return this.list(filter).slice(0, limit);
    await this.flush();
    return store.repo.listLiveSessions(filter, store.aliveSince(), limit);
  }

  #apply(command: SessionCommandRecord): void {
    if (this.#applied.has(command.commandId)) return;
    this.#applied.set(command.commandId, command.created.getTime());
    const n = this.terminateLocal(command.filter, {
      reason: `terminated by ${command.requestedBy} (iamdb sessions terminate)`,
      kind: "terminated",
    });
    if (n > 0)
      log().info(
        { component: "sessions", command: command.commandId, filter: command.filter, ended: n },
        "ended sessions by an administrator's request",
      );
  }

  async #readCommands(): Promise<void> {
    if (this.#readingCommands) {
      this.#commandsAgain = true;
      return this.#readingCommands;
    }
    const store = this.#store;
    if (!store) return;
    this.#readingCommands = (async () => {
      do {
        this.#commandsAgain = false;
        const since = Date.now() - COMMAND_RETENTION_MS;
        for (const [id, at] of this.#applied) if (at < since) this.#applied.delete(id);
        try {
          for (const c of await store.repo.listSessionCommands(new Date(since))) this.#apply(c);
        } catch (err) {
          log().warn(
            { component: "sessions", err },
            "could not read session termination commands from the store; they apply when it answers again",
          );
        }
      } while (this.#commandsAgain);
    })().finally(() => {
      this.#readingCommands = undefined;
    });
    return this.#readingCommands;
  }

  #scheduleFlush(): void {
    if (!this.#store || this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      void this.flush();
    }, FLUSH_MS);
    this.#flushTimer.unref();
  }

  /** Writes what changed since the last flush (waits for one in progress first). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    const store = this.#store;
    if (!store || (this.#toPut.size === 0 && this.#toDelete.size === 0)) return;
    const put = [...this.#toPut.values()].map((r) => ({ ...r, memberId: store.memberId }));
    const del = [...this.#toDelete];
    this.#toPut = new Map();
    this.#toDelete = new Set();
    this.#flushing = (async () => {
      try {
        await store.repo.putLiveSessions(put);
        await store.repo.deleteLiveSessions(del);
      } catch (err) {
        // Written again at the next flush; the rows of ended sessions go with their member at worst.
        for (const r of put) if (this.#sessions.has(r.sessionId)) this.#toPut.set(r.sessionId, r);
        for (const id of del) this.#toDelete.add(id);
        log().warn(
          { component: "sessions", err },
          "could not record live sessions in the store (retrying); the fleet's session list is behind until it answers",
        );
        this.#scheduleFlush();
      }
    })().finally(() => {
      this.#flushing = undefined;
    });
    await this.#flushing;
  }

  /** Stops following the store; this gateway's rows go with its fleet membership. */
  async close(): Promise<void> {
    this.#unsubscribe?.();
    clearInterval(this.#pruneTimer);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    await this.flush().catch(() => undefined);
  }
}
