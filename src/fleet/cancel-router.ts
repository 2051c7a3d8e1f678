import type { FleetMembership } from "./membership.js";
import {
  checkPeerCancel,
  memberOf,
  type PeerCancelCheck,
  peerCancelPacket,
  sendPacket,
} from "./peer-cancel.js";

/**
 * What the PostgreSQL engine asks of the fleet: the member number to put in the keys it issues,
 * where to forward a cancel for a key another member issued, and whether a peer cancel is genuine.
 * The membership is attached once the gateway has joined (its listeners must be up first).
 */
export class FleetCancelRouter {
  #membership: FleetMembership | undefined;

  constructor(
    private readonly key: Buffer,
    private readonly timeoutMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  attach(membership: FleetMembership): void {
    this.#membership = membership;
  }

  /** This gateway's member number, once joined. */
  get memberNo(): number | undefined {
    return this.#membership?.memberNo;
  }

  /**
   * Forwards a cancel this gateway did not issue to the member that did. Resolves to what
   * happened, for the operator's log; "not-ours" when no live member owns the key.
   */
  async forward(identifier: string, processId: number, secretKey: Buffer): Promise<string> {
    const m = this.#membership;
    const owner = memberOf(processId);
    if (m === undefined || owner === 0 || owner === m.memberNo) return "not-ours";
    const member = m.member(owner);
    const listener = member?.info.listeners[identifier];
    if (member === undefined || listener === undefined) return "not-ours";
    if (secretKey.length !== 4) return "not-ours";
    const packet = peerCancelPacket(this.key, processId, secretKey, m.memberNo, this.now());
    await sendPacket(listener.host, listener.port, packet, this.timeoutMs);
    return `forwarded to member ${owner} at ${listener.host}:${listener.port}`;
  }

  check(body: Buffer): PeerCancelCheck {
    return checkPeerCancel(this.key, body, this.now());
  }
}
