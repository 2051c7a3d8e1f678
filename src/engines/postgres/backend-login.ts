import type { Socket } from "node:net";
import { backendTls } from "../../gateway/backend-socket.js";
import { type Dialer, dialBackend, orUnavailable } from "../../gateway/dialer.js";
import { ConnectionClosed, EventQueue } from "../../gateway/queue.js";
import type { BackendSpec } from "../../instances/types.js";
import {
  type BackendMessage,
  BackendParser,
  md5Password,
  passwordMessage,
  SCRAM_SHA_256,
  ScramSha256Client,
  saslInitialResponse,
  saslResponse,
  sslRequest,
  startupMessage,
} from "../../wire/postgres/index.js";

/** The backend refused or broke the login; `fields` is its ErrorResponse when it sent one. */
export class BackendLoginError extends Error {
  constructor(
    message: string,
    readonly kind: "unavailable" | "refused" | "protocol",
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = "BackendLoginError";
  }
}

export interface BackendSession {
  readonly socket: Socket;
  /** Messages after AuthenticationOk up to and including ReadyForQuery. */
  readonly startup: BackendMessage[];
  /** Bytes that followed ReadyForQuery (none in practice): the relay forwards them first. */
  readonly remainder: Buffer;
  readonly processId: number;
  readonly secretKey: Buffer;
}

function readByte(socket: Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      cleanup();
      if (chunk.length > 1) socket.unshift(chunk.subarray(1));
      resolve(chunk[0] as number);
    };
    const onEnd = () => {
      cleanup();
      reject(
        new BackendLoginError("backend closed the connection during the SSL negotiation", "unavailable"),
      );
    };
    const cleanup = () => {
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("error", onEnd);
      socket.pause();
    };
    socket.on("data", onData);
    socket.once("end", onEnd);
    socket.once("error", onEnd);
  });
}

/** Rejects with `error` if `work` has not settled within `ms`, after calling `onTimeout`. */
function within<T>(work: Promise<T>, ms: number, onTimeout: () => void, error: () => Error): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(error());
    }, ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

/**
 * Opens a connection to the backend through `dialer`, with TLS when the instance asks for it,
 * within `timeoutMs` in all (connect, SSL negotiation, TLS handshake). The socket returned
 * keeps a listener for 'error' for its whole life: a reset while nobody reads it must close
 * it, not crash the process.
 */
export async function openBackend(spec: BackendSpec, timeoutMs: number, dialer: Dialer): Promise<Socket> {
  // Read before connecting: a missing CA file must not leave a half-open socket behind.
  const tls = spec.tls !== "disable" ? backendTls(spec) : undefined;
  const unavailable = (message: string) => new BackendLoginError(message, "unavailable");
  const socket = await orUnavailable(dialBackend(dialer, spec, timeoutMs), unavailable);
  if (tls === undefined) return socket;
  const negotiate = async (): Promise<Socket> => {
    socket.write(sslRequest());
    const answer = await readByte(socket);
    if (answer !== 0x53 /* S */) {
      throw new BackendLoginError(
        `backend ${spec.host}:${spec.port} does not accept TLS, but the instance requires it`,
        "unavailable",
      );
    }
    return orUnavailable(dialer.secure(socket, tls), unavailable);
  };
  try {
    return await within(
      negotiate(),
      timeoutMs,
      () => socket.destroy(),
      () =>
        new BackendLoginError(
          `TLS negotiation with backend ${spec.host}:${spec.port} took longer than ${timeoutMs} ms`,
          "unavailable",
        ),
    );
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

/**
 * Logs in to the backend as `user` with the gateway-held password, answering whichever
 * method the backend asks for (trust, cleartext, md5, SCRAM-SHA-256), and reads up to
 * ReadyForQuery.
 * @see https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP
 */
export async function backendLogin(
  socket: Socket,
  parameters: Record<string, string>,
  password: string,
  timeoutMs: number,
): Promise<BackendSession> {
  const parser = new BackendParser();
  const queue = new EventQueue<BackendMessage>();
  const onData = (chunk: Buffer) => {
    try {
      queue.push(parser.push(chunk));
    } catch (err) {
      queue.fail(new BackendLoginError(`backend sent malformed data: ${(err as Error).message}`, "protocol"));
    }
  };
  const onClose = () =>
    queue.fail(new BackendLoginError("backend closed the connection during login", "unavailable"));
  socket.on("data", onData);
  socket.once("close", onClose);
  socket.once("error", onClose);
  const timer = setTimeout(
    () => queue.fail(new BackendLoginError(`backend login took longer than ${timeoutMs} ms`, "unavailable")),
    timeoutMs,
  );
  socket.resume();
  try {
    socket.write(startupMessage(parameters));
    let scram: ScramSha256Client | undefined;
    const startup: BackendMessage[] = [];
    let processId = 0;
    let secretKey: Buffer = Buffer.alloc(0);
    let authenticated = false;
    for (;;) {
      const m = await queue.next();
      switch (m.kind) {
        case "AuthenticationOk":
          authenticated = true;
          break;
        case "AuthenticationCleartextPassword":
          socket.write(passwordMessage(password));
          break;
        case "AuthenticationMD5Password":
          socket.write(passwordMessage(md5Password(parameters.user ?? "", password, m.salt)));
          break;
        case "AuthenticationSASL":
          if (!m.mechanisms.includes(SCRAM_SHA_256)) {
            throw new BackendLoginError(
              `backend offers SASL mechanisms ${m.mechanisms.join(", ")}; iamdb speaks SCRAM-SHA-256`,
              "protocol",
            );
          }
          scram = new ScramSha256Client(password);
          socket.write(saslInitialResponse(SCRAM_SHA_256, scram.clientFirstMessage()));
          break;
        case "AuthenticationSASLContinue":
          if (!scram) throw new BackendLoginError("backend sent SASLContinue without SASL", "protocol");
          socket.write(saslResponse(scram.handleServerFirst(m.data)));
          break;
        case "AuthenticationSASLFinal":
          if (!scram) throw new BackendLoginError("backend sent SASLFinal without SASL", "protocol");
          scram.verifyServerFinal(m.data);
          break;
        case "AuthenticationOther":
          throw new BackendLoginError(
            `backend asks for authentication method ${m.code}, which iamdb does not speak`,
            "protocol",
          );
        case "ErrorResponse":
          throw new BackendLoginError(m.fields.M ?? "backend refused the login", "refused", m.fields);
        case "BackendKeyData":
          processId = m.processId;
          secretKey = m.secretKey;
          break;
        case "ReadyForQuery":
          if (!authenticated)
            throw new BackendLoginError("backend sent ReadyForQuery before AuthenticationOk", "protocol");
          startup.push(m);
          return { socket, startup, remainder: parser.takeRemainder(), processId, secretKey };
        default:
          if (authenticated) startup.push(m);
      }
    }
  } catch (err) {
    socket.destroy();
    if (err instanceof BackendLoginError) throw err;
    if (err instanceof ConnectionClosed) throw new BackendLoginError(err.reason, "unavailable");
    throw new BackendLoginError(`backend login failed: ${(err as Error).message}`, "protocol");
  } finally {
    clearTimeout(timer);
    socket.off("data", onData);
    socket.off("close", onClose);
    socket.off("error", onClose);
    socket.pause();
  }
}

/** Sends a CancelRequest to the backend on a connection of its own, as PostgreSQL requires. */
export function sendBackendCancel(
  spec: BackendSpec,
  timeoutMs: number,
  cancel: Buffer,
  dialer: Dialer,
): void {
  openBackend(spec, timeoutMs, dialer)
    .then((s) => {
      s.end(cancel);
      setTimeout(() => s.destroy(), timeoutMs).unref();
    })
    .catch(() => {
      // A cancel is best effort in PostgreSQL too: the client learns nothing either way.
    });
}
