import type { Socket } from "node:net";
import type { SessionAudit } from "../../gateway/audit/statement-audit.js";
import { destroySelf } from "../../gateway/connection.js";
import { MessageFramer, StatementReader, type StatementText } from "../../wire/postgres/index.js";
import { parameterName, sharedParameterStatus } from "./pool.js";

const Q = 0x51; // Query
const F = 0x46; // FunctionCall
const S = 0x53; // Sync (from the client); ParameterStatus (from the backend)
const X = 0x58; // Terminate
const Z = 0x5a; // ReadyForQuery
// Extended-query messages: until the next Sync the backend holds unsynchronized state.
const EXTENDED = new Set([
  0x50 /* Parse */, 0x42 /* Bind */, 0x45 /* Execute */, 0x44 /* Describe */, 0x43 /* Close */,
]);

/**
 * Relays an established PostgreSQL session chunk by chunk, as read, with backpressure both
 * ways, while following message boundaries (without copying) to know whether the backend is
 * idle when the client goes, and keeping the backend's ParameterStatus values current.
 * The client's Terminate is not forwarded: whether the backend ends too is the pool's call.
 */
export class SessionRelay {
  readonly #fromClient = new MessageFramer([]);
  readonly #fromBackend = new MessageFramer([Z, S]);
  /** Requests sent (Query, Sync, FunctionCall) not yet answered by ReadyForQuery. */
  #pending = 0;
  #status = 0x49; // 'I'
  #extended = false;
  /** Where the client's Terminate starts in the chunk it came in (-1: in an earlier chunk). */
  #terminateAt = -1;
  #terminated = false;
  #ended = false;
  /** iamdb ends the session: the error to send once the client is at a message boundary. */
  #termination: Buffer | undefined;
  /** The client's data listener: {@link #onClientData}, behind the statement reader when the audit is on. */
  readonly #clientListener: (chunk: Buffer) => void;

  constructor(
    private readonly client: Socket,
    private readonly backend: Socket,
    private readonly parameters: Map<string, Buffer>,
    /**
     * Called once, when the session ends. `reusable`: the client left (hung up or sent
     * Terminate) while the backend was idle: every request answered by ReadyForQuery 'I', no
     * transaction, no extended-query message since the last Sync, no message half sent either
     * way. Such a backend can be reset and pooled; the relay has removed its listeners from it
     * and left it open. Otherwise the relay has closed it.
     */
    private readonly onEnd: (reusable: boolean) => void,
    /**
     * The session's statement audit, when the instance has it on: each Query and Parse the
     * client sends is handed to it before the chunk goes to the backend. Without it the relay
     * does no audit work at all (not even a check per chunk).
     */
    audit?: SessionAudit,
  ) {
    if (audit === undefined) {
      this.#clientListener = this.#onClientData;
    } else {
      const reader = new StatementReader(audit.maxTextBytes);
      const statement = (s: StatementText) => audit.postgres(s, parameters.get("client_encoding"));
      this.#clientListener = (chunk: Buffer) => {
        reader.scan(chunk, statement);
        this.#onClientData(chunk);
      };
    }
  }

  /**
   * Writes `first` (the login's last messages) to the client, then `remainder` (what the
   * backend sent beyond its login, as a relayed chunk), and starts relaying.
   */
  start(first: Buffer, remainder: Buffer): void {
    const { client, backend } = this;
    client.on("data", this.#clientListener);
    backend.on("data", this.#onBackendData);
    client.on("end", this.#onClientGone);
    client.on("close", this.#onClientGone);
    client.on("error", this.#onClientGone);
    backend.on("end", this.#onBackendGone);
    backend.on("close", this.#onBackendGone);
    backend.on("error", this.#onBackendGone);
    client.write(first);
    if (remainder.length > 0) this.#onBackendData(remainder);
    client.resume();
    backend.resume();
  }

  readonly #visitClient = (type: number, offset: number): boolean | undefined => {
    if (type === Q || type === F || type === S) {
      this.#pending++;
      // Only a Sync ends an extended-query cycle.
      if (type === S) this.#extended = false;
    } else if (type === X) {
      this.#terminated = true;
      this.#terminateAt = offset;
      return true;
    } else if (EXTENDED.has(type)) {
      this.#extended = true;
    }
    return undefined;
  };

  readonly #visitBackend = (type: number, _offset: number, whole: Buffer | undefined): undefined => {
    if (whole === undefined) return;
    if (type === Z) {
      this.#pending--;
      this.#status = whole[5] ?? 0;
    } else {
      // A copy (shared): `whole` may be a view into a large chunk.
      this.parameters.set(parameterName(whole), sharedParameterStatus(whole));
    }
  };

  readonly #onClientData = (chunk: Buffer) => {
    this.#fromClient.scan(chunk, this.#visitClient);
    if (this.#terminated) {
      // Forward what came before the Terminate; the session ends here. (A Terminate whose
      // first bytes came in an earlier chunk left the backend mid-message: not reusable.)
      if (this.#terminateAt > 0) this.backend.write(chunk.subarray(0, this.#terminateAt));
      this.#finish(this.#terminateAt >= 0);
      return;
    }
    if (!this.backend.write(chunk)) {
      this.client.pause();
      this.backend.once("drain", this.#resumeClient);
    }
  };

  readonly #onBackendData = (chunk: Buffer) => {
    this.#fromBackend.scan(chunk, this.#visitBackend);
    if (this.#termination !== undefined) {
      this.client.write(chunk);
      if (this.#fromBackend.atBoundary) this.#sendTermination();
      return;
    }
    if (!this.client.write(chunk)) {
      this.backend.pause();
      this.client.once("drain", this.#resumeBackend);
    }
  };

  readonly #resumeClient = () => {
    if (!this.#ended) this.client.resume();
  };

  readonly #resumeBackend = () => {
    if (!this.#ended) this.backend.resume();
  };

  /**
   * Ends the session from iamdb's side (revocation, an administrator): the client's further
   * messages are not forwarded, and `error` (a FATAL ErrorResponse) is sent once what the
   * backend is sending is whole, so the client reads the error at a message boundary as it
   * would read the server's own. The backend is closed, never pooled. A backend that never
   * completes its message within a second is cut off.
   */
  terminate(error: Buffer): void {
    if (this.#ended || this.#termination !== undefined) return;
    this.#termination = error;
    this.client.off("data", this.#clientListener);
    this.backend.resume();
    if (this.#fromBackend.atBoundary) this.#sendTermination();
    else setTimeout(() => this.#sendTermination(), 1000).unref();
  }

  #sendTermination(): void {
    if (this.#ended) return;
    const { client } = this;
    const error = this.#termination as Buffer;
    this.#finishWith(() => {
      client.end(error);
      setTimeout(() => client.destroy(), 1000).unref();
    });
  }

  readonly #onClientGone = () => this.#finish(true);
  readonly #onBackendGone = () => this.#finish(false);

  /** Whether the backend is idle and at a message boundary both ways. */
  #idle(): boolean {
    return (
      this.#fromClient.atBoundary &&
      this.#fromBackend.atBoundary &&
      this.#pending === 0 &&
      this.#status === 0x49 &&
      !this.#extended &&
      this.backend.writableLength === 0 &&
      !this.backend.destroyed &&
      this.backend.readable
    );
  }

  #finish(clientLeft: boolean): void {
    this.#finishWith(() => this.client.destroy(), clientLeft);
  }

  /** Stops relaying; `closeClient` ends the client socket; the backend is kept only when `clientLeft` and idle. */
  #finishWith(closeClient: () => void, clientLeft = false): void {
    if (this.#ended) return;
    this.#ended = true;
    const { client, backend } = this;
    client.off("data", this.#clientListener);
    backend.off("data", this.#onBackendData);
    client.off("end", this.#onClientGone);
    client.off("close", this.#onClientGone);
    client.off("error", this.#onClientGone);
    backend.off("end", this.#onBackendGone);
    backend.off("close", this.#onBackendGone);
    backend.off("error", this.#onBackendGone);
    backend.off("drain", this.#resumeClient);
    client.off("drain", this.#resumeBackend);
    client.on("error", destroySelf);
    closeClient();
    const reusable = clientLeft && this.#termination === undefined && this.#idle();
    if (!reusable) backend.destroy();
    this.onEnd(reusable);
  }
}
