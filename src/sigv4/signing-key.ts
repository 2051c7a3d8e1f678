import { type HmacPads, hmacPads, hmacSha256, hmacSha256Hex } from "./hmac-sha256.js";
import type { Scope } from "./types.js";

/**
 * kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#derive-signing-key
 */
export function deriveSigningKey(secretAccessKey: string, scope: Scope): Buffer {
  const kDate = hmacSha256(`AWS4${secretAccessKey}`, scope.date);
  const kRegion = hmacSha256(kDate, scope.region);
  const kService = hmacSha256(kRegion, scope.service);
  return hmacSha256(kService, "aws4_request");
}

/**
 * A derived key ready to sign. It holds the key's HMAC pads, computed once: a signature is
 * then two one-shot SHA-256 hashes (see hmac-sha256.ts), about twice as fast as an Hmac
 * object per signature, even one keyed by a KeyObject.
 */
export class SigningKey {
  readonly #pads: HmacPads;

  constructor(readonly key: Buffer) {
    this.#pads = hmacPads(key);
  }

  /** HMAC-SHA256(key, data) in lower-case hex. */
  signHex(data: string): string {
    return hmacSha256Hex(this.#pads, data);
  }
}

/**
 * A small LRU of derived keys. A key is valid for one day, region and service, so a
 * verifier that sees the same credentials all day derives each key once, not per login.
 * Entries are keyed by the secret itself, so a changed secret can never hit a stale key.
 */
export class SigningKeyCache {
  readonly #entries = new Map<string, SigningKey>();
  /**
   * The most recently used entry, checked field by field before building the map's key:
   * a verifier sees the same key and scope login after login, and then neither the key
   * string nor the LRU move is needed (the entry is already the most recent).
   */
  #last: { secret: string; date: string; region: string; service: string; key: SigningKey } | undefined;

  constructor(readonly capacity = 1024) {}

  get(secretAccessKey: string, scope: Scope): SigningKey {
    const last = this.#last;
    if (
      last !== undefined &&
      last.secret === secretAccessKey &&
      last.date === scope.date &&
      last.region === scope.region &&
      last.service === scope.service
    ) {
      return last.key;
    }
    const id = `${scope.date}\0${scope.region}\0${scope.service}\0${secretAccessKey}`;
    let key = this.#entries.get(id);
    if (key) {
      // Re-insert to mark as most recently used.
      this.#entries.delete(id);
      this.#entries.set(id, key);
    } else {
      key = new SigningKey(deriveSigningKey(secretAccessKey, scope));
      if (this.capacity <= 0) return key;
      if (this.#entries.size >= this.capacity) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
      this.#entries.set(id, key);
    }
    const { date, region, service } = scope;
    this.#last = { secret: secretAccessKey, date, region, service, key };
    return key;
  }

  get size(): number {
    return this.#entries.size;
  }

  clear(): void {
    this.#entries.clear();
    this.#last = undefined;
  }
}

/** A cache shared by the signer and verifier of this process unless a caller brings its own. */
export const defaultSigningKeyCache = new SigningKeyCache();
