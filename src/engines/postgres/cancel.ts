import { randomBytes, timingSafeEqual } from "node:crypto";
import { processIdFor } from "../../fleet/peer-cancel.js";

/** Where a cancel request for one session must go, with the backend's own key. */
export interface BackendTarget {
  readonly processId: number;
  readonly secretKey: Buffer;
  readonly send: (processId: number, secretKey: Buffer) => void;
}

/**
 * The gateway's own BackendKeyData for each relayed session, mapped to the backend's. Clients
 * never see the backend's process id or key, so a cancel request can only reach the backend
 * through the gateway, and only for a session the requester was given the key of.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
export class CancelKeys {
  readonly #byPid = new Map<number, { key: Buffer; target: BackendTarget }>();

  /**
   * Issues a fresh (processId, secretKey) for a session; `release` forgets it when the session
   * ends. In a fleet the process id carries this gateway's member number, so another gateway
   * that receives the cancel knows where to forward it.
   */
  issue(
    target: BackendTarget,
    memberNo?: number,
  ): { processId: number; secretKey: Buffer; release: () => void } {
    let processId: number;
    do {
      const random = randomBytes(4).readInt32BE(0) & 0x7fffffff;
      processId = memberNo === undefined ? random : processIdFor(memberNo, random);
    } while (processId === 0 || this.#byPid.has(processId));
    const secretKey = randomBytes(4);
    this.#byPid.set(processId, { key: secretKey, target });
    return { processId, secretKey, release: () => this.#byPid.delete(processId) };
  }

  /** Forwards a client's CancelRequest when the pair is one we issued; returns whether it was. */
  cancel(processId: number, secretKey: Buffer): boolean {
    const entry = this.#byPid.get(processId);
    if (!entry || entry.key.length !== secretKey.length || !timingSafeEqual(entry.key, secretKey))
      return false;
    entry.target.send(entry.target.processId, entry.target.secretKey);
    return true;
  }

  get size(): number {
    return this.#byPid.size;
  }
}
