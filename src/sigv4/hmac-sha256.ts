import * as crypto from "node:crypto";

/**
 * HMAC-SHA256 (RFC 2104) over two one-shot hashes:
 *
 *     HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m))
 *
 * where K' is the key zero-padded to SHA-256's 64-byte block (or its hash, when longer).
 * `crypto.hash` (Node >= 20.12) hashes a buffer without creating a Hash object, and the
 * padded blocks of a cached key are computed once: on this VM one signature costs about
 * half of `createHmac(...).update().digest()` even with a KeyObject. Without `crypto.hash`
 * (Node 20.0-20.11) the same functions fall back to `createHmac`.
 * @see https://www.rfc-editor.org/rfc/rfc2104#section-2
 */

const BLOCK = 64;
const DIGEST = 32;
/** Messages of up to this many UTF-16 code units fit the shared buffer (<= 3 UTF-8 bytes each). */
const MAX_SHARED_CHARS = 1024;

type OneShot = (algorithm: string, data: Uint8Array, outputEncoding: "latin1" | "hex" | "buffer") => string;
const oneShot = (crypto as unknown as { hash?: OneShot }).hash;

// One pair of scratch buffers per process (per worker): JavaScript runs one call at a time
// and crypto.hash is synchronous, so no call can observe another's bytes half-written.
const inner = Buffer.alloc(BLOCK + 3 * MAX_SHARED_CHARS);
const outer = Buffer.alloc(BLOCK + DIGEST);

/** The key's block XORed with ipad (0x36) and opad (0x5c). */
export interface HmacPads {
  readonly ipad: Buffer;
  readonly opad: Buffer;
  /** For the createHmac fallback only. */
  readonly key: crypto.KeyObject | undefined;
}

function blockOf(key: Uint8Array): Uint8Array {
  return key.length > BLOCK ? crypto.createHash("sha256").update(key).digest() : key;
}

/** Pads a key once, for a key that signs many messages (a cached SigV4 signing key). */
export function hmacPads(key: Uint8Array): HmacPads {
  const block = blockOf(key);
  const ipad = Buffer.alloc(BLOCK, 0x36);
  const opad = Buffer.alloc(BLOCK, 0x5c);
  for (let i = 0; i < block.length; i++) {
    ipad[i] = 0x36 ^ (block[i] as number);
    opad[i] = 0x5c ^ (block[i] as number);
  }
  return { ipad, opad, key: oneShot ? undefined : crypto.createSecretKey(key) };
}

/** The inner hash of `data` under the pads already in `inner` and `outer`, then the outer one. */
function run(data: string, encoding: "hex" | "buffer"): string | Buffer {
  const hash = oneShot as OneShot;
  let message: Uint8Array;
  if (data.length <= MAX_SHARED_CHARS) {
    message = inner.subarray(0, BLOCK + inner.write(data, BLOCK, "utf8"));
  } else {
    const own = Buffer.allocUnsafe(BLOCK + Buffer.byteLength(data, "utf8"));
    inner.copy(own, 0, 0, BLOCK);
    own.write(data, BLOCK, "utf8");
    message = own;
  }
  // latin1 maps each digest byte to one character and back: no Buffer for the inner digest.
  outer.write(hash("sha256", message, "latin1"), BLOCK, "latin1");
  return hash("sha256", outer, encoding);
}

/** HMAC-SHA256(pads' key, data as UTF-8) in lower-case hex. */
export function hmacSha256Hex(pads: HmacPads, data: string): string {
  if (pads.key !== undefined) return crypto.createHmac("sha256", pads.key).update(data, "utf8").digest("hex");
  inner.set(pads.ipad, 0);
  outer.set(pads.opad, 0);
  return run(data, "hex") as string;
}

/**
 * HMAC-SHA256(key, data as UTF-8) for a key used once (the steps of deriving a signing key):
 * the pads are written straight into the scratch buffers.
 */
export function hmacSha256(key: Uint8Array | string, data: string): Buffer {
  if (!oneShot) return crypto.createHmac("sha256", key).update(data, "utf8").digest();
  const block = blockOf(typeof key === "string" ? Buffer.from(key, "utf8") : key);
  inner.fill(0x36, 0, BLOCK);
  outer.fill(0x5c, 0, BLOCK);
  for (let i = 0; i < block.length; i++) {
    inner[i] = 0x36 ^ (block[i] as number);
    outer[i] = 0x5c ^ (block[i] as number);
  }
  return run(data, "buffer") as Buffer;
}
