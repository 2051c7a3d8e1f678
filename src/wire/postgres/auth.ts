/**
 * MD5 password authentication toward a PostgreSQL backend; SCRAM-SHA-256 is in scram.ts.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
import { createHash } from "node:crypto";

/**
 * The answer to AuthenticationMD5Password: "md5" + md5hex(md5hex(password + user) + salt).
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash("md5").update(password, "utf8").update(user, "utf8").digest("hex");
  return `md5${createHash("md5").update(inner, "latin1").update(salt).digest("hex")}`;
}
