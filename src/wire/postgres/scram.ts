/**
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL runs it, every piece iamdb needs in one
 * place: the client side (the gateway logging in to a backend), the server side (the embedded
 * server checking a client against a stored verifier), and the verifier PostgreSQL stores in
 * pg_authid.rolpassword (`SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`), which
 * provisioning writes. No channel binding (no SCRAM-SHA-256-PLUS). Passwords go through
 * SASLprep (see saslprep.ts) on every side, as PostgreSQL's do; ASCII passwords are used as is.
 * Sans-I/O: nonces and salts are random unless injected.
 *
 * @see https://www.rfc-editor.org/rfc/rfc5802
 * @see https://www.rfc-editor.org/rfc/rfc7677
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html#SASL-SCRAM-SHA-256
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from "node:crypto";
import { ScramError, ScramPasswordMismatch } from "./errors.js";
import { saslprep } from "./saslprep.js";

/** The SASL mechanism name PostgreSQL offers for SCRAM without channel binding. */
export const SCRAM_SHA_256 = "SCRAM-SHA-256";

/**
 * Iteration counts above this are refused by the client: PBKDF2 runs synchronously, and a
 * hostile or misconfigured server could otherwise stall the event loop (PostgreSQL's default
 * is 4096; this bound takes about a second).
 */
export const MAX_SCRAM_ITERATIONS = 1_000_000;

/** PostgreSQL's defaults for a new verifier: scram_iterations = 4096, SCRAM_DEFAULT_SALT_LEN = 16. */
export const DEFAULT_SCRAM_ITERATIONS = 4096;
export const DEFAULT_SCRAM_SALT_BYTES = 16;

/** The only gs2 header a PostgreSQL client without channel binding sends first. */
const GS2_HEADER = "n,,";
/** RFC 5802 section 7: a nonce is printable ASCII except ','. */
const NONCE = /^[\x21-\x2B\x2D-\x7E]+$/;

/** What a server keeps to check SCRAM-SHA-256 logins: never the password itself. */
export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

// ---- the stored verifier ----

/**
 * The verifier of `password` in the text form PostgreSQL stores, as its scram_build_secret
 * (src/common/scram-common.c) writes it. Provisioning sends this instead of the password so the
 * password stays out of the backend's own logs (log_statement = ddl, a failed statement), as
 * psql's \password does; PostgreSQL accepts it for md5 and password methods too.
 * @see https://www.postgresql.org/docs/current/auth-password.html
 * @see https://datatracker.ietf.org/doc/html/rfc5803
 */
export function scramVerifier(
  password: string,
  salt: Buffer = randomBytes(DEFAULT_SCRAM_SALT_BYTES),
  iterations = DEFAULT_SCRAM_ITERATIONS,
): string {
  const { storedKey, serverKey } = deriveKeys(password, salt, iterations);
  return `${SCRAM_SHA_256}$${iterations}:${salt.toString("base64")}$${storedKey.toString("base64")}:${serverKey.toString("base64")}`;
}

/**
 * Reads `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (parse_scram_secret in
 * src/backend/libpq/auth-scram.c); undefined for anything else, such as an md5 hash.
 */
export function parseScramVerifier(stored: string): ScramVerifier | undefined {
  const m = /^SCRAM-SHA-256\$([1-9][0-9]{0,9}):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(
    stored,
  );
  if (!m) return undefined;
  const [, iterations = "", salt = "", storedKey = "", serverKey = ""] = m;
  const keys = [Buffer.from(storedKey, "base64"), Buffer.from(serverKey, "base64")] as const;
  if (keys[0].length !== 32 || keys[1].length !== 32) return undefined;
  return {
    iterations: Number(iterations),
    salt: Buffer.from(salt, "base64"),
    storedKey: keys[0],
    serverKey: keys[1],
  };
}

// ---- client side ----

/**
 * The client side, as libpq runs it: no channel binding (gs2 header "n,,"), and an empty
 * username ("n=") because PostgreSQL takes the user from the StartupMessage and ignores this one.
 *
 * Use: send `clientFirstMessage()` in a SASLInitialResponse, the result of
 * `handleServerFirst(AuthenticationSASLContinue.data)` in a SASLResponse, then call
 * `verifyServerFinal(AuthenticationSASLFinal.data)` before trusting AuthenticationOk.
 *
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
    if (!NONCE.test(this.clientNonce)) {
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
    const attributes = attributeMap(serverFirst);
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
    const keys = deriveKeys(this.password, Buffer.from(saltBase64, "base64"), iterations);
    const channelBinding = Buffer.from(GS2_HEADER, "utf8").toString("base64"); // "biws"
    const clientFinalWithoutProof = `c=${channelBinding},r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${clientFinalWithoutProof}`;
    const proof = xor(keys.clientKey, hmac(keys.storedKey, authMessage));
    this.expectedServerSignature = hmac(keys.serverKey, authMessage);
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
    const attributes = attributeMap(data.toString("utf8"));
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

// ---- server side ----

/**
 * The server side, checked against a stored {@link ScramVerifier}: `handleClientFirst` answers
 * the SASLInitialResponse's data with the server-first-message (AuthenticationSASLContinue),
 * `handleClientFinal` checks the SASLResponse's proof and returns the server-final-message
 * (AuthenticationSASLFinal). The user name in client-first is ignored, as PostgreSQL does.
 *
 * @throws ScramPasswordMismatch when the exchange is well formed but the proof is wrong
 *   (PostgreSQL: 28P01); ScramError for a message that breaks RFC 5802 (08P01)
 * @see https://www.rfc-editor.org/rfc/rfc5802#section-5
 */
export class ScramSha256Server {
  private clientFirstBare = "";
  private serverFirst = "";
  private gs2Header = "";
  private nonce = "";
  private state: "initial" | "first-received" | "done" = "initial";

  /** @param serverNonce printable, comma-free characters; random (18 bytes, base64) unless injected by tests */
  constructor(
    private readonly verifier: ScramVerifier,
    private readonly serverNonce: string = randomBytes(18).toString("base64"),
  ) {
    if (!NONCE.test(serverNonce))
      throw new ScramError("SCRAM server nonce must be printable ASCII without ','");
  }

  /** Takes client-first-message, returns server-first-message "r=<nonce>,s=<salt>,i=<count>". */
  handleClientFirst(data: Buffer): Buffer {
    if (this.state !== "initial") throw new ScramError("SCRAM client-first-message arrived out of order");
    const clientFirst = data.toString("utf8");
    // gs2-header: "n,," (no channel binding) or "y,," (client could but believes we cannot).
    // "p=..." asks for channel binding, which we never offer (no SCRAM-SHA-256-PLUS).
    const m = /^([ny]),(a=[^,]*)?,(.*)$/s.exec(clientFirst);
    if (!m) {
      throw new ScramError(
        clientFirst.startsWith("p=")
          ? "channel binding was requested but the server does not offer SCRAM-SHA-256-PLUS"
          : "malformed SCRAM client-first message",
      );
    }
    if (m[2] !== undefined) throw new ScramError("SCRAM authorization identities are not supported");
    this.gs2Header = `${m[1]},,`;
    this.clientFirstBare = m[3] ?? "";
    const attrs = attributeList(this.clientFirstBare);
    if (attrs[0]?.[0] === "m") throw new ScramError("SCRAM mandatory extensions are not supported");
    const clientNonce = attrs[1]?.[0] === "r" ? attrs[1][1] : undefined;
    if (attrs[0]?.[0] !== "n" || clientNonce === undefined || !NONCE.test(clientNonce)) {
      throw new ScramError("malformed SCRAM client-first message");
    }
    this.nonce = clientNonce + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString("base64")},i=${this.verifier.iterations}`;
    this.state = "first-received";
    return Buffer.from(this.serverFirst, "utf8");
  }

  /** Takes client-final-message, checks its proof, returns server-final-message "v=<signature>". */
  handleClientFinal(data: Buffer): Buffer {
    if (this.state !== "first-received")
      throw new ScramError("SCRAM client-final-message arrived out of order");
    this.state = "done";
    const clientFinal = data.toString("utf8");
    const at = clientFinal.lastIndexOf(",p=");
    if (at < 0) throw new ScramError("malformed SCRAM client-final message");
    const withoutProof = clientFinal.slice(0, at);
    const attrs = attributeList(withoutProof);
    if (attrs[0]?.[0] !== "c" || attrs[0][1] !== Buffer.from(this.gs2Header).toString("base64")) {
      throw new ScramError("SCRAM channel binding data does not match the client-first message");
    }
    if (attrs[1]?.[0] !== "r" || attrs[1][1] !== this.nonce)
      throw new ScramError("SCRAM nonce does not match");
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    const proof = Buffer.from(clientFinal.slice(at + 3), "base64");
    if (proof.length !== signature.length) throw new ScramPasswordMismatch("malformed SCRAM proof");
    const storedKey = sha256(xor(proof, signature));
    if (!timingSafeEqual(storedKey, this.verifier.storedKey))
      throw new ScramPasswordMismatch("wrong password");
    return Buffer.from(`v=${hmac(this.verifier.serverKey, authMessage).toString("base64")}`, "utf8");
  }
}

// ---- shared ----

/** SaltedPassword = Hi(Normalize(password), salt, i); the keys RFC 5802 section 3 derives from it. */
function deriveKeys(
  password: string,
  salt: Buffer,
  iterations: number,
): { clientKey: Buffer; storedKey: Buffer; serverKey: Buffer } {
  const salted = pbkdf2Sync(Buffer.from(saslprep(password), "utf8"), salt, iterations, 32, "sha256");
  const clientKey = hmac(salted, "Client Key");
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmac(salted, "Server Key") };
}

function hmac(key: Buffer, text: string): Buffer {
  return createHmac("sha256", key).update(text, "utf8").digest();
}

function sha256(data: Buffer): Buffer {
  return createHash("sha256").update(data).digest();
}

/** a XOR b; both are 32 bytes here. */
function xor(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < out.length; i++) out[i] = (a[i] ?? 0) ^ (b[i] ?? 0);
  return out;
}

/** "a=1,b=2" → [["a","1"],["b","2"]], in order; values may contain '=' (base64 padding) but not ','. */
function attributeList(message: string): [string, string][] {
  return message.split(",").map((part) => {
    const match = /^([A-Za-z])=(.*)$/s.exec(part);
    if (!match) throw new ScramError(`malformed SCRAM attribute "${part.slice(0, 20)}"`);
    return [match[1] ?? "", match[2] ?? ""];
  });
}

/** As {@link attributeList}, keyed by name; a repeated attribute is refused. */
function attributeMap(message: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const [name, value] of attributeList(message)) {
    if (attributes.has(name)) throw new ScramError(`duplicate SCRAM attribute "${name}"`);
    attributes.set(name, value);
  }
  return attributes;
}
