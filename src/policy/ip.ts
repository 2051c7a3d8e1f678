/**
 * IPv4 / IPv6 addresses and CIDR ranges for the IpAddress / NotIpAddress operators.
 * "If you specify an IP address without the associated routing prefix, IAM uses
 * the default prefix value of /32" (and /128 for IPv6).
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_IPAddress
 */

export interface IpAddress {
  readonly version: 4 | 6;
  readonly value: bigint;
}

export interface IpRange {
  readonly version: 4 | 6;
  readonly network: bigint;
  readonly mask: bigint;
  readonly prefix: number;
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const V4_MAPPED_PREFIX = 0xffffn << 32n;

export function parseIp(text: string): IpAddress | undefined {
  return text.includes(":") ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): IpAddress | undefined {
  const m = IPV4.exec(text);
  if (m === null) return undefined;
  let value = 0n;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return { version: 4, value };
}

function parseIpv6(text: string): IpAddress | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const head = groups(halves[0] ?? "", halves.length === 1);
  const tail = halves.length === 2 ? groups(halves[1] ?? "", true) : [];
  if (head === undefined || tail === undefined) return undefined;
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) return undefined;
  const all = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  let value = 0n;
  for (const g of all) value = (value << 16n) | BigInt(g);
  return { version: 6, value };
}

/** Parses `a:b:c` (optionally ending in dotted IPv4) into 16-bit groups. */
function groups(text: string, mayEndWithIpv4: boolean): number[] | undefined {
  if (text === "") return [];
  const pieces = text.split(":");
  const out: number[] = [];
  for (let i = 0; i < pieces.length; i++) {
    const piece = pieces[i] ?? "";
    if (i === pieces.length - 1 && mayEndWithIpv4 && piece.includes(".")) {
      const v4 = parseIpv4(piece);
      if (v4 === undefined) return undefined;
      out.push(Number(v4.value >> 16n), Number(v4.value & 0xffffn));
    } else if (HEX_GROUP.test(piece)) {
      out.push(Number.parseInt(piece, 16));
    } else {
      return undefined;
    }
  }
  return out;
}

export function parseCidr(text: string): IpRange | undefined {
  const slash = text.indexOf("/");
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (address === undefined) return undefined;
  const bits = address.version === 4 ? 32 : 128;
  let prefix = bits;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) return undefined;
    prefix = Number(p);
  }
  const all = (1n << BigInt(bits)) - 1n;
  const mask = all ^ ((1n << BigInt(bits - prefix)) - 1n);
  return { version: address.version, network: address.value & mask, mask, prefix };
}

/**
 * Whether `address` is in `range`. An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`,
 * as dual-stack sockets report IPv4 peers) also matches the IPv4 range.
 */
export function ipInRange(range: IpRange, address: IpAddress): boolean {
  if (range.version === address.version) return (address.value & range.mask) === range.network;
  if (range.version === 4 && address.value >> 32n === 0xffffn && address.value >> 48n === 0n) {
    return ((address.value ^ V4_MAPPED_PREFIX) & range.mask) === range.network;
  }
  return false;
}
