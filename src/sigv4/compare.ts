import { createHash, timingSafeEqual } from "node:crypto";

const SIGNATURE_LENGTH = 64;
const scratchA = Buffer.alloc(SIGNATURE_LENGTH);
const scratchB = Buffer.alloc(SIGNATURE_LENGTH);

/**
 * Compares two signatures in time independent of where they first differ, so a caller
 * cannot find a valid signature byte by byte. Unequal lengths return false at once: the
 * length of a SigV4 signature (64 hex digits) is public.
 */
export function signaturesEqual(expected: string, provided: string): boolean {
  if (expected.length !== provided.length) return false;
  if (expected.length !== SIGNATURE_LENGTH) {
    return timingSafeEqual(Buffer.from(expected, "latin1"), Buffer.from(provided, "latin1"));
  }
  // Reused scratch buffers: this runs on every login, and JavaScript runs one call at a time.
  scratchA.write(expected, "latin1");
  scratchB.write(provided, "latin1");
  return timingSafeEqual(scratchA, scratchB);
}

/** Compares secrets of any length (session tokens) without a length- or prefix-dependent time. */
export function secretsEqual(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}
