import { randomUUID } from "node:crypto";
import type { ChangeFeed } from "../iam/repository.js";
import type { DeploymentRepository, FleetMemberInfo, FleetMemberRecord } from "../instances/repository.js";

/** Member numbers fit the 11 bits the PostgreSQL BackendKeyData carries them in (`src/fleet/cancelKey.ts`). */
export const MAX_MEMBER_NO = 2047;
/** A member whose heartbeat is this many beats old is gone. */
export const MISSED_BEATS = 3;

export interface FleetOptions {
  readonly repo: DeploymentRepository;
  readonly changes: ChangeFeed;
  readonly info: FleetMemberInfo;
  readonly heartbeatMs: number;
  readonly now?: () => Date;
  /** Told when a heartbeat cannot reach the store (it keeps trying). */
  readonly onError?: (err: Error) => void;
}

/**
 * This gateway's membership of the fleet: registered in the store with a member number unique
 * among live members, renewed every heartbeat, removed on a clean stop. A gateway killed without
 * a stop disappears from every listing once its heartbeat is `MISSED_BEATS` beats old. The live
 * member list is kept in memory (refreshed at every beat and on every fleet change).
 */
export class FleetMembership {
  #self: FleetMemberRecord;
  #members: FleetMemberRecord[] = [];
  readonly #timer: NodeJS.Timeout;
  readonly #unsubscribe: () => void;
  #stopped = false;

  private constructor(
    private readonly options: FleetOptions,
    self: FleetMemberRecord,
  ) {
    this.#self = self;
    this.#timer = setInterval(() => void this.beat(), options.heartbeatMs);
    this.#timer.unref();
    this.#unsubscribe = options.changes.subscribe((c) => {
      if (c.scope === "all" || (c.scope === "deployment" && c.kind === "fleet")) void this.refresh();
    });
  }

  static async join(options: FleetOptions): Promise<FleetMembership> {
    const now = (options.now ?? (() => new Date()))();
    const self = await options.repo.registerFleetMember(
      randomUUID(),
      options.info,
      now,
      new Date(now.getTime() - MISSED_BEATS * options.heartbeatMs),
      MAX_MEMBER_NO,
    );
    const m = new FleetMembership(options, self);
    await m.refresh();
    return m;
  }

  get memberId(): string {
    return this.#self.memberId;
  }

  get memberNo(): number {
    return this.#self.memberNo;
  }

  /** The live members, this one included, by member number. */
  members(): readonly FleetMemberRecord[] {
    return this.#members;
  }

  member(memberNo: number): FleetMemberRecord | undefined {
    return this.#members.find((m) => m.memberNo === memberNo);
  }

  #now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }

  async refresh(): Promise<void> {
    const since = new Date(this.#now().getTime() - MISSED_BEATS * this.options.heartbeatMs);
    try {
      this.#members = await this.options.repo.listFleetMembers(since);
    } catch (err) {
      this.options.onError?.(err as Error);
    }
  }

  /** Renews the heartbeat; registers again (with a new number) when another gateway declared this one gone. */
  async beat(): Promise<void> {
    if (this.#stopped) return;
    const { repo, heartbeatMs, info } = this.options;
    try {
      const now = this.#now();
      if (!(await repo.heartbeatFleetMember(this.#self.memberId, now)) && !this.#stopped) {
        this.#self = await repo.registerFleetMember(
          this.#self.memberId,
          info,
          now,
          new Date(now.getTime() - MISSED_BEATS * heartbeatMs),
          MAX_MEMBER_NO,
        );
      }
    } catch (err) {
      this.options.onError?.(err as Error);
    }
    await this.refresh();
  }

  /** Leaves the fleet (a clean stop): the others stop counting this gateway at once. */
  async leave(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#unsubscribe();
    await this.options.repo.removeFleetMember(this.#self.memberId).catch(() => undefined);
  }
}
