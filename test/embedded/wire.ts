import { connect, type Socket } from "node:net";

/** Client-side PostgreSQL messages, for driving the server below what `pg` exposes. */
function message(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head.write(type, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const cstr = (s: string) => Buffer.from(`${s}\0`, "utf8");
const int16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export const frontend = {
  startup(params: Record<string, string>): Buffer {
    const body = Buffer.concat([
      int32(196608),
      ...Object.entries(params).flatMap(([k, v]) => [cstr(k), cstr(v)]),
      cstr(""),
    ]);
    return Buffer.concat([int32(body.length + 4), body]);
  },
  sslRequest: () => Buffer.concat([int32(8), int32(80877103)]),
  parse: (sql: string, name = "") => message("P", cstr(name), cstr(sql), int16(0)),
  /** Bind with text parameters and text results. */
  bind: (params: string[] = [], statement = "") =>
    message(
      "B",
      cstr(""),
      cstr(statement),
      int16(0),
      int16(params.length),
      ...params.flatMap((p) => [int32(Buffer.byteLength(p)), Buffer.from(p)]),
      int16(0),
    ),
  execute: () => message("E", cstr(""), int32(0)),
  sync: () => message("S"),
  query: (sql: string) => message("Q", cstr(sql)),
  terminate: () => message("X"),
  /** A PasswordMessage-family frame holding one string (for the wrong shape of SASLInitialResponse). */
  password: (text: string) => message("p", cstr(text)),
  saslInitial: (mechanism: string, data: string) =>
    message("p", cstr(mechanism), int32(Buffer.byteLength(data)), Buffer.from(data, "utf8")),
};

/** A raw connection that collects what the server sends. */
export class RawClient {
  received = Buffer.alloc(0);
  private constructor(readonly socket: Socket) {
    socket.on("data", (d: Buffer) => {
      this.received = Buffer.concat([this.received, d]);
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    return new RawClient(socket);
  }

  send(...messages: Buffer[]): void {
    this.socket.write(Buffer.concat(messages));
  }

  /** Waits until the server has sent a message of `type` (after `from`), returning the messages so far. */
  async until(type: string, from = 0, timeoutMs = 5000): Promise<{ type: string; body: Buffer }[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const messages = this.messages(from);
      if (messages.some((m) => m.type === type)) return messages;
      if (Date.now() > deadline)
        throw new Error(`no "${type}" from the server; got ${messages.map((m) => m.type).join("")}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** The typed messages received (skipping the first `from` bytes). */
  messages(from = 0): { type: string; body: Buffer }[] {
    const out: { type: string; body: Buffer }[] = [];
    let at = from;
    while (this.received.length - at >= 5) {
      const len = this.received.readInt32BE(at + 1);
      if (this.received.length - at < 1 + len) break;
      out.push({
        type: String.fromCharCode(this.received[at] ?? 0),
        body: this.received.subarray(at + 5, at + 1 + len),
      });
      at += 1 + len;
    }
    return out;
  }

  close(): void {
    this.socket.destroy();
  }
}
