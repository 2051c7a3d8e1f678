import * as crypto from "node:crypto";

/** SHA-256 of the empty payload, the payload hash of every RDS auth token. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** `crypto.hash` (Node >= 20.12) skips the Hash object and is markedly faster for one-shot use. */
const oneShot = (crypto as { hash?: (alg: string, data: string | Uint8Array, enc: "hex") => string }).hash;

export function sha256Hex(data: string | Uint8Array): string {
  if (oneShot) return oneShot("sha256", data, "hex");
  return crypto.createHash("sha256").update(data).digest("hex");
}

/** The hashed payload of a request; the empty body's hash is a constant. */
export function payloadHash(body: string | Uint8Array | undefined): string {
  return body === undefined || body.length === 0 ? EMPTY_SHA256 : sha256Hex(body);
}
