/**
 * Byte builders for wire tests, written independently of src/wire/postgres/serialize.ts so a
 * serializer bug cannot hide a parser bug (after pg-protocol's testing/test-buffers.ts).
 *
 * @see https://www.postgresql.org/docs/current/protocol-message-formats.html
 */

export class BufferList {
  private readonly parts: Buffer[] = [];

  int32(value: number): this {
    const buf = Buffer.alloc(4);
    buf.writeInt32BE(value);
    this.parts.push(buf);
    return this;
  }

  uint32(value: number): this {
    const buf = Buffer.alloc(4);
    buf.writeUInt32BE(value);
    this.parts.push(buf);
    return this;
  }

  int16(value: number): this {
    const buf = Buffer.alloc(2);
    buf.writeInt16BE(value);
    this.parts.push(buf);
    return this;
  }

  byte(value: number): this {
    this.parts.push(Buffer.of(value));
    return this;
  }

  char(value: string): this {
    this.parts.push(Buffer.from(value, "latin1"));
    return this;
  }

  cstring(value: string): this {
    this.parts.push(Buffer.from(value, "utf8"), Buffer.of(0));
    return this;
  }

  string(value: string): this {
    this.parts.push(Buffer.from(value, "utf8"));
    return this;
  }

  bytes(value: Buffer): this {
    this.parts.push(value);
    return this;
  }

  /** The body alone. */
  body(): Buffer {
    return Buffer.concat(this.parts);
  }

  /** Untyped (startup) packet: Int32 length counting itself, then the body. */
  untyped(): Buffer {
    const body = this.body();
    return Buffer.concat([new BufferList().int32(body.length + 4).body(), body]);
  }

  /** Typed message: type byte, Int32 length counting itself, then the body. */
  typed(type: string): Buffer {
    const body = this.body();
    return Buffer.concat([Buffer.from(type, "latin1"), new BufferList().int32(body.length + 4).body(), body]);
  }
}

const list = (): BufferList => new BufferList();

/** Messages a client sends. */
export const frontend = {
  startup(parameters: Record<string, string>, version = 196608): Buffer {
    const b = list().int32(version);
    for (const [name, value] of Object.entries(parameters)) b.cstring(name).cstring(value);
    return b.byte(0).untyped();
  },
  sslRequest: (): Buffer => list().int32(80877103).untyped(),
  gssencRequest: (): Buffer => list().int32(80877104).untyped(),
  cancelRequest: (processId: number, key: Buffer): Buffer =>
    list().int32(80877102).int32(processId).bytes(key).untyped(),
  password: (password: string): Buffer => list().cstring(password).typed("p"),
  saslInitial: (mechanism: string, data: Buffer): Buffer =>
    list().cstring(mechanism).int32(data.length).bytes(data).typed("p"),
  query: (sql: string): Buffer => list().cstring(sql).typed("Q"),
  terminate: (): Buffer => list().typed("X"),
};

/** Messages a server sends. */
export const backend = {
  authOk: (): Buffer => list().int32(0).typed("R"),
  authCleartext: (): Buffer => list().int32(3).typed("R"),
  authMd5: (salt: Buffer): Buffer => list().int32(5).bytes(salt).typed("R"),
  authSasl(mechanisms: string[]): Buffer {
    const b = list().int32(10);
    for (const m of mechanisms) b.cstring(m);
    return b.byte(0).typed("R");
  },
  authSaslContinue: (data: string): Buffer => list().int32(11).string(data).typed("R"),
  authSaslFinal: (data: string): Buffer => list().int32(12).string(data).typed("R"),
  authOther: (code: number, extra = Buffer.alloc(0)): Buffer => list().int32(code).bytes(extra).typed("R"),
  parameterStatus: (name: string, value: string): Buffer => list().cstring(name).cstring(value).typed("S"),
  backendKeyData: (processId: number, key: Buffer): Buffer => list().int32(processId).bytes(key).typed("K"),
  readyForQuery: (status = "I"): Buffer => list().char(status).typed("Z"),
  error: (fields: Record<string, string>): Buffer => fieldList(fields).typed("E"),
  notice: (fields: Record<string, string>): Buffer => fieldList(fields).typed("N"),
  negotiate(newestMinor: number, names: string[]): Buffer {
    const b = list().int32(newestMinor).int32(names.length);
    for (const name of names) b.cstring(name);
    return b.typed("v");
  },
  commandComplete: (tag: string): Buffer => list().cstring(tag).typed("C"),
};

function fieldList(fields: Record<string, string>): BufferList {
  const b = list();
  for (const [code, value] of Object.entries(fields)) b.char(code).cstring(value);
  return b.byte(0);
}

/** Every way to cut `bytes` in two non-empty pieces (plus the whole), as [first, second] pairs. */
export function cutsInTwo(bytes: Buffer): Array<[Buffer, Buffer]> {
  const cuts: Array<[Buffer, Buffer]> = [];
  for (let at = 0; at <= bytes.length; at++) cuts.push([bytes.subarray(0, at), bytes.subarray(at)]);
  return cuts;
}

/** Cuts `bytes` at the given (sorted or not, possibly repeated) offsets. */
export function cutAt(bytes: Buffer, offsets: number[]): Buffer[] {
  const points = [...new Set(offsets.map((o) => Math.max(0, Math.min(bytes.length, o))))].sort(
    (a, b) => a - b,
  );
  const pieces: Buffer[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.subarray(start, point));
    start = point;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}
