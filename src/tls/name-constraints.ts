import { isIP } from "node:net";
import type { SanEntry } from "./names.js";

/**
 * X.509 NameConstraints (RFC 5280 §4.2.1.10) for the generated CA: permitted subtrees only,
 * one per listener name, so the CA's key can vouch for those names (and, for a DNS name, its
 * subdomains) and nothing else. Hand-written DER: the structure is three levels deep and
 * @peculiar/x509 has no class for it.
 */
export const NAME_CONSTRAINTS_OID = "2.5.29.30";

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.of(n) : n < 0x100 ? Buffer.of(0x81, n) : Buffer.of(0x82, (n >> 8) & 0xff, n & 0xff);
  return Buffer.concat([Buffer.of(tag), length, content]);
}

/** IPv4 → 4 bytes, IPv6 → 16 bytes. */
function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  const [head = "", tail] = ip.split("::");
  const groups = (s: string) => (s === "" ? [] : s.split(":"));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  const out = Buffer.alloc(16);
  for (const [i, g] of all.entries()) out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  return out;
}

/** The subtree base for one SAN: a wildcard name is constrained by the domain it stands for. */
function base(entry: SanEntry): { type: "dns"; name: string } | { type: "ip"; address: Buffer } {
  if (entry.type === "ip") return { type: "ip", address: ipBytes(entry.value) };
  return { type: "dns", name: entry.value.replace(/^\*\./, "") };
}

/** DER of the extension value: permitted dNSName / iPAddress (host mask) subtrees for `sans`. */
export function nameConstraintsValue(sans: readonly SanEntry[]): Buffer {
  const subtrees = sans.map((s) => {
    const b = base(s);
    const general =
      b.type === "dns"
        ? der(0x82, Buffer.from(b.name, "ascii")) // [2] IMPLICIT IA5String
        : der(0x87, Buffer.concat([b.address, Buffer.alloc(b.address.length, 0xff)])); // [7] address ‖ mask
    return der(0x30, general);
  });
  return der(0x30, der(0xa0, Buffer.concat(subtrees)));
}

export interface PermittedSubtrees {
  readonly dns: string[];
  readonly ip: Array<{ address: Buffer; mask: Buffer }>;
  /** Excluded subtrees, or permitted ones of other name forms, were present. */
  readonly other: boolean;
}

/** Reads back what {@link nameConstraintsValue} writes; undefined for anything it cannot read. */
export function parseNameConstraints(value: Uint8Array): PermittedSubtrees | undefined {
  const buf = Buffer.from(value);
  let pos = 0;
  const read = (end: number): { tag: number; start: number; end: number } | undefined => {
    if (pos + 2 > end) return undefined;
    const tag = buf[pos] as number;
    let len = buf[pos + 1] as number;
    pos += 2;
    if (len & 0x80) {
      const bytes = len & 0x7f;
      if (bytes === 0 || bytes > 3 || pos + bytes > end) return undefined;
      len = 0;
      for (let i = 0; i < bytes; i++) len = (len << 8) | (buf[pos++] as number);
    }
    if (pos + len > end) return undefined;
    const start = pos;
    pos += len;
    return { tag, start, end: start + len };
  };
  const outer = read(buf.length);
  if (outer?.tag !== 0x30 || outer.end !== buf.length) return undefined;
  pos = outer.start;
  const result: PermittedSubtrees = { dns: [], ip: [], other: false };
  let other = false;
  while (pos < outer.end) {
    const subtrees = read(outer.end);
    if (subtrees === undefined) return undefined;
    if (subtrees.tag !== 0xa0) {
      other = true;
      continue;
    }
    pos = subtrees.start;
    while (pos < subtrees.end) {
      const subtree = read(subtrees.end);
      if (subtree?.tag !== 0x30) return undefined;
      pos = subtree.start;
      const name = read(subtree.end);
      if (name === undefined) return undefined;
      const content = buf.subarray(name.start, name.end);
      if (name.tag === 0x82) result.dns.push(content.toString("ascii").toLowerCase());
      else if (name.tag === 0x87 && (content.length === 8 || content.length === 32)) {
        const half = content.length / 2;
        result.ip.push({ address: content.subarray(0, half), mask: content.subarray(half) });
      } else other = true;
      pos = subtree.end;
    }
  }
  return { ...result, other };
}

/** True when `entry` lies inside one of the permitted subtrees (RFC 5280 §4.2.1.10 matching). */
export function permits(subtrees: PermittedSubtrees, entry: SanEntry): boolean {
  const b = base(entry);
  if (b.type === "dns") {
    const name = b.name.toLowerCase();
    return subtrees.dns.some(
      (d) => name === d || (d !== "" && name.endsWith(d.startsWith(".") ? d : `.${d}`)),
    );
  }
  return subtrees.ip.some(
    ({ address, mask }) =>
      address.length === b.address.length &&
      address.every(
        (byte, i) => (byte & (mask[i] as number)) === ((b.address[i] as number) & (mask[i] as number)),
      ),
  );
}
