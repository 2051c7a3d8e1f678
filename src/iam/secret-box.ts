import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * AES-256-GCM sealing of secret access keys, session secrets and session tokens. The output is
 * `v1.` + base64(iv ‖ tag ‖ ciphertext) with a fresh 96-bit IV per value (NIST SP 800-38D §8.2).
 * The associated data binds each sealed value to its access key id and purpose, so a row's
 * ciphertext copied onto another key fails to open instead of authenticating that key.
 */
export class SecretBox {
  private readonly key: Buffer;

  constructor(masterKey: Uint8Array) {
    if (masterKey.length !== 32) throw new RangeError("The master key must be 32 bytes (AES-256).");
    this.key = Buffer.from(masterKey);
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    cipher.setAAD(Buffer.from(context, "utf8"));
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return `v1.${Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64")}`;
  }

  /** Throws when the value was sealed under another key or context, or was altered. */
  open(sealed: string, context: string): string {
    if (!sealed.startsWith("v1.")) throw new SealedValueError("unknown sealed-value format");
    const raw = Buffer.from(sealed.slice(3), "base64");
    if (raw.length < 28) throw new SealedValueError("sealed value too short");
    const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(context, "utf8"));
    decipher.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8");
    } catch {
      throw new SealedValueError(
        "a stored secret could not be decrypted: the master key differs from the one it was sealed with",
      );
    }
  }
}

export class SealedValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SealedValueError";
  }
}
