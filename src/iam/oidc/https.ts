import { createHash, X509Certificate } from "node:crypto";
import { request } from "node:https";
import { isIP } from "node:net";
import { type DetailedPeerCertificate, rootCertificates, type TLSSocket } from "node:tls";

/**
 * HTTPS GET of an issuer's discovery document and keys, trusted the way IAM trusts an OpenID
 * Connect provider's server: its certificate chain verifies against the system trust store (and
 * the host name matches), or a certificate of the chain the server presented has the SHA-1
 * thumbprint of one in the provider's ThumbprintList — the chain from the server's certificate
 * up to that one must then verify link by link (signature, issuer, CA flag, validity) and the
 * server's certificate must name the host. This is how a cluster-internal issuer with a private
 * CA is trusted without adding the CA to the system store.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc_verify-thumbprint.html
 */

export interface IssuerFetchOptions {
  /** Whole request, connect to last byte. */
  readonly timeoutMs: number;
  /** Largest response body accepted. */
  readonly maxBytes: number;
  /** Trust anchors (PEM) added to the system's; for deployments whose issuers use a private CA. */
  readonly extraCa?: readonly string[];
  readonly now: () => Date;
}

/** The issuer could not be reached or answered something unusable: STS's IDPCommunicationError. */
export class IssuerUnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "IssuerUnreachableError";
  }
}

/** The issuer's certificate is neither trusted by the system nor matched by a thumbprint. */
export class IssuerUntrustedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IssuerUntrustedError";
  }
}

/** SHA-1 of the certificate's DER encoding, 40 lower-case hex digits: what IAM calls a thumbprint. */
export function thumbprintOf(cert: X509Certificate): string {
  return createHash("sha1").update(cert.raw).digest("hex");
}

/** The certificates the server presented, its own first. */
function presentedChain(socket: TLSSocket): X509Certificate[] {
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let cur: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  while (cur?.raw !== undefined && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    chain.push(new X509Certificate(cur.raw));
    cur = cur.issuerCertificate;
  }
  return chain;
}

/**
 * Whether the connection may be trusted: undefined when it may, else why not. `authorized` is
 * Node's verdict on the chain against the trust anchors plus the host-name check.
 */
export function untrustedReason(
  socket: TLSSocket,
  host: string,
  thumbprints: readonly string[],
  now: Date,
): string | undefined {
  if (socket.authorized) return undefined;
  const why = String(socket.authorizationError ?? "the chain does not verify");
  if (thumbprints.length === 0) {
    return `its certificate is not trusted by the system trust store (${why}) and the provider has no thumbprint`;
  }
  const wanted = new Set(thumbprints.map((t) => t.toLowerCase()));
  const chain = presentedChain(socket);
  const leaf = chain[0];
  if (leaf === undefined) return "it presented no certificate";
  const named = isIP(host) !== 0 ? leaf.checkIP(host) !== undefined : leaf.checkHost(host) !== undefined;
  if (!named) return `its certificate does not name ${host}`;
  const t = now.getTime();
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as X509Certificate;
    if (t < Date.parse(cert.validFrom) || t > Date.parse(cert.validTo)) {
      return `a certificate of its chain is outside its validity period (${cert.subject.replace(/\n/g, ", ")})`;
    }
    if (wanted.has(thumbprintOf(cert))) return undefined;
    const issuer = chain[i + 1];
    if (issuer === undefined || !issuer.ca || !cert.checkIssued(issuer) || !cert.verify(issuer.publicKey))
      break;
  }
  return `no certificate of its chain matches the provider's thumbprints (${why})`;
}

/** GETs `url` and parses the body as JSON. Follows no redirects. */
export function fetchIssuerJson(
  url: string,
  thumbprints: readonly string[],
  options: IssuerFetchOptions,
): Promise<unknown> {
  const target = new URL(url);
  if (target.protocol !== "https:") {
    return Promise.reject(
      new IssuerUnreachableError(`${url} is not an https:// URL; IAM fetches keys over HTTPS only.`),
    );
  }
  const host = target.hostname.replace(/^\[|\]$/g, "");
  return new Promise((resolve, reject) => {
    const req = request(
      target,
      {
        method: "GET",
        agent: false,
        // Checked by untrustedReason on secureConnect, where a thumbprint can stand in for the store.
        rejectUnauthorized: false,
        ...(options.extraCa?.length ? { ca: [...rootCertificates, ...options.extraCa] } : {}),
        headers: { accept: "application/json", "user-agent": "iamdb" },
      },
      (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          req.destroy(
            new IssuerUnreachableError(
              `${url} answered HTTP ${res.statusCode}${res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 ? " (a redirect; iamdb does not follow redirects)" : ""}.`,
            ),
          );
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > options.maxBytes) {
            req.destroy(new IssuerUnreachableError(`${url} answered more than ${options.maxBytes} bytes.`));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () => {
          clearTimeout(timer);
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
          } catch {
            reject(new IssuerUnreachableError(`${url} did not answer JSON.`));
          }
        });
        res.on("error", () => {});
      },
    );
    const timer = setTimeout(() => {
      req.destroy(new IssuerUnreachableError(`${url} did not answer within ${options.timeoutMs} ms.`));
    }, options.timeoutMs);
    req.on("socket", (socket) => {
      (socket as TLSSocket).once("secureConnect", () => {
        const reason = untrustedReason(socket as TLSSocket, host, thumbprints, options.now());
        if (reason !== undefined) req.destroy(new IssuerUntrustedError(`${target.host}: ${reason}`));
      });
    });
    req.on("error", (err) => {
      clearTimeout(timer);
      if (err instanceof IssuerUnreachableError || err instanceof IssuerUntrustedError) reject(err);
      else reject(new IssuerUnreachableError(`${url}: ${err.message}`, { cause: err }));
    });
    req.end();
  });
}
