import type { Decision } from "../policy/index.js";
import { describeStatement } from "../policy/index.js";
import type { FailureCause } from "../token/causes.js";
import { inspectAuthToken, type TokenInspection } from "../token/inspect.js";
import {
  type AuthenticatorOptions,
  dbUserArn,
  evaluateConnect,
  type LoginRequest,
  refusalDetail,
  verifyLoginToken,
} from "./authenticate.js";
import { classify, type LoginFailureCause } from "./outcome.js";

/** The checks a login goes through, in the order the gateway makes them (the token's from `verifyAuthToken`). */
export const LOGIN_STEPS = [
  "iam-switch",
  "token-format",
  "scope",
  "time",
  "endpoint",
  "db-user",
  "key",
  "key-status",
  "db-account",
  "policy",
] as const;
export type LoginStepName = (typeof LOGIN_STEPS)[number];

/** Which token check refuses with each cause. */
const TOKEN_STEP: Readonly<Record<FailureCause, LoginStepName>> = {
  malformed: "token-format",
  "unsupported-algorithm": "token-format",
  "wrong-service": "scope",
  "scope-date-mismatch": "scope",
  "wrong-region": "scope",
  "expires-too-long": "time",
  "not-yet-valid": "time",
  expired: "time",
  "host-mismatch": "endpoint",
  "port-mismatch": "endpoint",
  "user-mismatch": "db-user",
  "unknown-key": "key",
  "signature-mismatch": "key",
  "lookup-failed": "key",
  "inactive-key": "key-status",
  "session-token-missing": "key-status",
  "session-token-mismatch": "key-status",
  "session-token-unexpected": "key-status",
  "session-expired": "key-status",
};

const TOKEN_STEPS: readonly LoginStepName[] = [
  "token-format",
  "scope",
  "time",
  "endpoint",
  "db-user",
  "key",
  "key-status",
];

export interface LoginStep {
  readonly name: LoginStepName;
  /** skipped: not checked, because a check it depends on failed. */
  readonly outcome: "pass" | "fail" | "skipped";
  readonly cause?: LoginFailureCause;
  readonly detail: string;
}

/** What `iamdb doctor` shows: the login the gateway would refuse or allow, and why, without logging in. */
export interface LoginExplanation {
  readonly ok: boolean;
  /** The cause the auth log would record (the first check that fails, in the gateway's order). */
  readonly cause?: LoginFailureCause;
  /** RDS's status and error code for it, as the auth log writes them. */
  readonly statusCode?: number;
  readonly errorCode?: string;
  /** The auth log's sentence: the exact problem, and what to do where it says. */
  readonly detail: string;
  /** What to do, for causes whose sentence does not say it. */
  readonly fix?: string;
  readonly dbUser: string;
  readonly sourceIp: string;
  /** The token as `iamdb inspect-token` decodes it: never the signature or the session token. */
  readonly token: TokenInspection;
  readonly accessKeyId?: string;
  /** The token's signer, whose policies decide: not whoever asks for the explanation. */
  readonly principalArn?: string;
  readonly resource: string;
  readonly steps: readonly LoginStep[];
  readonly decision?: Decision;
}

/** What to do, for the causes whose sentence says only what is wrong. */
function fixFor(
  cause: LoginFailureCause,
  x: { resource: string; principalArn?: string | undefined; decision?: Decision | undefined; port: number },
): string | undefined {
  switch (cause) {
    case "port-mismatch":
      return `generate the token with --port ${x.port}`;
    case "unknown-key":
      return "sign with an access key of this deployment (iamdb iam create-access-key), or with credentials from its sts assume-role";
    case "not-authorized":
      if (x.decision?.decision === "explicitDeny")
        return "an explicit deny wins over every allow: change or remove the statement named above (or its condition)";
      return `allow it: attach a policy with {"Effect":"Allow","Action":"rds-db:connect","Resource":"${x.resource}"} to ${x.principalArn ?? "the principal"}${x.decision?.missingAllowFrom?.some((l) => l !== "identity") ? ", and allow it in the layer named above" : ""}`;
    default:
      return undefined;
  }
}

/**
 * Runs every check of {@link Authenticator.authenticate} for `req` and records each outcome,
 * without logging in and without recording the key's use. Independent checks (the IAM switch,
 * the token, the DB account) all run; the policy is evaluated only for a verified token, for
 * the principal that signed it. The outcome is the first failure in the gateway's order, with
 * the same cause and sentence as the auth log.
 */
export async function explainLogin(
  options: AuthenticatorOptions,
  flags: string,
  req: LoginRequest,
): Promise<LoginExplanation> {
  const { iam, accounts } = options;
  const now = options.now ?? (() => new Date());
  const at = now();
  const instance = (await options.instances?.current(req.instance.identifier)) ?? req.instance;
  const { dbUser } = req;
  const { accountId, partition } = iam.account;
  const resource = dbUserArn(partition, accountId, instance, dbUser);
  const steps = new Map<LoginStepName, LoginStep>();
  const fail = (name: LoginStepName, cause: LoginFailureCause, detail: string) =>
    steps.set(name, { name, outcome: "fail", cause, detail });
  const pass = (name: LoginStepName, detail: string) => steps.set(name, { name, outcome: "pass", detail });
  const skip = (name: LoginStepName, detail: string) => steps.set(name, { name, outcome: "skipped", detail });

  if (instance.iamAuthEnabled)
    pass("iam-switch", `IAM database authentication is enabled on ${instance.identifier}`);
  else fail("iam-switch", "iam-disabled", refusalDetail.iamDisabled(instance.identifier, flags));

  const token = inspectAuthToken(req.password, at);
  const verified = await verifyLoginToken(options, instance, req, now);
  const failedAt = verified.ok ? TOKEN_STEPS.length : TOKEN_STEPS.indexOf(TOKEN_STEP[verified.cause]);
  const passed: Record<string, string> = {
    "token-format": "a well-formed RDS auth token (AWS4-HMAC-SHA256, Action=connect)",
    scope: `signed for service rds-db in ${instance.region}, scope date = date of X-Amz-Date`,
    time: `signed ${token.signedAt}, valid until ${token.expiresAt} (${token.secondsLeft} s left)`,
    endpoint: `signed for ${token.host}:${token.port}, a name and the port of ${instance.identifier}`,
    "db-user": `DBUser "${dbUser}" is the login user`,
    key: `access key ${token.accessKeyId} exists and the signature matches`,
    "key-status": verified.ok
      ? verified.temporary
        ? `temporary credentials, session token valid${verified.credential.expiresAt ? ` until ${verified.credential.expiresAt.toISOString()}` : ""}`
        : "an active long-term key"
      : "",
  };
  TOKEN_STEPS.forEach((name, n) => {
    if (n < failedAt) pass(name, passed[name] ?? "");
    else if (n === failedAt && !verified.ok) fail(name, verified.cause, verified.detail);
    else skip(name, "not checked: the token was refused");
  });

  const hasAccount = (await accounts.get(instance.identifier, dbUser)) !== undefined;
  if (hasAccount) pass("db-account", `"${dbUser}" is an IAM DB user of ${instance.identifier}`);
  else
    fail(
      "db-account",
      "db-user-not-iam-enabled",
      refusalDetail.notIamEnabled(instance.identifier, dbUser, flags),
    );

  let decision: Decision | undefined;
  let principalArn: string | undefined;
  if (verified.ok) {
    const principal = verified.credential.principal;
    principalArn = principal.arn;
    const set = await iam.policySetFor(principal);
    if (set === undefined) {
      fail("policy", "not-authorized", refusalDetail.principalGone(principal.arn));
    } else {
      const evaluated = evaluateConnect(set, req, instance, resource, at);
      decision = evaluated.decision;
      const explained = evaluated.explained;
      if (decision.decision === "allowed") pass("policy", explained);
      else fail("policy", "not-authorized", refusalDetail.notAuthorized(principal.arn, explained));
    }
  } else {
    skip("policy", "not evaluated: the token was refused, so its signer is not known");
  }

  const ordered = LOGIN_STEPS.map((name) => steps.get(name) as LoginStep);
  const first = ordered.find((s) => s.outcome === "fail");
  const { accessKeyId } = verified;
  const common = {
    dbUser,
    sourceIp: req.sourceIp,
    token,
    resource,
    steps: ordered,
    ...(accessKeyId === undefined ? {} : { accessKeyId }),
    ...(principalArn === undefined ? {} : { principalArn }),
    ...(decision === undefined ? {} : { decision }),
  };
  if (first === undefined) {
    return { ok: true, detail: (steps.get("policy") as LoginStep).detail, ...common };
  }
  const cause = first.cause as LoginFailureCause;
  const c = classify(cause, verified.ok ? undefined : verified.errorCode);
  const fix = fixFor(cause, { resource, principalArn, decision, port: instance.port });
  return {
    ok: false,
    cause,
    statusCode: c.statusCode,
    errorCode: c.errorCode,
    detail: first.detail,
    ...(fix === undefined ? {} : { fix }),
    ...common,
  };
}

/** The statements that decided, one line each (for the human output). */
export function decidingStatements(decision: Decision): string[] {
  return decision.matchedStatements.map((m) => `${m.effect} by ${describeStatement(m)}`);
}
