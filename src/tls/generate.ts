import { createPrivateKey, KeyObject, randomBytes, webcrypto } from "node:crypto";
import { TlsConfigError } from "./errors.js";
import {
  NAME_CONSTRAINTS_OID,
  nameConstraintsValue,
  parseNameConstraints,
  permits,
} from "./name-constraints.js";
import type { SanEntry } from "./names.js";
import { loadX509 } from "./x509.js";

export type KeyAlgorithm = "ECDSA-P256" | "RSA-2048";

/** A certificate and its private key, both PEM. */
export interface IssuedPair {
  certPem: string;
  keyPem: string;
}

const DAY_MS = 24 * 60 * 60 * 1000;
/**
 * Leaf lifetime: 397 days, the CA/Browser Forum's limit for public TLS certificates (Apple's
 * platforms hold private CAs to 825). Never beyond the CA's own end.
 * @see https://cabforum.org/working-groups/server/baseline-requirements/ (§6.3.2)
 */
export const LEAF_VALIDITY_DAYS = 397;
/**
 * CA lifetime: 2 years. The CA key sits on the gateway's disk, and clients trust whatever it
 * signs for the CA's names: a short life bounds what a stolen key is worth. ensureListenerTls
 * replaces the CA (and so the leaf) at the first start within its renewal window of the end;
 * clients then need the new ca.pem (docs/CONFIGURATION.md, "Generated certificates").
 */
export const CA_VALIDITY_DAYS = 730;
/** notBefore is set this far in the past so a client whose clock lags a little still accepts. */
const BACKDATE_MS = 5 * 60 * 1000;

const PARAMS = {
  "ECDSA-P256": {
    generate: { name: "ECDSA", namedCurve: "P-256" } as webcrypto.EcKeyGenParams,
    sign: { name: "ECDSA", hash: "SHA-256" } as webcrypto.EcdsaParams,
  },
  "RSA-2048": {
    generate: {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    } as webcrypto.RsaHashedKeyGenParams,
    sign: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as webcrypto.Algorithm,
  },
} as const;

/** Which of our algorithms a Node key object uses, or undefined for any other kind of key. */
export function keyAlgorithmOf(key: KeyObject): KeyAlgorithm | undefined {
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1") {
    return "ECDSA-P256";
  }
  if (key.asymmetricKeyType === "rsa") return "RSA-2048";
  return undefined;
}

/** A positive 127-bit serial (RFC 5280 §4.1.2.2 asks for at most 20 octets, positive, unique). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString("hex");
}

async function generateKeys(algorithm: KeyAlgorithm): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(PARAMS[algorithm].generate, true, [
    "sign",
    "verify",
  ])) as webcrypto.CryptoKeyPair;
}

function privateKeyPem(key: webcrypto.CryptoKey): string {
  return KeyObject.from(key).export({ type: "pkcs8", format: "pem" }) as string;
}

/**
 * A CA that signs listener certificates and nothing else (pathLen 0), for the listener names
 * only: a critical NameConstraints extension permits exactly `sans` (a DNS name with its
 * subdomains, an IP address alone), so even a stolen CA key cannot vouch for any other host
 * in a trust store that holds ca.pem.
 */
export async function createCa(options: {
  algorithm: KeyAlgorithm;
  now: Date;
  sans: readonly SanEntry[];
}): Promise<IssuedPair> {
  const x509 = await loadX509();
  const keys = await generateKeys(options.algorithm);
  const notBefore = new Date(options.now.getTime() - BACKDATE_MS);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    // A per-install suffix, so two installs' CAs are told apart in a trust store.
    name: [{ O: ["iamdb"] }, { CN: [`iamdb local CA ${randomBytes(4).toString("hex")}`] }],
    notBefore,
    notAfter: new Date(notBefore.getTime() + CA_VALIDITY_DAYS * DAY_MS),
    keys,
    signingAlgorithm: PARAMS[options.algorithm].sign,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      // RFC 5280 §4.2.1.10: conforming CAs MUST mark name constraints critical.
      new x509.Extension(NAME_CONSTRAINTS_OID, true, nameConstraintsValue(options.sans)),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: privateKeyPem(keys.privateKey) };
}

/**
 * True when the CA's name constraints permit every one of `sans`. A CA without name
 * constraints (generated before they were added) or with constraints iamdb does not write
 * answers false, so it is replaced rather than kept.
 */
export async function caPermits(caPem: string, sans: readonly SanEntry[]): Promise<boolean> {
  const x509 = await loadX509();
  const ext = new x509.X509Certificate(caPem).getExtension(NAME_CONSTRAINTS_OID);
  if (ext === null) return false;
  const subtrees = parseNameConstraints(new Uint8Array(ext.value));
  if (subtrees === undefined || subtrees.other) return false;
  return sans.every((s) => permits(subtrees, s));
}

/** A TLS server certificate for `sans`, signed by `ca`, with a fresh key of `algorithm`. */
export async function issueServerCert(options: {
  ca: IssuedPair;
  sans: readonly SanEntry[];
  commonName: string;
  algorithm: KeyAlgorithm;
  now: Date;
}): Promise<IssuedPair> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(options.ca.certPem);
  const caKeyObject = createPrivateKey(options.ca.keyPem);
  const caAlgorithm = keyAlgorithmOf(caKeyObject);
  if (caAlgorithm === undefined) {
    throw new TlsConfigError(
      `the CA key is a ${caKeyObject.asymmetricKeyType ?? "unknown"} key; iamdb signs with ECDSA P-256 or ` +
        "RSA keys only; remove ca.pem and ca.key to generate a new CA",
    );
  }
  const caKey = await webcrypto.subtle.importKey(
    "pkcs8",
    caKeyObject.export({ type: "pkcs8", format: "der" }),
    PARAMS[caAlgorithm].generate,
    false,
    ["sign"],
  );
  const keys = await generateKeys(options.algorithm);
  const caKeyId = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const notBefore = new Date(options.now.getTime() - BACKDATE_MS);
  // RFC 5280 §4.2.1.3: RSA keys may also encipher the pre-master secret (TLS 1.2 RSA key exchange).
  const usage =
    options.algorithm === "RSA-2048"
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [options.commonName] }],
    issuer: caCert.subjectName,
    notBefore,
    notAfter: new Date(
      Math.min(notBefore.getTime() + LEAF_VALIDITY_DAYS * DAY_MS, caCert.notAfter.getTime()),
    ),
    publicKey: keys.publicKey,
    signingKey: caKey,
    signingAlgorithm: PARAMS[caAlgorithm].sign,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      caKeyId !== undefined
        ? new x509.AuthorityKeyIdentifierExtension(caKeyId)
        : await x509.AuthorityKeyIdentifierExtension.create(caCert.publicKey),
      new x509.SubjectAlternativeNameExtension(options.sans.map((s) => ({ type: s.type, value: s.value }))),
    ],
  });
  return { certPem: cert.toString("pem"), keyPem: privateKeyPem(keys.privateKey) };
}

/** The SAN entries of a PEM certificate (DNS and IP only). */
export async function sansOf(certPem: string): Promise<SanEntry[]> {
  const x509 = await loadX509();
  const names = new x509.X509Certificate(certPem).getExtension(x509.SubjectAlternativeNameExtension);
  return (names?.names.toJSON() ?? []).flatMap((n) =>
    n.type === "dns" || n.type === "ip" ? [{ type: n.type, value: n.value }] : [],
  );
}
