import { MAX_PACKET_PAYLOAD } from "./constants.js";
import { MysqlProtocolError } from "./errors.js";

/**
 * MySQL packets: a 3-byte little-endian payload length, a 1-byte sequence id, the payload.
 * A payload of 0xFFFFFF bytes or more is sent as 0xFFFFFF-byte packets followed by a
 * shorter one (possibly empty); the parser reassembles them into one logical packet.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_packets.html
 */

export interface Packet {
  /** The sequence id of the last physical packet: the next packet in this exchange uses seq + 1. */
  readonly seq: number;
  readonly payload: Buffer;
}

export type PacketEvent =
  | { readonly kind: "packet"; readonly seq: number; readonly payload: Buffer }
  | { readonly kind: "error"; readonly message: string };

const EMPTY = Buffer.alloc(0);

/**
 * Split-safe packet parser that does no I/O. `maxPayload` bounds a logical packet: a length
 * header above it is refused before anything is allocated for it (a pre-auth client
 * claiming 0xFFFFFF bytes is refused at once).
 */
export class PacketParser {
  #buffer: Buffer = EMPTY;
  #parts: Buffer[] = [];
  #partsLength = 0;
  #failed = false;
  #budget = Number.POSITIVE_INFINITY;

  constructor(private readonly maxPayload: number = 64 * 1024 * 1024) {}

  /** Bytes received and not yet returned as a packet. */
  get buffered(): number {
    return this.#buffer.length + this.#partsLength;
  }

  /** Everything buffered, for handing the byte stream on to a relay. */
  takeRemainder(): Buffer {
    const rest = this.#buffer;
    this.#buffer = EMPTY;
    return rest;
  }

  /**
   * Returns at most `n` more packets, then leaves later bytes unparsed in the buffer until
   * `unlimit()`: after a MySQL SSLRequest the client sends its TLS ClientHello at once, and
   * those bytes belong to TLS, not to the packet stream.
   */
  limit(n: number): void {
    this.#budget = n;
  }

  /** Parses normally again; returns the packets among the bytes held back. */
  unlimit(): PacketEvent[] {
    this.#budget = Number.POSITIVE_INFINITY;
    return this.push(EMPTY);
  }

  push(chunk: Buffer): PacketEvent[] {
    if (this.#failed) return [];
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const out: PacketEvent[] = [];
    let offset = 0;
    while (this.#budget > 0 && this.#buffer.length - offset >= 4) {
      const length = this.#buffer.readUIntLE(offset, 3);
      const seq = this.#buffer[offset + 3] as number;
      if (this.#partsLength + length > this.maxPayload) {
        this.#failed = true;
        this.#buffer = EMPTY;
        out.push({
          kind: "error",
          message: `packet of ${this.#partsLength + length} bytes exceeds the limit of ${this.maxPayload}`,
        });
        return out;
      }
      if (this.#buffer.length - offset - 4 < length) break;
      const payload = this.#buffer.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      if (length === MAX_PACKET_PAYLOAD) {
        this.#parts.push(payload);
        this.#partsLength += length;
        continue;
      }
      if (this.#parts.length > 0) {
        this.#parts.push(payload);
        const whole = Buffer.concat(this.#parts);
        this.#parts = [];
        this.#partsLength = 0;
        out.push({ kind: "packet", seq, payload: whole });
      } else {
        out.push({ kind: "packet", seq, payload: Buffer.from(payload) });
      }
      this.#budget--;
    }
    this.#buffer = offset === 0 ? this.#buffer : Buffer.from(this.#buffer.subarray(offset));
    return out;
  }
}

/** Frames `payload` as one or more packets starting at sequence id `seq`. */
export function encodePacket(seq: number, payload: Buffer): Buffer {
  const out: Buffer[] = [];
  let offset = 0;
  let s = seq;
  for (;;) {
    const length = Math.min(MAX_PACKET_PAYLOAD, payload.length - offset);
    const head = Buffer.alloc(4);
    head.writeUIntLE(length, 0, 3);
    head[3] = s & 0xff;
    out.push(head, payload.subarray(offset, offset + length));
    offset += length;
    s++;
    if (length < MAX_PACKET_PAYLOAD) break;
  }
  return Buffer.concat(out);
}

/** Bounds-checked reader over one payload; every overrun is a {@link MysqlProtocolError}. */
export class PayloadReader {
  #offset = 0;

  constructor(
    private readonly payload: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.payload.length - this.#offset;
  }

  fail(reason: string): never {
    throw new MysqlProtocolError(`invalid ${this.what}: ${reason}`);
  }

  uint8(): number {
    const v = this.payload[this.#offset];
    if (v === undefined) this.fail("truncated int<1>");
    this.#offset += 1;
    return v;
  }

  uint16(): number {
    if (this.remaining < 2) this.fail("truncated int<2>");
    const v = this.payload.readUInt16LE(this.#offset);
    this.#offset += 2;
    return v;
  }

  uint32(): number {
    if (this.remaining < 4) this.fail("truncated int<4>");
    const v = this.payload.readUInt32LE(this.#offset);
    this.#offset += 4;
    return v;
  }

  bytes(n: number): Buffer {
    if (n < 0 || this.remaining < n) this.fail(`truncated string<${n}>`);
    const v = this.payload.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return v;
  }

  skip(n: number): void {
    this.bytes(n);
  }

  /** int<lenenc> @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_dt_integers.html */
  lenenc(): number {
    const first = this.uint8();
    if (first < 0xfb) return first;
    if (first === 0xfc) return this.uint16();
    if (first === 0xfd) {
      const v = this.bytes(3);
      return v.readUIntLE(0, 3);
    }
    if (first === 0xfe) {
      const v = this.bytes(8).readBigUInt64LE(0);
      if (v > BigInt(this.remaining)) this.fail("length-encoded integer beyond the payload");
      return Number(v);
    }
    return this.fail(`invalid length-encoded integer prefix 0x${first.toString(16)}`);
  }

  lenencBytes(): Buffer {
    return this.bytes(this.lenenc());
  }

  /** string<NUL>; without a terminator, the rest of the payload when `eofOk`. */
  cstring(eofOk = false): Buffer {
    const end = this.payload.indexOf(0, this.#offset);
    if (end === -1) {
      if (eofOk) return this.rest();
      this.fail("string without NUL terminator");
    }
    const v = this.payload.subarray(this.#offset, end);
    this.#offset = end + 1;
    return v;
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }
}

/** Builds a payload. */
export class PayloadWriter {
  readonly #parts: Buffer[] = [];

  uint8(v: number): this {
    this.#parts.push(Buffer.of(v & 0xff));
    return this;
  }

  uint16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16LE(v);
    this.#parts.push(b);
    return this;
  }

  uint32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.#parts.push(b);
    return this;
  }

  bytes(b: Buffer | string): this {
    this.#parts.push(typeof b === "string" ? Buffer.from(b, "utf8") : b);
    return this;
  }

  zeros(n: number): this {
    this.#parts.push(Buffer.alloc(n));
    return this;
  }

  cstring(s: Buffer | string): this {
    return this.bytes(s).uint8(0);
  }

  lenenc(n: number): this {
    if (n < 0xfb) return this.uint8(n);
    if (n < 0x10000) return this.uint8(0xfc).uint16(n);
    if (n < 0x1000000) {
      const b = Buffer.alloc(3);
      b.writeUIntLE(n, 0, 3);
      return this.uint8(0xfd).bytes(b);
    }
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return this.uint8(0xfe).bytes(b);
  }

  lenencBytes(b: Buffer | string): this {
    const buf = typeof b === "string" ? Buffer.from(b, "utf8") : b;
    return this.lenenc(buf.length).bytes(buf);
  }

  build(): Buffer {
    return Buffer.concat(this.#parts);
  }
}
