/**
 * Logs in to a real PostgreSQL server using only the wire codec: a throwaway cluster made with
 * initdb in a temp dir, started on a free loopback port, stopped and deleted at the end (also
 * on failure). Skipped when no PostgreSQL binaries are installed or when we can run neither as
 * root (to switch to the postgres OS user, as initdb refuses root) nor as postgres itself.
 *
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 * @see https://www.postgresql.org/docs/current/sasl-authentication.html
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import {
  type BackendMessage,
  BackendParser,
  md5Password,
  passwordMessage,
  SCRAM_SHA_256,
  ScramSha256Client,
  saslInitialResponse,
  saslResponse,
  startupMessage,
  terminate,
} from "../../src/wire/postgres/index.js";
import { type PgCluster, startPgCluster } from "../helpers/pg-cluster.js";
import { frontend } from "./buffers.js";

const _run = promisify(execFile);

const MD5_PASSWORD = "md5-secret";
/** Exercises SASLprep: the server normalises "ﬀ" to "ff", drops U+00AD and maps U+00A0 to a space. */
const UNICODE_PASSWORD = "p\u00E4ss\uFB00\u00AD\u00A0w\u00F6rd";

interface Login {
  messages: BackendMessage[];
  /** Bytes after ReadyForQuery, as BackendParser.takeRemainder returns them. */
  remainder: Buffer;
  socket: Socket;
}

/**
 * Runs the startup phase as a client: StartupMessage, then whatever authentication the server
 * asks for, until ReadyForQuery or ErrorResponse. The socket is left open for the caller.
 */
function login(
  port: number,
  user: string,
  password: string,
  options: { protocolVersion?: number; extra?: Record<string, string>; byteByByte?: boolean } = {},
): Promise<Login> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    const parser = new BackendParser();
    const messages: BackendMessage[] = [];
    let scram: ScramSha256Client | undefined;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`login timed out; messages so far: ${JSON.stringify(messages.map((m) => m.kind))}`));
    }, 10_000);
    const finish = (): void => {
      clearTimeout(timer);
      resolve({ messages, remainder: parser.takeRemainder(), socket });
    };
    socket.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on("close", finish);
    socket.on("data", (chunk: Buffer) => {
      try {
        const pieces = options.byteByByte ? [...chunk].map((b) => Buffer.of(b)) : [chunk];
        for (const message of pieces.flatMap((piece) => parser.push(piece))) {
          messages.push(message);
          switch (message.kind) {
            case "AuthenticationSASL":
              assert.ok(message.mechanisms.includes(SCRAM_SHA_256));
              scram = new ScramSha256Client(password);
              socket.write(saslInitialResponse(SCRAM_SHA_256, scram.clientFirstMessage()));
              break;
            case "AuthenticationSASLContinue":
              socket.write(saslResponse((scram as ScramSha256Client).handleServerFirst(message.data)));
              break;
            case "AuthenticationSASLFinal":
              (scram as ScramSha256Client).verifyServerFinal(message.data);
              break;
            case "AuthenticationMD5Password":
              socket.write(passwordMessage(md5Password(user, password, message.salt)));
              break;
            case "AuthenticationCleartextPassword":
              socket.write(passwordMessage(password));
              break;
            case "ReadyForQuery":
            case "ErrorResponse":
              socket.removeListener("close", finish);
              finish();
              return;
          }
        }
      } catch (error) {
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      }
    });
    socket.connect(port, "127.0.0.1", () => {
      socket.write(
        startupMessage({ user, database: "postgres", ...options.extra }, options.protocolVersion ?? 196608),
      );
    });
  });
}

function close(socket: Socket): void {
  if (!socket.destroyed) socket.end(terminate());
}

/** Reads the answer to a simple Query with a fresh parser (the login parser stops at ReadyForQuery). */
function query(socket: Socket, sql: string, leftover: Buffer): Promise<BackendMessage[]> {
  return new Promise((resolve, reject) => {
    const parser = new BackendParser();
    const messages: BackendMessage[] = [];
    const onData = (chunk: Buffer): void => {
      try {
        messages.push(...parser.push(chunk));
      } catch (error) {
        reject(error);
      }
      if (messages.at(-1)?.kind === "ReadyForQuery") {
        socket.removeListener("data", onData);
        resolve(messages);
      }
    };
    socket.on("data", onData);
    if (leftover.length > 0) onData(leftover);
    socket.write(frontend.query(sql));
  });
}

describe("login to a real PostgreSQL with only the wire codec", { timeout: 60_000 }, () => {
  let cluster: PgCluster;
  let port = 0;
  const SUPERUSER_PASSWORD = "super-secret-pw";

  before(async () => {
    // initdb wrote every line as scram-sha-256; the md5 role gets its own line in front.
    cluster = await startPgCluster({ hbaPrefix: "host all md5user 127.0.0.1/32 md5\n" });
    assert.equal(cluster.superuserPassword, SUPERUSER_PASSWORD);
    port = cluster.port;
    await cluster.sql([
      "SET password_encryption = 'md5'",
      `CREATE ROLE md5user LOGIN PASSWORD '${MD5_PASSWORD}'`,
      "SET password_encryption = 'scram-sha-256'",
      `CREATE ROLE unicode_user LOGIN PASSWORD '${UNICODE_PASSWORD}'`,
    ]);
  });

  after(async () => {
    await cluster?.stop();
  });

  it("SCRAM-SHA-256: SASL exchange, server signature checked, then ParameterStatus, BackendKeyData, ReadyForQuery", async () => {
    const { messages, remainder, socket } = await login(port, "postgres", SUPERUSER_PASSWORD);
    try {
      const kinds = messages.map((m) => m.kind);
      assert.deepEqual(kinds.slice(0, 4), [
        "AuthenticationSASL",
        "AuthenticationSASLContinue",
        "AuthenticationSASLFinal",
        "AuthenticationOk",
      ]);
      assert.deepEqual(kinds.slice(-2), ["BackendKeyData", "ReadyForQuery"]);
      const status = Object.fromEntries(
        messages.flatMap((m) => (m.kind === "ParameterStatus" ? [[m.name, m.value]] : [])),
      );
      assert.equal(status.client_encoding, "UTF8");
      assert.equal(status.session_authorization, "postgres");
      assert.match(status.server_version ?? "", /^\d+/);
      const key = messages.find((m) => m.kind === "BackendKeyData");
      assert.ok(key?.kind === "BackendKeyData" && key.processId > 0 && key.secretKey.length === 4);
      assert.deepEqual(messages.at(-1), { kind: "ReadyForQuery", status: "I" });

      const answer = await query(socket, "select current_user", remainder);
      assert.deepEqual(
        answer.map((m) => (m.kind === "Other" ? m.type : m.kind)),
        ["T", "D", "C", "ReadyForQuery"],
      );
    } finally {
      close(socket);
    }
  });

  it("SCRAM-SHA-256 with the server's bytes fed one at a time", async () => {
    const { messages, socket } = await login(port, "postgres", SUPERUSER_PASSWORD, { byteByByte: true });
    close(socket);
    assert.equal(messages.at(-1)?.kind, "ReadyForQuery");
  });

  it("SCRAM-SHA-256 with a non-ASCII password (SASLprep agrees with the server)", async () => {
    const { messages, socket } = await login(port, "unicode_user", UNICODE_PASSWORD);
    close(socket);
    assert.ok(messages.some((m) => m.kind === "AuthenticationOk"));
    assert.equal(messages.at(-1)?.kind, "ReadyForQuery");
  });

  it("MD5: salted hash answered, then AuthenticationOk and ReadyForQuery", async () => {
    const { messages, socket } = await login(port, "md5user", MD5_PASSWORD);
    close(socket);
    assert.deepEqual(
      messages.slice(0, 2).map((m) => m.kind),
      ["AuthenticationMD5Password", "AuthenticationOk"],
    );
    assert.equal(messages.at(-1)?.kind, "ReadyForQuery");
  });

  for (const [label, user] of [
    ["SCRAM", "postgres"],
    ["MD5", "md5user"],
  ] as const) {
    it(`${label} with a wrong password: ErrorResponse 28P01`, async () => {
      const { messages, socket } = await login(port, user, "wrong-password");
      close(socket);
      const last = messages.at(-1);
      assert.ok(last?.kind === "ErrorResponse", `got ${JSON.stringify(messages.map((m) => m.kind))}`);
      assert.equal(last.fields.C, "28P01");
      assert.equal(last.fields.S, "FATAL");
      assert.ok(!messages.some((m) => m.kind === "AuthenticationOk"));
    });
  }

  it("protocol 3.2 with an unknown _pq_ option: NegotiateProtocolVersion, then login continues", async () => {
    const { messages, socket } = await login(port, "postgres", SUPERUSER_PASSWORD, {
      protocolVersion: (3 << 16) | 2,
      extra: { "_pq_.iamdb_test": "1" },
    });
    close(socket);
    const negotiate = messages.find((m) => m.kind === "NegotiateProtocolVersion");
    assert.ok(negotiate?.kind === "NegotiateProtocolVersion");
    assert.deepEqual(negotiate.unrecognized, ["_pq_.iamdb_test"]);
    // PostgreSQL puts its newest protocol version whole (3.0 = 196608) where the docs say "minor".
    assert.equal(negotiate.newestMinor, (3 << 16) | 0);
    assert.equal(messages.at(-1)?.kind, "ReadyForQuery");
  });
});
