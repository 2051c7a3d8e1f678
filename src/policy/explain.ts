/**
 * One-line explanations of decisions for the auth error log and the simulator,
 * e.g. `denied by statement "DenyProd" (#1) of identity policy "prod-guard"`.
 */
import type { Decision, MatchedStatement, PolicyType } from "./evaluate.js";

const LAYER: Readonly<Record<PolicyType, string>> = {
  identity: "identity policy",
  boundary: "permissions boundary",
  session: "session policy",
  resource: "resource-based policy",
};

export function describeStatement(statement: MatchedStatement): string {
  const which = statement.sid
    ? `statement "${statement.sid}" (#${statement.statementIndex})`
    : `statement #${statement.statementIndex}`;
  const name = statement.policyName ?? statement.policyId;
  return `${which} of ${LAYER[statement.policyType]}${name === undefined ? "" : ` "${name}"`}`;
}

/** Explains `decision` for `action` on `resource` in one sentence. */
export function describeDecision(decision: Decision, request: { action: string; resource: string }): string {
  const target = request.resource === "" ? request.action : `${request.action} on ${request.resource}`;
  const first = decision.matchedStatements[0];
  switch (decision.decision) {
    case "explicitDeny":
      return `${target} denied by ${first === undefined ? "an explicit deny" : describeStatement(first)}`;
    case "allowed":
      return `${target} allowed by ${first === undefined ? "policy" : describeStatement(first)}`;
    case "implicitDeny": {
      const lacking = decision.missingAllowFrom ?? [];
      if (lacking.includes("identity") || lacking.includes("resource") || first === undefined) {
        return `no statement allowed ${target}`;
      }
      const missing = lacking.map((l) => `no ${LAYER[l]} allows it`).join(" and ");
      return `${target} allowed by ${describeStatement(first)}, but ${missing}`;
    }
  }
}
