import { execFile } from "node:child_process";
import { connect, type Socket } from "node:net";
import { promisify } from "node:util";
import pg from "pg";

const run = promisify(execFile);

export interface PsqlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The real psql, with the password only in PGPASSWORD (never on a command line). */
export async function psql(conninfo: string, sql: string, password: string): Promise<PsqlResult> {
  try {
    const { stdout, stderr } = await run("psql", [conninfo, "-XAtc", sql], {
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: password, PGCONNECT_TIMEOUT: "10" },
      timeout: 30_000,
    });
    return { code: 0, stdout: stdout.trim(), stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

export function pgClient(
  port: number,
  user: string,
  password: string,
  ca: string,
  extra: Partial<pg.ClientConfig> = {},
): pg.Client {
  return new pg.Client({ host: "localhost", port, user, database: "test", password, ssl: { ca }, ...extra });
}

/** Connects with `pg` and returns the error (code, message) it fails with; fails the test if it connects. */
export async function refusal(client: pg.Client): Promise<{ code: string; message: string }> {
  try {
    await client.connect();
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { code: e.code ?? "", message: e.message };
  }
  await client.end();
  throw new Error("the connection was accepted");
}

/** A raw TCP connection to the gateway, for the protocol edge cases no client library will send. */
export function raw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.once("error", reject);
  });
}

/** Everything the server sends until it closes the connection. */
export function readUntilClose(socket: Socket, timeoutMs = 10_000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error("the server did not close the connection")), timeoutMs);
    socket.on("data", (c) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks));
    });
  });
}

/** Builds a startup-phase packet: length, then the code, then the body. */
export function startupPacket(code: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(code, 4);
  return Buffer.concat([head, body]);
}

export const SSL_REQUEST = (1234 << 16) | 5679;
export const PROTOCOL_3 = 3 << 16;

export function startupMessage(params: Record<string, string>): Buffer {
  const body = Buffer.concat([
    ...Object.entries(params).flatMap(([k, v]) => [Buffer.from(`${k}\0${v}\0`)]),
    Buffer.from([0]),
  ]);
  return startupPacket(PROTOCOL_3, body);
}

/** The ErrorResponse fields of the first 'E' message in `bytes`. */
export function errorFields(bytes: Buffer): Record<string, string> {
  const at = bytes.indexOf(0x45);
  if (at < 0) return {};
  const len = bytes.readInt32BE(at + 1);
  const body = bytes.subarray(at + 5, at + 1 + len);
  const out: Record<string, string> = {};
  let i = 0;
  while (i < body.length && body[i] !== 0) {
    const code = String.fromCharCode(body[i] as number);
    const end = body.indexOf(0, i + 1);
    out[code] = body.subarray(i + 1, end).toString("utf8");
    i = end + 1;
  }
  return out;
}

/** Sends a CancelRequest for `client`'s session (the key the server gave it) on a new connection. */
export async function cancelVia(port: number, client: pg.Client): Promise<void> {
  const { processID, secretKey } = client as unknown as { processID: number; secretKey: number };
  const body = Buffer.alloc(8);
  body.writeInt32BE(processID, 0);
  body.writeInt32BE(secretKey, 4);
  const s = await raw(port);
  s.end(startupPacket((1234 << 16) | 5678, body));
}

/** The ParameterStatus values `client` is sent while it connects (call before connect()). */
export function parameterStatuses(client: pg.Client): Map<string, string> {
  const seen = new Map<string, string>();
  (
    client as unknown as {
      connection: { on(e: string, f: (m: { parameterName: string; parameterValue: string }) => void): void };
    }
  ).connection.on("parameterStatus", (m) => seen.set(m.parameterName, m.parameterValue));
  return seen;
}
