import { createHash, KeyObject, webcrypto, X509Certificate } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, type JWK, type JWTPayload, SignJWT } from "jose";
import { loadX509 } from "../../src/tls/x509.js";

/**
 * An OpenID Connect issuer the test runs: its own CA chain (root -> intermediate -> server
 * certificate for 127.0.0.1 and localhost, none in the system trust store), the discovery
 * document and JWKS over HTTPS on 127.0.0.1, signing keys made in the test, and switches to
 * take it down, slow it or rotate its keys. It counts the requests it serves.
 */

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

export interface TestCert {
  readonly pem: string;
  /** SHA-1 of the DER, as IAM's ThumbprintList holds it. */
  readonly thumbprint: string;
}

export interface IssuerChain {
  readonly root: TestCert;
  readonly intermediate: TestCert;
  readonly leaf: TestCert;
  readonly leafKeyPem: string;
}

const thumbprint = (pem: string) => createHash("sha1").update(new X509Certificate(pem).raw).digest("hex");

/** root (CA, pathLen 1) -> intermediate (CA, pathLen 0) -> server certificate for `names`. */
export async function makeIssuerChain(names: { dns: string[]; ip: string[] }): Promise<IssuerChain> {
  const x509 = await loadX509();
  const now = Date.now();
  const notBefore = new Date(now - 3_600_000);
  const notAfter = new Date(now + 30 * 86_400_000);
  const keys = async () =>
    (await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"])) as webcrypto.CryptoKeyPair;
  const rootKeys = await keys();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=oidc test root",
    notBefore,
    notAfter,
    keys: rootKeys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 1, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const midKeys = await keys();
  const mid = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=oidc test intermediate",
    issuer: root.subject,
    notBefore,
    notAfter,
    publicKey: midKeys.publicKey,
    signingKey: rootKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const leafKeys = await keys();
  const leaf = await x509.X509CertificateGenerator.create({
    serialNumber: "03",
    subject: "CN=oidc test issuer",
    issuer: mid.subject,
    notBefore,
    notAfter,
    publicKey: leafKeys.publicKey,
    signingKey: midKeys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...names.dns.map((value) => ({ type: "dns" as const, value })),
        ...names.ip.map((value) => ({ type: "ip" as const, value })),
      ]),
    ],
  });
  const pem = (c: { toString(f: "pem"): string }) => c.toString("pem");
  return {
    root: { pem: pem(root), thumbprint: thumbprint(pem(root)) },
    intermediate: { pem: pem(mid), thumbprint: thumbprint(pem(mid)) },
    leaf: { pem: pem(leaf), thumbprint: thumbprint(pem(leaf)) },
    leafKeyPem: KeyObject.from(leafKeys.privateKey).export({ type: "pkcs8", format: "pem" }) as string,
  };
}

export interface SigningKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: webcrypto.CryptoKey | KeyObject;
  readonly publicJwk: JWK;
}

export async function signingKey(kid: string, alg: "RS256" | "ES256" = "RS256"): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg, use: "sig" } };
}

export interface TestIssuer {
  /** `https://127.0.0.1:PORT/PATH`, what tokens carry in `iss`. */
  readonly url: string;
  /** The URL without https://: the provider's ARN resource and condition-key prefix. */
  readonly host: string;
  readonly chain: IssuerChain;
  /** The keys the JWKS publishes; change it to rotate. */
  published: SigningKey[];
  /** Requests served per path. */
  readonly hits: Map<string, number>;
  /** "up" answers; "down" resets connections; "hang" never answers. */
  mode: "up" | "down" | "hang";
  /** A token signed with `key` (the first published by default) for `claims` over the defaults. */
  token(
    claims: JWTPayload,
    options?: { key?: SigningKey; header?: Record<string, unknown> },
  ): Promise<string>;
  jwks(): { keys: JWK[] };
  close(): Promise<void>;
}

/** Starts the issuer; `path` is the issuer's path (e.g. `/id/CLUSTER`), "" for none. */
export async function startTestIssuer(
  options: { path?: string; chain?: IssuerChain } = {},
): Promise<TestIssuer> {
  const chain = options.chain ?? (await makeIssuerChain({ dns: ["localhost"], ip: ["127.0.0.1"] }));
  const path = options.path ?? "";
  const first = await signingKey("key-1");
  const hits = new Map<string, number>();
  const hanging = new Set<import("node:http").ServerResponse>();
  let url = "";
  const server: Server = createServer(
    // The server presents its certificate and the intermediate, as a real issuer does.
    { cert: `${chain.leaf.pem}\n${chain.intermediate.pem}\n`, key: chain.leafKeyPem },
    (req, res) => {
      const p = (req.url ?? "").split("?")[0] ?? "";
      hits.set(p, (hits.get(p) ?? 0) + 1);
      if (issuer.mode === "down") {
        req.socket.destroy();
        return;
      }
      if (issuer.mode === "hang") {
        hanging.add(res);
        return;
      }
      const send = (body: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (p === `${path}/.well-known/openid-configuration`) {
        send({
          issuer: url,
          jwks_uri: `${url}/keys`,
          response_types_supported: ["id_token"],
          subject_types_supported: ["public"],
          id_token_signing_alg_values_supported: ["RS256", "ES256"],
        });
      } else if (p === `${path}/keys`) {
        send(issuer.jwks());
      } else {
        res.writeHead(404).end();
      }
    },
  );
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  url = `https://127.0.0.1:${port}${path}`;
  const issuer: TestIssuer = {
    url,
    host: url.slice("https://".length),
    chain,
    published: [first],
    hits,
    mode: "up",
    async token(claims, o = {}) {
      const key = o.key ?? issuer.published[0] ?? first;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({
        iss: url,
        sub: "system:serviceaccount:default:app",
        aud: "sts.amazonaws.com",
        ...claims,
      })
        .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...o.header })
        .setIssuedAt(typeof claims.iat === "number" ? claims.iat : now)
        .setExpirationTime(typeof claims.exp === "number" ? claims.exp : now + 3600)
        .sign(key.privateKey);
    },
    jwks: () => ({ keys: issuer.published.map((k) => k.publicJwk) }),
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return issuer;
}
