/**
 * Password authentication toward a PostgreSQL backend: MD5 and SCRAM-SHA-256.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { ScramError } from "./errors.js";
import { saslprep } from "./saslprep.js";

/**
 * The answer to AuthenticationMD5Password: "md5" + md5hex(md5hex(password + user) + salt).
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export function md5Password(user: string, password: string, salt: Buffer): string {
  const inner = createHash("md5").update(password, "utf8").update(user, "utf8").digest("hex");
  return `md5${createHash("md5").update(inner, "latin1").update(salt).digest("hex")}`;
}

/** The SASL mechanism name PostgreSQL offers for SCRAM without channel binding. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/**
 * Iteration counts above this are refused: PBKDF2 runs synchronously, and a hostile or
 * misconfigured server could otherwise stall the event loop (PostgreSQL's default is 4096;
 * this bound takes about a second).
 */
export const MAX_SCRAM_ITERATIONS = 1_000_000;

const GS2_HEADER = "n,,";

/**
 * The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs it: no channel
 * binding (gs2 header "n,,"), and an empty username ("n=") because PostgreSQL takes the user
 * from the StartupMessage and ignores this one. The password goes through an approximation of
 * SASLprep (see saslprep.ts); ASCII passwords are used as is.
 *
 * Use: send `clientFirstMessage()` in a SASLInitialResponse, the result of
 * `handleServerFirst(AuthenticationSASLContinue.data)` in a SASLResponse, then call
 * `verifyServerFinal(AuthenticationSASLFinal.data)` before trusting AuthenticationOk.
 *
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html#SASL-SCRAM-SHA-256
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-3
 */
export class ScramSha256Client {
  private readonly password: string;
  private readonly clientNonce: string;
  private readonly clientFirstBare: string;
  private state: "initial" | "first-sent" | "final-sent" | "done" = "initial";
  private expectedServerSignature: Buffer | undefined;

  /**
   * @param nonce client nonce; random (18 bytes, base64, as libpq) unless injected by tests
   * @param username sent in client-first-message; PostgreSQL ignores it, so the default is
   *   empty. Only tests (the RFC 7677 vector uses "user") need another value.
   */
  constructor(password: string, nonce?: string, username = "") {
    this.password = password;
    this.clientNonce = nonce ?? randomBytes(18).toString("base64");
    // RFC 5802 section 7: printable ASCII except ','.
    if (!/^[\x21-\x2B\x2D-\x7E]+$/.test(this.clientNonce)) {
      throw new ScramError("SCRAM client nonce must be printable ASCII without ','");
    }
    // RFC 5802 section 5.1: ',' and '=' in a saslname are escaped as =2C and =3D.
    const saslname = username.replaceAll("=", "=3D").replaceAll(",", "=2C");
    this.clientFirstBare = `n=${saslname},r=${this.clientNonce}`;
  }

  /** client-first-message: "n,,n=,r=<nonce>". */
  clientFirstMessage(): Buffer {
    if (this.state !== "initial") throw new ScramError("SCRAM client-first-message was already sent");
    this.state = "first-sent";
    return Buffer.from(GS2_HEADER + this.clientFirstBare, "utf8");
  }

  /**
   * Takes server-first-message "r=<nonce>,s=<salt>,i=<count>" and returns client-final-message
   * "c=biws,r=<nonce>,p=<proof>".
   * @throws ScramError if the message is malformed, the nonce does not extend ours, or the
   *   iteration count is out of bounds
   */
  handleServerFirst(data: Buffer): Buffer {
    if (this.state !== "first-sent") throw new ScramError("SCRAM server-first-message arrived out of order");
    const serverFirst = data.toString("utf8");
    const attributes = parseAttributes(serverFirst);
    const nonce = attributes.get("r");
    const saltBase64 = attributes.get("s");
    const iterationsText = attributes.get("i");
    if (attributes.has("m")) throw new ScramError("SCRAM server requires an unsupported extension (m=)");
    if (nonce === undefined || saltBase64 === undefined || iterationsText === undefined) {
      throw new ScramError("malformed SCRAM server-first-message: expected r=, s= and i= attributes");
    }
    if (!nonce.startsWith(this.clientNonce) || nonce.length === this.clientNonce.length) {
      throw new ScramError("SCRAM server nonce does not extend the client nonce");
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(saltBase64) || saltBase64.length % 4 !== 0) {
      throw new ScramError("malformed SCRAM salt: not base64");
    }
    if (!/^[1-9][0-9]{0,9}$/.test(iterationsText)) throw new ScramError("malformed SCRAM iteration count");
    const iterations = Number(iterationsText);
    if (iterations > MAX_SCRAM_ITERATIONS) {
      throw new ScramError(
        `SCRAM iteration count ${iterations} exceeds the limit of ${MAX_SCRAM_ITERATIONS}`,
      );
    }
    const salt = Buffer.from(saltBase64, "base64");

    const saltedPassword = pbkdf2Sync(
      Buffer.from(saslprep(this.password), "utf8"),
      salt,
      iterations,
      32,
      "sha256",
    );
    const clientKey = hmac(saltedPassword, "Client Key");
    const storedKey = createHash("sha256").update(clientKey).digest();
    const channelBinding = Buffer.from(GS2_HEADER, "utf8").toString("base64"); // "biws"
    const clientFinalWithoutProof = `c=${channelBinding},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const clientSignature = hmac(storedKey, authMessage);
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = (clientKey[i] ?? 0) ^ (clientSignature[i] ?? 0);
    this.expectedServerSignature = hmac(hmac(saltedPassword, "Server Key"), authMessage);
    this.state = "final-sent";
    return Buffer.from(`${clientFinalWithoutProof},p=${proof.toString("base64")}`, "utf8");
  }

  /**
   * Checks server-final-message "v=<signature>": proof that the server knows the password
   * verifier, i.e. that it is the real backend.
   * @throws ScramError on "e=<error>", a malformed message or a wrong signature
   */
  verifyServerFinal(data: Buffer): void {
    if (this.state !== "final-sent" || this.expectedServerSignature === undefined) {
      throw new ScramError("SCRAM server-final-message arrived out of order");
    }
    const attributes = parseAttributes(data.toString("utf8"));
    const error = attributes.get("e");
    if (error !== undefined) throw new ScramError(`SCRAM authentication failed on the server: ${error}`);
    const verifier = attributes.get("v");
    if (verifier === undefined) throw new ScramError("malformed SCRAM server-final-message: no v= attribute");
    const signature = Buffer.from(verifier, "base64");
    if (
      signature.length !== this.expectedServerSignature.length ||
      !timingSafeEqual(signature, this.expectedServerSignature)
    ) {
      throw new ScramError("SCRAM server signature is wrong: the server does not know the password");
    }
    this.state = "done";
  }
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text, "utf8").digest();
}

/** "a=1,b=2" → Map; values may contain '=' (base64 padding) but not ','. */
function parseAttributes(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const part of message.split(",")) {
    const match = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!match) throw new ScramError(`malformed SCRAM attribute "${part.slice(0, 20)}"`);
    const [, name = "", value = ""] = match;
    if (attributes.has(name)) throw new ScramError(`duplicate SCRAM attribute "${name}"`);
    attributes.set(name, value);
  }
  return attributes;
}
