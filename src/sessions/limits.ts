import type { LiveSessions } from "./live.js";

/** Login limits of one instance (`gateway.limits`, overridden per instance); absent = no limit. */
export interface LoginLimits {
  readonly newConnectionsPerSecondPerPrincipal?: number | undefined;
  readonly newConnectionsPerSecondPerInstance?: number | undefined;
  readonly maxSessionsPerPrincipal?: number | undefined;
}

/** Which limit refused a login, and the sentence the client and the auth log get. */
export interface LimitRefusal {
  readonly limit: keyof LoginLimits;
  readonly message: string;
}

/**
 * A token bucket: `rate` tokens a second, holding at most one second's worth (so a burst of
 * `rate` logins passes at once after a quiet second, as RDS's per-second throttle allows).
 */
class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(private rate: number) {
    this.#tokens = Math.max(rate, 1);
    this.#at = performance.now();
  }

  take(rate: number): boolean {
    const now = performance.now();
    this.rate = rate;
    // At least one token fits, so a share below one a second still admits (one per 1/rate s).
    this.#tokens = Math.min(Math.max(rate, 1), this.#tokens + ((now - this.#at) / 1000) * rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Full again: nothing to remember. */
  idle(): boolean {
    return this.#tokens + ((performance.now() - this.#at) / 1000) * this.rate >= Math.max(this.rate, 1);
  }
}

export interface LimiterOptions {
  readonly sessions: LiveSessions;
  /** The limits that apply to an instance (the gateway's, with the instance's overrides). */
  readonly limitsFor: (instance: string) => LoginLimits;
  /**
   * Gateways sharing the load (live fleet members): each takes its share of a per-second rate.
   * The session cap is counted across the fleet from the store instead.
   */
  readonly fleetSize: () => number;
}

/**
 * The per-principal and per-instance login limits, checked once a login is authenticated and
 * authorized (the principal is known) and before the backend is asked for anything. Rates are
 * token buckets per gateway, each gateway taking 1/N of the rate in a fleet of N; the session
 * cap counts this gateway's sessions (and logins in flight) plus the others' from the store.
 */
export class LoginLimiter {
  readonly #buckets = new Map<string, TokenBucket>();
  #sweeps = 0;

  constructor(private readonly options: LimiterOptions) {}

  /** Whether any limit is set for `instance` (no work at all on the login path otherwise). */
  active(instance: string): boolean {
    const l = this.options.limitsFor(instance);
    return (
      l.newConnectionsPerSecondPerPrincipal !== undefined ||
      l.newConnectionsPerSecondPerInstance !== undefined ||
      l.maxSessionsPerPrincipal !== undefined
    );
  }

  /**
   * Admits a login of `principal` on `instance` or says which limit refuses it. An admitted
   * login is counted against maxSessionsPerPrincipal until `release` (returned) is called.
   */
  async admit(
    instance: string,
    principal: string,
  ): Promise<{ ok: true; release: () => void } | ({ ok: false } & LimitRefusal)> {
    const limits = this.options.limitsFor(instance);
    const share = Math.max(1, this.options.fleetSize());
    const perInstance = limits.newConnectionsPerSecondPerInstance;
    if (perInstance !== undefined && !this.#take(`i\0${instance}`, perInstance / share)) {
      return {
        ok: false,
        limit: "newConnectionsPerSecondPerInstance",
        message: `too many new connections to ${instance}: the limit is ${perInstance} per second (newConnectionsPerSecondPerInstance); retry with backoff`,
      };
    }
    const perPrincipal = limits.newConnectionsPerSecondPerPrincipal;
    if (perPrincipal !== undefined && !this.#take(`p\0${instance}\0${principal}`, perPrincipal / share)) {
      return {
        ok: false,
        limit: "newConnectionsPerSecondPerPrincipal",
        message: `too many new connections from ${principal}: the limit is ${perPrincipal} per second per principal (newConnectionsPerSecondPerPrincipal); retry with backoff`,
      };
    }
    const { sessions } = this.options;
    const release = sessions.reserve(instance, principal);
    const max = limits.maxSessionsPerPrincipal;
    if (max !== undefined) {
      const local = sessions.countFor(instance, principal);
      const total = local > max ? local : local + (await sessions.remoteCountFor(instance, principal));
      if (total > max) {
        release();
        return {
          ok: false,
          limit: "maxSessionsPerPrincipal",
          message: `${principal} already has ${total - 1} sessions on ${instance}: the limit is ${max} (maxSessionsPerPrincipal); close one first`,
        };
      }
    }
    return { ok: true, release };
  }

  #take(key: string, rate: number): boolean {
    let b = this.#buckets.get(key);
    if (b === undefined) {
      b = new TokenBucket(rate);
      this.#buckets.set(key, b);
      // Buckets of principals that went quiet are forgotten now and then (they would be full).
      if (++this.#sweeps % 1024 === 0)
        for (const [k, v] of this.#buckets) if (v.idle()) this.#buckets.delete(k);
    }
    return b.take(rate);
  }
}
