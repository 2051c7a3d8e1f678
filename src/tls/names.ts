import { isIP } from "node:net";
import { TlsConfigError } from "./errors.js";

/** A subjectAltName entry in the form @peculiar/x509 reads and writes. */
export interface SanEntry {
  type: "dns" | "ip";
  value: string;
}

/** Names every generated listener certificate carries, so local clients can always verify-full. */
export const ALWAYS_COVERED = ["localhost", "127.0.0.1", "::1"] as const;

// RFC 1123 labels; a leading "*." wildcard label is allowed (RFC 6125 §6.4.3).
const DNS_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * One listener name as a SAN entry: IPv4/IPv6 literals become iPAddress entries (IPv6 in the
 * compressed form WHATWG URL serialises, so `0:0::1` and `::1` compare equal), anything else a
 * lower-cased dNSName without a trailing dot.
 */
export function toSanEntry(name: string): SanEntry {
  let value = name.trim();
  if (value.startsWith("[") && value.endsWith("]")) value = value.slice(1, -1);
  const zone = value.indexOf("%");
  if (zone !== -1 && isIP(value.slice(0, zone)) === 6) value = value.slice(0, zone);
  const family = isIP(value);
  if (family === 4) return { type: "ip", value };
  if (family === 6) return { type: "ip", value: new URL(`http://[${value}]/`).hostname.slice(1, -1) };
  const dns = value.toLowerCase().replace(/\.$/, "");
  if (dns.length === 0 || dns.length > 253 || !DNS_NAME.test(dns)) {
    throw new TlsConfigError(
      `listener name ${JSON.stringify(name)} is neither a DNS name nor an IP address; ` +
        "pass host names such as db.example.com or addresses such as 10.0.0.5",
    );
  }
  return { type: "dns", value: dns };
}

const key = (e: SanEntry) => `${e.type}:${e.value}`;

/** The SANs a certificate for `names` must carry: those names plus {@link ALWAYS_COVERED}, once each. */
export function requiredSans(names: readonly string[]): SanEntry[] {
  const out = new Map<string, SanEntry>();
  for (const name of [...ALWAYS_COVERED, ...names]) {
    const entry = toSanEntry(name);
    out.set(key(entry), entry);
  }
  return [...out.values()];
}

/** The entries of `required` that `present` (a certificate's SANs) lacks. */
export function missingSans(present: readonly SanEntry[], required: readonly SanEntry[]): SanEntry[] {
  const have = new Set<string>();
  for (const e of present) {
    try {
      const canonical = toSanEntry(e.value);
      if (canonical.type === e.type) have.add(key(canonical));
    } catch {
      // A SAN we could not have written (e.g. an unusual DNS form) covers nothing we ask for.
    }
  }
  return required.filter((e) => !have.has(key(e)));
}
