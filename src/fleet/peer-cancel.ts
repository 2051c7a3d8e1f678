import { createHmac, timingSafeEqual } from "node:crypto";
import { connect } from "node:net";
import { PEER_CANCEL_CODE } from "../wire/postgres/constants.js";

/**
 * Cancel requests across the fleet, in the manner of pgbouncer's peering (1.19): the
 * BackendKeyData a gateway hands out carries its member number in the process id, so a
 * CancelRequest that the load balancer sends to another gateway is forwarded to the owner.
 * The forwarded request is an iamdb "peer cancel" packet on the owner's PostgreSQL listener,
 * authenticated with an HMAC under a key derived from the master key every member shares and
 * dated, so nobody outside the fleet can use (or replay later) the forwarding path.
 * @see https://www.pgbouncer.org/config.html#section-peers
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */

/** length, code, processId, secretKey (4 bytes, as iamdb issues them), sender, time, HMAC-SHA256. */
export const PEER_CANCEL_LENGTH = 4 + 4 + 4 + 4 + 4 + 8 + 32;
/** A peer cancel older or newer than this is refused (clock skew between gateways plus transit). */
export const PEER_CANCEL_WINDOW_MS = 30_000;

const MEMBER_SHIFT = 20;

/** The process id of a BackendKeyData issued by member `memberNo`: member number in bits 20-30, the rest random. */
export function processIdFor(memberNo: number, random: number): number {
  return ((memberNo << MEMBER_SHIFT) | (random & ((1 << MEMBER_SHIFT) - 1))) >>> 0;
}

/** The member that issued a process id (0 for keys issued outside a fleet). */
export function memberOf(processId: number): number {
  return (processId >>> MEMBER_SHIFT) & 0x7ff;
}

export function peerKey(masterKey: Uint8Array): Buffer {
  return createHmac("sha256", masterKey).update("iamdb fleet peer cancel v1").digest();
}

/** The whole packet, ready to write to the owner's listener. */
export function peerCancelPacket(
  key: Buffer,
  processId: number,
  secretKey: Buffer,
  sender: number,
  now: number,
): Buffer {
  const b = Buffer.alloc(PEER_CANCEL_LENGTH);
  b.writeInt32BE(PEER_CANCEL_LENGTH, 0);
  b.writeUInt32BE(PEER_CANCEL_CODE, 4);
  b.writeInt32BE(processId | 0, 8);
  secretKey.copy(b, 12, 0, 4);
  b.writeUInt32BE(sender, 16);
  b.writeBigUInt64BE(BigInt(now), 20);
  createHmac("sha256", key).update(b.subarray(0, 28)).digest().copy(b, 28);
  return b;
}

export type PeerCancelCheck =
  | { readonly ok: true; readonly processId: number; readonly secretKey: Buffer; readonly sender: number }
  | { readonly ok: false; readonly reason: string };

/** Checks a peer cancel's body (what follows the code) against the fleet key and the clock. */
export function checkPeerCancel(key: Buffer, body: Buffer, now: number): PeerCancelCheck {
  if (body.length !== PEER_CANCEL_LENGTH - 8) return { ok: false, reason: "wrong length" };
  const header = Buffer.alloc(8);
  header.writeInt32BE(PEER_CANCEL_LENGTH, 0);
  header.writeUInt32BE(PEER_CANCEL_CODE, 4);
  const expected = createHmac("sha256", key).update(header).update(body.subarray(0, 20)).digest();
  if (!timingSafeEqual(expected, body.subarray(20))) {
    return { ok: false, reason: "its HMAC does not verify (not signed with this fleet's master key)" };
  }
  const at = Number(body.readBigUInt64BE(12));
  if (Math.abs(now - at) > PEER_CANCEL_WINDOW_MS) {
    return {
      ok: false,
      reason: `it is dated ${new Date(at).toISOString()}, outside the ${PEER_CANCEL_WINDOW_MS / 1000} s window`,
    };
  }
  return {
    ok: true,
    processId: body.readInt32BE(0),
    secretKey: Buffer.from(body.subarray(4, 8)),
    sender: body.readUInt32BE(8),
  };
}

/** Sends one packet and closes, as libpq sends a CancelRequest; failures are the caller's to log. */
export function sendPacket(host: string, port: number, packet: Buffer, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port });
    s.setTimeout(timeoutMs, () =>
      s.destroy(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)),
    );
    s.once("connect", () => s.end(packet));
    s.once("error", reject);
    s.once("close", () => resolve());
  });
}
