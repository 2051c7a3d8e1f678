import type { ChangeFeed, Invalidation } from "../iam/repository.js";
import { log } from "../log/logger.js";
import type { LiveSessions, LocalSession } from "./live.js";

/** What the revoker asks of each affected session: may it stay? */
export type SessionVerdict =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: string; readonly detail?: string | undefined };

export interface RevokerOptions {
  readonly sessions: LiveSessions;
  readonly changes: ChangeFeed;
  /**
   * Re-evaluates sessions after a change; `begin` starts one pass (shared look-ups), whose
   * `check` answers for one session.
   */
  readonly begin: () => (s: LocalSession) => Promise<SessionVerdict>;
  /** Brings state the checks read from memory up to date before a pass (the instance registry). */
  readonly refresh?: (change: Invalidation) => Promise<void>;
  /** "terminate" (default) ends denied sessions; "keep" is RDS's behaviour: only new logins are checked. */
  readonly mode: "terminate" | "keep";
  /** End sessions when the temporary credentials that signed their token expire. */
  readonly followCredentialExpiry: boolean;
  /** Told of each pass: sessions checked, ended, milliseconds (metrics, tests, the bench). */
  readonly onPass?: (checked: number, ended: number, ms: number) => void;
}

/**
 * Revocation of live sessions: every change that could end a session's right to be connected
 * (the change feed's IAM, instance and DB-account changes, from this gateway or another)
 * re-evaluates `rds-db:connect` for the sessions it may affect, and ends the ones now denied.
 * A credential's own change checks only the sessions its key signed; any other change checks
 * them all (the IAM store's changes arrive as "all"). Passes do not overlap: changes during a
 * pass are collected and checked right after it.
 */
export class SessionRevoker {
  #dirtyAll = false;
  readonly #dirtyKeys = new Set<string>();
  readonly #refreshes: Invalidation[] = [];
  #running: Promise<void> | undefined;
  #scheduled = false;
  readonly #unsubscribe: () => void;
  readonly #unwatch: () => void;
  readonly #expiryTimers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly options: RevokerOptions) {
    this.#unsubscribe =
      options.mode === "terminate" ? options.changes.subscribe((c) => this.#onChange(c)) : () => undefined;
    this.#unwatch = options.followCredentialExpiry
      ? options.sessions.onChange((s, event) => this.#watchExpiry(s, event))
      : () => undefined;
  }

  #onChange(c: Invalidation): void {
    if (c.scope === "credential") this.#dirtyKeys.add(c.accessKeyId);
    else if (c.scope === "deployment") {
      if (c.kind !== "instances" && c.kind !== "dbAccounts") return;
      this.#refreshes.push(c);
      this.#dirtyAll = true;
    } else {
      this.#refreshes.push(c);
      this.#dirtyAll = true;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After the other listeners of this change (the caches) have dropped what it replaces.
    setImmediate(() => {
      this.#scheduled = false;
      void this.run();
    });
  }

  /** Checks what the changes so far may affect; resolves when every collected change is checked. */
  async run(): Promise<void> {
    while (this.#running) await this.#running;
    if (!this.#dirtyAll && this.#dirtyKeys.size === 0) return;
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
    });
    await this.#running;
    if (this.#dirtyAll || this.#dirtyKeys.size > 0) await this.run();
  }

  async #pass(): Promise<void> {
    const { sessions, refresh } = this.options;
    const all = this.#dirtyAll;
    const keys = new Set(this.#dirtyKeys);
    const refreshes = this.#refreshes.splice(0);
    this.#dirtyAll = false;
    this.#dirtyKeys.clear();
    const started = performance.now();
    if (refresh) for (const c of refreshes) await refresh(c).catch(() => undefined);
    const affected = [...sessions.all()].filter((s) => all || keys.has(s.record.accessKeyId));
    const check = this.options.begin();
    let ended = 0;
    // In slices, so a pass over many sessions leaves the event loop to the relays in between.
    for (let i = 0; i < affected.length; i += 500) {
      const slice = affected.slice(i, i + 500);
      const verdicts = await Promise.all(
        slice.map((s) =>
          check(s).catch((err: Error): SessionVerdict => {
            // The store could not answer: keep the session (the next change checks it again).
            log().warn(
              { component: "revocation", err, session: s.record.sessionId },
              "could not re-evaluate a live session; it stays up until the next change is checked",
            );
            return { ok: true };
          }),
        ),
      );
      slice.forEach((s, j) => {
        const v = verdicts[j] as SessionVerdict;
        if (v.ok) return;
        ended++;
        s.terminate({ reason: v.reason, kind: "revoked", detail: v.detail });
      });
      if (i + 500 < affected.length) await new Promise((r) => setImmediate(r));
    }
    this.options.onPass?.(affected.length, ended, performance.now() - started);
  }

  #watchExpiry(s: LocalSession, event: "added" | "removed"): void {
    const id = s.record.sessionId;
    if (event === "removed") {
      clearTimeout(this.#expiryTimers.get(id));
      this.#expiryTimers.delete(id);
      return;
    }
    const at = s.record.credentialExpiresAt;
    if (at === undefined) return;
    const end = () => {
      this.#expiryTimers.delete(id);
      s.terminate({
        reason: `the temporary credentials ${s.record.accessKeyId} that signed its token expired at ${at.toISOString()}`,
        kind: "credentials-expired",
      });
    };
    const ms = at.getTime() - Date.now();
    if (ms <= 0) {
      setImmediate(end);
      return;
    }
    // setTimeout holds at most 2^31-1 ms (24.8 days); STS sessions last at most 36 hours.
    const timer = setTimeout(end, Math.min(ms, 2 ** 31 - 1));
    timer.unref();
    this.#expiryTimers.set(id, timer);
  }

  close(): void {
    this.#unsubscribe();
    this.#unwatch();
    for (const t of this.#expiryTimers.values()) clearTimeout(t);
    this.#expiryTimers.clear();
  }
}
