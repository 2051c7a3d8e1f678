import { randomBytes } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `db-` + 26 upper-case letters and digits, as RDS writes a DbiResourceId. */
export function newDbiResourceId(): string {
  const bytes = randomBytes(26);
  let id = "db-";
  // 256 = 7·36 + 4: the first four letters are 1/64 more likely; a DbiResourceId is an identifier, not a secret.
  for (const b of bytes) id += ALPHABET[b % ALPHABET.length];
  return id;
}

export const DBI_RESOURCE_ID = /^db-[A-Z0-9]{26}$/;
