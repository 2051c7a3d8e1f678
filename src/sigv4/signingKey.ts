import { createHmac, createSecretKey, type KeyObject } from "node:crypto";
import { hmac } from "./hash.js";
import type { Scope } from "./types.js";

/**
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#derive-signing-key
 */
export function deriveSigningKey(secretAccessKey: string, scope: Scope): Buffer {
  const kDate = hmac(`AWS4${secretAccessKey}`, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, "aws4_request");
}

/**
 * A derived key ready to sign. It holds a KeyObject: an HMAC keyed by one skips importing
 * the raw key on every signature (measured ~20% faster per HMAC on Node 20).
 */
export class SigningKey {
  readonly #keyObject: KeyObject;

  constructor(readonly key: Buffer) {
    this.#keyObject = createSecretKey(key);
  }

  /** HMAC-SHA256(key, data) in lower-case hex. */
  signHex(data: string): string {
    return createHmac("sha256", this.#keyObject).update(data, "utf8").digest("hex");
  }
}

/**
 * A small LRU of derived keys. A key is valid for one day, region and service, so a
 * verifier that sees the same credentials all day derives each key once, not per login.
 * Entries are keyed by the secret itself, so a changed secret can never hit a stale key.
 */
export class SigningKeyCache {
  readonly #entries = new Map<string, SigningKey>();

  constructor(readonly capacity = 1024) {}

  get(secretAccessKey: string, scope: Scope): SigningKey {
    const id = `${scope.date}\0${scope.region}\0${scope.service}\0${secretAccessKey}`;
    const hit = this.#entries.get(id);
    if (hit) {
      // Re-insert to mark as most recently used.
      this.#entries.delete(id);
      this.#entries.set(id, hit);
      return hit;
    }
    const key = new SigningKey(deriveSigningKey(secretAccessKey, scope));
    if (this.capacity <= 0) return key;
    if (this.#entries.size >= this.capacity) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    this.#entries.set(id, key);
    return key;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** A cache shared by the signer and verifier of this process unless a caller brings its own. */
export const defaultSigningKeyCache = new SigningKeyCache();
