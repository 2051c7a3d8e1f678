import { createPrivateKey, type KeyObject, randomBytes, X509Certificate } from "node:crypto";
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { assertPrivateFile, assertPrivateKeyFile } from "../files/permissions.js";
import { TlsConfigError } from "./errors.js";
import {
  caPermits,
  createCa,
  type IssuedPair,
  issueServerCert,
  type KeyAlgorithm,
  keyAlgorithmOf,
  sansOf,
} from "./generate.js";
import { missingSans, requiredSans } from "./names.js";
import { loadX509 } from "./x509.js";

/** What a TLS listener serves, and what its clients need to verify it. */
export interface ListenerTls {
  /** PEM private key of the server certificate. */
  key: string;
  /**
   * PEM server certificate followed by its chain. A generated certificate is served alone: its
   * issuer is the root clients already hold, and RFC 8446 §4.4.2 lets a server omit the root.
   */
  cert: string;
  /** Path clients pass as sslrootcert / --ssl-ca; absent when the operator gave no CA file. */
  caFile?: string;
  /** Contents of caFile. */
  caPem?: string;
}

export interface EnsureListenerTlsOptions {
  /** Directory for generated files (created 0700). Unused when certFile/keyFile are given. */
  dir: string;
  /** Host names and IP addresses clients connect to; localhost, 127.0.0.1 and ::1 are always added. */
  names: string[];
  /** Operator-provided PEM certificate (+ chain). Requires keyFile. */
  certFile?: string;
  /** Operator-provided PEM private key. Requires certFile. */
  keyFile?: string;
  /** Operator-provided CA bundle clients should trust; only with certFile/keyFile. */
  caFile?: string;
  /** Clock; defaults to the system clock. */
  now?: () => Date;
  /** Key type for newly generated keys; ECDSA P-256 unless RSA-2048 is asked for (benchmarks). */
  algorithm?: KeyAlgorithm;
  /**
   * The fleet's CA: given this gateway's candidate (the CA already in `dir`, or a new one), returns
   * the CA every gateway sharing the store uses (the first one stored wins). With it, only ca.pem
   * is kept in `dir`; the CA key lives sealed in the store.
   */
  authority?: (candidate: IssuedPair) => Promise<IssuedPair>;
}

/** File names inside `dir`. */
export const TLS_FILES = {
  caCert: "ca.pem",
  caKey: "ca.key",
  serverCert: "server.pem",
  serverKey: "server.key",
} as const;

const DAY_MS = 24 * 60 * 60 * 1000;
/** A certificate this close to expiry is replaced at start-up rather than served. */
export const RENEW_BEFORE_DAYS = 30;
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;
const DIR_MODE = 0o700;

const SERVER_KEY_WHY = "anyone who can read it can impersonate the gateway to its clients";

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\r?\n?/g;

/**
 * Loads operator-provided files, or on first start generates in `dir` an ECDSA P-256 CA (ca.pem +
 * ca.key) and a server certificate signed by it (server.pem, server.key) whose SANs
 * cover every name in `names` plus localhost/127.0.0.1/::1. Later starts reuse the files as they
 * are; the server certificate is re-issued when its SANs no longer cover `names`,
 * it expires within {@link RENEW_BEFORE_DAYS} days, it is not signed by ca.pem, or its key type is
 * not `algorithm`. The CA is replaced when it is itself within 30 days of expiry or its name
 * constraints do not permit every name (clients must then trust the new ca.pem).
 */
export async function ensureListenerTls(options: EnsureListenerTlsOptions): Promise<ListenerTls> {
  const now = options.now ?? (() => new Date());
  if (options.certFile !== undefined || options.keyFile !== undefined || options.caFile !== undefined) {
    return loadOperatorFiles(options, now());
  }
  return ensureGenerated(options, now(), options.algorithm ?? "ECDSA-P256");
}

async function loadOperatorFiles(options: EnsureListenerTlsOptions, now: Date): Promise<ListenerTls> {
  const { certFile, keyFile, caFile } = options;
  if (certFile === undefined || keyFile === undefined) {
    throw new TlsConfigError(
      certFile === undefined && keyFile === undefined
        ? "a CA file was given without a certificate and key; pass the cert and key files too, or none of the three to let iamdb generate them"
        : `a listener certificate needs both a cert file and a key file; only the ${certFile === undefined ? "key" : "cert"} file was given`,
    );
  }
  const certPem = await readText(certFile, "cert");
  assertPrivateKeyFile(keyFile, { what: "The TLS private key file", why: SERVER_KEY_WHY });
  const keyPem = await readText(keyFile, "key");
  const key = parseKey(keyPem, keyFile);
  const blocks = certPem.match(PEM_CERT) ?? [];
  const leafPem = blocks[0];
  if (leafPem === undefined) {
    throw new TlsConfigError(
      `cert file ${certFile} contains no PEM certificate (-----BEGIN CERTIFICATE-----); pass the server certificate in PEM form`,
    );
  }
  const leaf = parseCert(leafPem, `cert file ${certFile}`);
  if (!leaf.checkPrivateKey(key)) {
    throw new TlsConfigError(
      `the key does not match the certificate: ${keyFile} is not the private key of the first certificate in ${certFile}; pass the key the certificate was issued for`,
    );
  }
  const x509 = await loadX509();
  const notAfter = new x509.X509Certificate(leafPem).notAfter;
  if (notAfter.getTime() <= now.getTime()) {
    throw new TlsConfigError(
      `the certificate in ${certFile} expired on ${notAfter.toISOString()}; install a renewed certificate`,
    );
  }
  const result: ListenerTls = { key: keyPem, cert: certPem };
  if (caFile !== undefined) {
    const caPem = await readText(caFile, "CA");
    const caBlocks = caPem.match(PEM_CERT) ?? [];
    if (caBlocks.length === 0) {
      throw new TlsConfigError(
        `CA file ${caFile} contains no PEM certificate; pass the CA bundle in PEM form`,
      );
    }
    for (const block of caBlocks) parseCert(block, `CA file ${caFile}`);
    result.caFile = caFile;
    result.caPem = caPem;
  }
  return result;
}

async function ensureGenerated(
  options: EnsureListenerTlsOptions,
  now: Date,
  algorithm: KeyAlgorithm,
): Promise<ListenerTls> {
  const sans = requiredSans(options.names);
  const dir = options.dir;
  await ensureDir(dir);
  const path = (name: string) => join(dir, name);

  let ca: LoadedCa | undefined;
  if (options.authority !== undefined) {
    ca = await sharedCa(dir, options.authority, algorithm, now, sans);
  } else {
    ca = await readGeneratedCa(dir);
    // A CA is also replaced when its name constraints do not cover every name (new names, or a CA from before constraints).
    if (ca === undefined || expiresWithin(ca.cert, now) || !(await caPermits(ca.pair.certPem, sans))) {
      const fresh = await createCa({ algorithm, now, sans });
      // Key first: a crash in between leaves a key without a certificate, which the next start
      // reports instead of pairing a new certificate with an old key.
      await writeAtomic(path(TLS_FILES.caKey), fresh.keyPem, KEY_MODE);
      await writeAtomic(path(TLS_FILES.caCert), fresh.certPem, CERT_MODE);
      ca = { pair: fresh, cert: new X509Certificate(fresh.certPem) };
    }
  }

  const current = await readGeneratedLeaf(dir);
  if (current !== undefined && (await leafStillGood(current, ca.cert, sans, algorithm, now))) {
    return {
      key: current.keyPem,
      cert: current.certPem,
      caFile: path(TLS_FILES.caCert),
      caPem: ca.pair.certPem,
    };
  }
  const commonName =
    sans.find((s) => !["localhost", "127.0.0.1", "::1"].includes(s.value))?.value ?? "localhost";
  const leaf = await issueServerCert({
    ca: ca.pair,
    sans,
    commonName: commonName.length <= 64 ? commonName : "iamdb listener",
    algorithm,
    now,
  });
  await writeAtomic(path(TLS_FILES.serverKey), leaf.keyPem, KEY_MODE);
  await writeAtomic(path(TLS_FILES.serverCert), leaf.certPem, CERT_MODE);
  return { key: leaf.keyPem, cert: leaf.certPem, caFile: path(TLS_FILES.caCert), caPem: ca.pair.certPem };
}

interface LoadedCa {
  pair: IssuedPair;
  cert: X509Certificate;
}

/**
 * The fleet's CA. A CA generated here by an earlier version (ca.pem + ca.key) is offered first,
 * so clients that trust it keep working after the upgrade; the store keeps whichever CA was
 * stored first. ca.pem is (re)written for clients and ca.key removed: the key's home is the store.
 */
async function sharedCa(
  dir: string,
  authority: (candidate: IssuedPair) => Promise<IssuedPair>,
  algorithm: KeyAlgorithm,
  now: Date,
  sans: ReturnType<typeof requiredSans>,
): Promise<LoadedCa> {
  const local = await readGeneratedCa(dir).catch(() => undefined);
  const candidate =
    local !== undefined && !expiresWithin(local.cert, now) && (await caPermits(local.pair.certPem, sans))
      ? local.pair
      : await createCa({ algorithm, now, sans });
  const pair = await authority(candidate);
  const cert = parseCert(pair.certPem, "the fleet's CA certificate in the store");
  if ((await readIfPresent(join(dir, TLS_FILES.caCert))) !== pair.certPem) {
    await writeAtomic(join(dir, TLS_FILES.caCert), pair.certPem, CERT_MODE);
  }
  await rm(join(dir, TLS_FILES.caKey), { force: true });
  return { pair, cert };
}

/** The generated CA, or undefined on first start. A half-present or broken CA is an error: replacing it silently would break every client that trusts it. */
async function readGeneratedCa(dir: string): Promise<LoadedCa | undefined> {
  const certPath = join(dir, TLS_FILES.caCert);
  const keyPath = join(dir, TLS_FILES.caKey);
  assertPrivateFile(keyPath, {
    what: "The generated CA key",
    why: "anyone who can read it can issue certificates that clients trust",
  });
  const [certPem, keyPem] = await Promise.all([readIfPresent(certPath), readIfPresent(keyPath)]);
  if (certPem === undefined && keyPem === undefined) return undefined;
  const regenerate = `remove ${certPath} and ${keyPath} to generate a new CA (clients must then trust the new ca.pem)`;
  if (certPem === undefined || keyPem === undefined) {
    throw new TlsConfigError(
      `${certPem === undefined ? certPath : keyPath} is missing but ${certPem === undefined ? keyPath : certPath} exists; restore it, or ${regenerate}`,
    );
  }
  const cert = parseCert(certPem, certPath, regenerate);
  const key = parseKey(keyPem, keyPath, regenerate);
  if (!cert.checkPrivateKey(key)) {
    throw new TlsConfigError(
      `the key does not match the certificate: ${keyPath} is not the key of ${certPath}; ${regenerate}`,
    );
  }
  return { pair: { certPem, keyPem }, cert };
}

interface LoadedLeaf {
  certPem: string;
  keyPem: string;
  leafPem: string;
  cert: X509Certificate;
  key: KeyObject;
}

/** The generated server certificate if both files are present and parse; anything else is re-issued. */
async function readGeneratedLeaf(dir: string): Promise<LoadedLeaf | undefined> {
  assertPrivateFile(join(dir, TLS_FILES.serverKey), { what: "The generated TLS key", why: SERVER_KEY_WHY });
  const [certPem, keyPem] = await Promise.all([
    readIfPresent(join(dir, TLS_FILES.serverCert)),
    readIfPresent(join(dir, TLS_FILES.serverKey)),
  ]);
  if (certPem === undefined || keyPem === undefined) return undefined;
  const leafPem = certPem.match(PEM_CERT)?.[0];
  if (leafPem === undefined) return undefined;
  try {
    return { certPem, keyPem, leafPem, cert: new X509Certificate(leafPem), key: createPrivateKey(keyPem) };
  } catch {
    return undefined;
  }
}

async function leafStillGood(
  leaf: LoadedLeaf,
  ca: X509Certificate,
  sans: ReturnType<typeof requiredSans>,
  algorithm: KeyAlgorithm,
  now: Date,
): Promise<boolean> {
  if (!leaf.cert.checkPrivateKey(leaf.key)) return false;
  if (!leaf.cert.checkIssued(ca) || !leaf.cert.verify(ca.publicKey)) return false;
  if (keyAlgorithmOf(leaf.key) !== algorithm) return false;
  if (new Date(leaf.cert.validFrom).getTime() > now.getTime()) return false;
  if (expiresWithin(leaf.cert, now)) return false;
  return missingSans(await sansOf(leaf.leafPem), sans).length === 0;
}

function expiresWithin(cert: X509Certificate, now: Date): boolean {
  // validTo is OpenSSL's "Mar  1 12:00:00 2030 GMT", which Date parses.
  return new Date(cert.validTo).getTime() - now.getTime() < RENEW_BEFORE_DAYS * DAY_MS;
}

async function ensureDir(dir: string): Promise<void> {
  try {
    const created = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // mkdir's mode is filtered by the umask; the keys' directory must be owner-only regardless.
    if (created !== undefined) await chmod(dir, DIR_MODE);
    if (!(await stat(dir)).isDirectory()) throw new Error("not a directory");
  } catch (e) {
    throw new TlsConfigError(
      `cannot use ${dir} for listener certificates: ${(e as Error).message}; pass a writable directory`,
      { cause: e },
    );
  }
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  try {
    await writeFile(tmp, data, { mode, flag: "wx" });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw new TlsConfigError(`cannot write ${path}: ${(e as Error).message}; make the directory writable`, {
      cause: e,
    });
  }
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new TlsConfigError(`${path} is not readable: ${(e as Error).message}; fix its permissions`, {
      cause: e,
    });
  }
}

async function readText(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (e) {
    throw new TlsConfigError(
      `${what} file ${path} is not readable: ${(e as Error).message}; check the path and its permissions`,
      { cause: e },
    );
  }
}

function parseKey(pem: string, path: string, remedy = "pass an unencrypted PEM private key"): KeyObject {
  try {
    const key = createPrivateKey(pem);
    if (key.type !== "private") throw new Error("not a private key");
    return key;
  } catch (e) {
    throw new TlsConfigError(
      `key file ${path} is not a usable private key: ${(e as Error).message}; ${remedy}`,
      {
        cause: e,
      },
    );
  }
}

function parseCert(pem: string, where: string, remedy = "pass a PEM certificate"): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (e) {
    throw new TlsConfigError(
      `${where} does not hold a valid certificate: ${(e as Error).message}; ${remedy}`,
      {
        cause: e,
      },
    );
  }
}
