import { constants, createHash, publicEncrypt } from "node:crypto";

/**
 * The password proofs the gateway computes when it logs in to a backend.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_authentication_methods.html
 */

const sha1 = (...parts: Buffer[]) => {
  const h = createHash("sha1");
  for (const p of parts) h.update(p);
  return h.digest();
};
const sha256 = (...parts: Buffer[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest();
};

function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) ^ (b[i % b.length] as number);
  return out;
}

/** mysql_native_password: SHA1(pw) XOR SHA1(scramble + SHA1(SHA1(pw))). */
export function nativePasswordProof(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha1(Buffer.from(password, "utf8"));
  return xor(stage1, sha1(scramble.subarray(0, 20), sha1(stage1)));
}

/** caching_sha2_password fast path: SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) + scramble). */
export function cachingSha2Proof(password: string, scramble: Buffer): Buffer {
  if (password === "") return Buffer.alloc(0);
  const stage1 = sha256(Buffer.from(password, "utf8"));
  return xor(stage1, sha256(sha256(stage1), scramble.subarray(0, 20)));
}

/**
 * caching_sha2_password / sha256_password full authentication without TLS: the
 * NUL-terminated password XORed with the scramble, encrypted with the server's RSA key
 * (OAEP, SHA-1, as libmysqlclient does).
 */
export function rsaEncryptPassword(password: string, scramble: Buffer, publicKeyPem: string): Buffer {
  const plain = xor(Buffer.from(`${password}\0`, "utf8"), scramble.subarray(0, 20));
  return publicEncrypt({ key: publicKeyPem, padding: constants.RSA_PKCS1_OAEP_PADDING }, plain);
}
