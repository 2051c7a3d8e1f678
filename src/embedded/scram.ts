import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/**
 * The server side of SCRAM-SHA-256 without channel binding, checked against the verifier
 * PostgreSQL stores in pg_authid.rolpassword. No I/O; the server nonce is passed in.
 * @see https://datatracker.ietf.org/doc/html/rfc5802#section-3
 * @see https://datatracker.ietf.org/doc/html/rfc7677
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */

export const SCRAM_SHA_256 = "SCRAM-SHA-256";

export interface ScramVerifier {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** A client message that breaks RFC 5802, or a proof that does not verify. */
export class ScramError extends Error {
  constructor(
    message: string,
    /** True when the exchange was well formed but the password was wrong. */
    readonly wrongPassword = false,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Parses `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (src/backend/libpq/auth-scram.c). */
export function parseScramVerifier(stored: string): ScramVerifier | undefined {
  const m = /^SCRAM-SHA-256\$(\d+):([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$/.exec(stored);
  if (!m) return undefined;
  const [, iterations, salt, storedKey, serverKey] = m as unknown as [string, string, string, string, string];
  const keys = [Buffer.from(storedKey, "base64"), Buffer.from(serverKey, "base64")] as const;
  if (keys[0].length !== 32 || keys[1].length !== 32) return undefined;
  return {
    iterations: Number(iterations),
    salt: Buffer.from(salt, "base64"),
    storedKey: keys[0],
    serverKey: keys[1],
  };
}

const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data, "utf8").digest();

/** Reads `a=x,b=y` attributes, keeping order and rejecting anything that is not one. */
function attributes(s: string): [string, string][] {
  return s.split(",").map((part) => {
    if (!/^[A-Za-z]=/.test(part)) throw new ScramError(`malformed SCRAM attribute "${part.slice(0, 20)}"`);
    return [part[0] as string, part.slice(2)];
  });
}

/** One exchange: {@link first} answers client-first, {@link final} checks the proof. */
export class ScramServerExchange {
  private clientFirstBare = "";
  private serverFirst = "";
  private gs2Header = "";
  private nonce = "";

  constructor(
    private readonly verifier: ScramVerifier,
    /** Printable, comma-free random characters (RFC 5802 §5.1 "r"). */
    private readonly serverNonce: string,
  ) {}

  first(clientFirst: string): string {
    // gs2-header: "n,," (no channel binding) or "y,," (client could but believes we cannot).
    // "p=..." asks for channel binding, which we never offer (no SCRAM-SHA-256-PLUS).
    const m = /^([ny]),(a=[^,]*)?,(.*)$/.exec(clientFirst);
    if (!m) {
      throw new ScramError(
        clientFirst.startsWith("p=")
          ? "channel binding was requested but the server does not offer SCRAM-SHA-256-PLUS"
          : "malformed SCRAM client-first message",
      );
    }
    if (m[2] !== undefined) throw new ScramError("SCRAM authorization identities are not supported");
    this.gs2Header = `${m[1]},,`;
    this.clientFirstBare = m[3] as string;
    const attrs = attributes(this.clientFirstBare);
    if (attrs[0]?.[0] === "m") throw new ScramError("SCRAM mandatory extensions are not supported");
    const clientNonce = attrs.find(([k]) => k === "r")?.[1];
    if (attrs[0]?.[0] !== "n" || clientNonce === undefined || !/^[\x21-\x2b\x2d-\x7e]+$/.test(clientNonce)) {
      throw new ScramError("malformed SCRAM client-first message");
    }
    this.nonce = clientNonce + this.serverNonce;
    this.serverFirst = `r=${this.nonce},s=${this.verifier.salt.toString("base64")},i=${this.verifier.iterations}`;
    return this.serverFirst;
  }

  final(clientFinal: string): string {
    const at = clientFinal.lastIndexOf(",p=");
    if (at < 0 || this.serverFirst === "") throw new ScramError("malformed SCRAM client-final message");
    const withoutProof = clientFinal.slice(0, at);
    const proof = Buffer.from(clientFinal.slice(at + 3), "base64");
    const attrs = attributes(withoutProof);
    if (attrs[0]?.[0] !== "c" || attrs[0][1] !== Buffer.from(this.gs2Header).toString("base64")) {
      throw new ScramError("SCRAM channel binding data does not match the client-first message");
    }
    if (attrs[1]?.[0] !== "r" || attrs[1][1] !== this.nonce)
      throw new ScramError("SCRAM nonce does not match");
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const signature = hmac(this.verifier.storedKey, authMessage);
    if (proof.length !== signature.length) throw new ScramError("malformed SCRAM proof", true);
    const clientKey = Buffer.alloc(signature.length);
    for (let i = 0; i < signature.length; i++) clientKey[i] = (proof[i] as number) ^ (signature[i] as number);
    const storedKey = createHash("sha256").update(clientKey).digest();
    if (!timingSafeEqual(storedKey, this.verifier.storedKey)) throw new ScramError("wrong password", true);
    return `v=${hmac(this.verifier.serverKey, authMessage).toString("base64")}`;
  }
}
