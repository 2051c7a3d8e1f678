/** Builders shared by the policy tests: documents, compiled policies, and a compact view of decisions. */
import assert from "node:assert/strict";
import {
  type CompiledPolicy,
  compilePolicy,
  type Decision,
  type DecisionType,
  type EvaluationRequest,
  evaluate,
  type PolicyKind,
  type PolicySet,
  type RequestPrincipal,
} from "../../src/policy/index.js";

export const ACCOUNT = "123456789012";
export const OTHER_ACCOUNT = "210987654321";
/** DbiResourceId: `db-` and 26 upper-case letters/digits. */
export const DBI = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ";
export const DBI2 = "db-0123456789ABCDEFGHIJKLMNOP";

export function dbuser(user: string, dbi = DBI, region = "us-east-1", account = ACCOUNT): string {
  return `arn:aws:rds-db:${region}:${account}:dbuser:${dbi}/${user}`;
}

export const JANE: RequestPrincipal = {
  arn: `arn:aws:iam::${ACCOUNT}:user/jane_doe`,
  userId: "AIDAJANEDOE0000000001",
};
export const BOB: RequestPrincipal = {
  arn: `arn:aws:iam::${ACCOUNT}:user/bob`,
  userId: "AIDABOB00000000000001",
};

export type Statement = Record<string, unknown>;

/** A policy document; `version: null` leaves Version out (2008-10-17 semantics). */
export function doc(
  statements: Statement | Statement[],
  version: string | null = "2012-10-17",
): Record<string, unknown> {
  return version === null ? { Statement: statements } : { Version: version, Statement: statements };
}

export function policy(
  name: string,
  statements: Statement | Statement[],
  options: { kind?: PolicyKind; version?: string | null; id?: string } = {},
): CompiledPolicy {
  return compilePolicy(
    JSON.stringify(doc(statements, options.version === undefined ? "2012-10-17" : options.version)),
    {
      kind: options.kind ?? "identity-managed",
      name,
      ...(options.id === undefined ? {} : { id: options.id }),
    },
  );
}

export const allow = (action: unknown, resource: unknown, extra: Statement = {}): Statement => ({
  Effect: "Allow",
  Action: action,
  Resource: resource,
  ...extra,
});
export const deny = (action: unknown, resource: unknown, extra: Statement = {}): Statement => ({
  Effect: "Deny",
  Action: action,
  Resource: resource,
  ...extra,
});

/** `identity:jane-inline#0:Allow`, with `[Sid]` after the index when the statement has one. */
export function compact(decision: Decision): string[] {
  return decision.matchedStatements.map(
    (s) => `${s.policyType}:${s.policyName}#${s.statementIndex}${s.sid ? `[${s.sid}]` : ""}:${s.effect}`,
  );
}

export interface EvalCase {
  readonly name: string;
  readonly policies: PolicySet;
  /** Defaults: rds-db:connect on jane_doe's DB user ARN, as IAM user jane_doe, empty context. */
  readonly request?: Partial<EvaluationRequest>;
  readonly decision: DecisionType;
  readonly matched: readonly string[];
  readonly missingContextValues?: readonly string[];
}

export function defaultRequest(overrides: Partial<EvaluationRequest> = {}): EvaluationRequest {
  return {
    action: "rds-db:connect",
    resource: dbuser("jane_doe"),
    principal: JANE,
    context: {},
    ...overrides,
  };
}

/** Runs one table row: exact decision, exact matched statements, and missing keys when the row names them. */
export function checkCase(c: EvalCase): Decision {
  const result = evaluate(defaultRequest(c.request), c.policies);
  assert.equal(result.decision, c.decision, `decision for: ${c.name}`);
  assert.deepEqual(compact(result), [...c.matched], `matched statements for: ${c.name}`);
  if (c.missingContextValues !== undefined) {
    assert.deepEqual(
      result.missingContextValues ?? [],
      [...c.missingContextValues],
      `missing keys for: ${c.name}`,
    );
  }
  return result;
}
