import type { RdsErrorCode } from "../token/causes.js";
import type { AuthAttempt, AuthLog } from "./auth-log.js";
import type { LoginStage } from "./connection.js";
import type { GatewayMetrics } from "./metrics.js";
import { classify, isAuthenticationCause, type LoginFailureCause } from "./outcome.js";

/**
 * A login the gateway refuses: a typed cause in; out come, at one edge per engine, the
 * client's protocol error (the engine's refusal table), and here the auth-log line and the
 * metrics, the same for every cause on every engine (Teleport's lib/srv/db shape: typed
 * errors inside, converted to the protocol's own at the edge).
 *
 * `Own` is what an engine lets through as it is: the backend's own refusal of the session
 * (PostgreSQL's ErrorResponse fields, MySQL's ERR), or a protocol error its codec worded.
 */
export interface Refusal<Own = never> {
  readonly cause: LoginFailureCause;
  /** Why, for the operator's auth log: what exactly went wrong and what to do. Never a token, secret or password. */
  readonly detail: string;
  /** The token check's RDS error code, for the auth log's errorCode. */
  readonly tokenErrorCode?: RdsErrorCode | undefined;
  /**
   * The client's words where the cause's own are not fixed: what a protocol violation, a
   * login limit or an internal error says (the engine's table adds the correlation id).
   */
  readonly message?: string | undefined;
  /** What the client should do, where the protocol has a place for it (PostgreSQL's HINT). */
  readonly hint?: string | undefined;
  /** An error the client sees as it is (see `Own`). */
  readonly own?: Own | undefined;
}

/** Who is refused and where the login is, for the engine's wording of a refusal. */
export interface RefusalSubject {
  /** "accept": refused before any handshake (the admission caps), in the server's pre-handshake words. */
  readonly stage: LoginStage | "accept";
  /** The login name the client gave ("" before it gave one). */
  readonly dbUser: string;
  /** The database the client named (PostgreSQL's startup packet). */
  readonly database?: string | undefined;
  /** The client's address, as the database prints it in its own refusals. */
  readonly clientAddress: string;
  /** The attempt's correlation id: the client's error carries it, so the operator finds the log line. */
  readonly correlationId: string;
}

/**
 * A refusal decided inside a step of a handshake (such as the TLS upgrade's check of what the
 * client sent early), thrown for the connection's edge to send: a type to catch, never a
 * message to match.
 */
export class Refused extends Error {
  constructor(readonly refusal: Refusal) {
    super(refusal.detail);
    this.name = "Refused";
  }
}

/** Where refusals are recorded. */
export interface RefusalSinks {
  readonly authLog: AuthLog;
  readonly metrics: GatewayMetrics;
}

/**
 * Counts every failure the auth log records by its cause (iamdb_login_failures_total, and
 * iamdb_login_ended_total for the causes that are no IAM authentication), before the log's
 * noise bound: so /metrics accounts for every refusal, including those written only in a
 * summary line. The gateway wires it once per auth log.
 */
export function countFailuresByCause(sinks: RefusalSinks): void {
  sinks.authLog.onFailure((instance, cause) => sinks.metrics.loginEnded(instance, cause));
}

/**
 * The refusal edge, whole: logs and counts `refusal` ({@link recordRefusal}) and returns the
 * bytes of the protocol error the engine's table makes of it (`encode`), or undefined when
 * there is nobody to tell. Every login an engine refuses goes through here.
 */
export function applyRefusal<Own>(
  sinks: RefusalSinks,
  attempt: AuthAttempt,
  refusal: Refusal<Own>,
  subject: RefusalSubject,
  encode: RefusalEncoder<Own>,
  requestCounted: boolean,
): Buffer | undefined {
  recordRefusal(sinks, attempt, refusal, requestCounted);
  return encode(refusal, subject);
}

/** An engine's refusal table, encoded: the bytes to send, or undefined when nobody listens. */
export type RefusalEncoder<Own> = (refusal: Refusal<Own>, subject: RefusalSubject) => Buffer | undefined;

/**
 * Logs and counts one refusal, the same for every cause on every engine: one auth-log line
 * (counted by cause, see {@link countFailuresByCause}); for a cause that is an IAM
 * authentication, one failure in RDS's IamDbAuthConnectionFailure family for it, and one
 * IamDbAuthConnectionRequests when the attempt was not counted as a request yet (refused
 * before the client presented its token), so that requests = successes + failures.
 */
export function recordRefusal(
  sinks: RefusalSinks,
  attempt: AuthAttempt,
  refusal: Refusal<unknown>,
  requestCounted: boolean,
): void {
  sinks.authLog.failure(attempt, refusal.cause, refusal.detail, refusal.tokenErrorCode);
  if (!isAuthenticationCause(refusal.cause)) return;
  if (!requestCounted) sinks.metrics.request(attempt.instance);
  sinks.metrics.failure(attempt.instance, classify(refusal.cause, refusal.tokenErrorCode).kind);
}
