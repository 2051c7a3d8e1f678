import { parseIamArn } from "../iam/arns.js";
import { NoSuchEntityError } from "../iam/errors.js";
import type { IamService } from "../iam/service.js";
import {
  type CompiledPolicy,
  type ContextValue,
  compilePolicy,
  evaluate,
  type MatchedStatement,
  type PolicyKind,
  type PolicySet,
  type RequestContext,
  type RequestPrincipal,
} from "../policy/index.js";
import type { ActionCall } from "./action.js";
import { ApiError } from "./errors.js";
import type { QueryParams } from "./params.js";
import { type XmlObject, xmlList } from "./xml.js";

/**
 * SimulatePrincipalPolicy and SimulateCustomPolicy: the same evaluator the gateway and the API
 * use, run for each requested action and resource, answering EvalDecision and the statements
 * that decided it.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html
 */

const CONTEXT_TYPES = new Set([
  "string",
  "stringList",
  "numeric",
  "numericList",
  "boolean",
  "booleanList",
  "ip",
  "ipList",
  "binary",
  "binaryList",
  "date",
  "dateList",
]);

/** ContextEntries.member.N.{ContextKeyName, ContextKeyValues, ContextKeyType} as condition keys. */
export function contextEntries(p: QueryParams): RequestContext {
  const out: Record<string, ContextValue> = {};
  for (const e of p.structs("ContextEntries") ?? []) {
    const name = e.required("ContextKeyName");
    const type = e.required("ContextKeyType");
    if (!CONTEXT_TYPES.has(type))
      throw e.invalid(
        "ContextKeyType",
        type,
        `Member must satisfy enum value set: [${[...CONTEXT_TYPES].join(", ")}]`,
      );
    const raw = e.strings("ContextKeyValues") ?? [];
    const base = type.replace(/List$/, "");
    const values = raw.map((v) => {
      if (base === "numeric") return Number(v);
      if (base === "boolean") return v.toLowerCase() === "true";
      if (base === "date") return /^\d+$/.test(v) ? new Date(Number(v) * 1000) : new Date(v);
      return v;
    });
    out[name] = type.endsWith("List") ? values : values[0];
  }
  return out;
}

function compileInput(text: string, kind: PolicyKind, label: string): CompiledPolicy {
  return compilePolicy(text, { kind, name: label, id: label });
}

function inputPolicies(p: QueryParams, list: string, kind: PolicyKind): CompiledPolicy[] | undefined {
  return p.strings(list)?.map((text, i) => compileInput(text, kind, `${list}.${i + 1}`));
}

async function managedDocument(iam: IamService, arn: string): Promise<string> {
  const policy = await iam.getPolicy({ policyArn: arn });
  return (await iam.getPolicyVersion({ policyArn: arn, versionId: policy.defaultVersionId })).document;
}

async function listAll<T>(
  fetch: (
    marker: string | undefined,
  ) => Promise<{ items: T[]; marker?: string | undefined; isTruncated: boolean }>,
) {
  const out: T[] = [];
  let marker: string | undefined;
  do {
    const page = await fetch(marker);
    out.push(...page.items);
    marker = page.isTruncated ? page.marker : undefined;
  } while (marker !== undefined);
  return out;
}

/** A group's or a role's identity policies, compiled with the names decisions report. */
async function holderPolicies(
  iam: IamService,
  kind: "group" | "role",
  name: string,
): Promise<CompiledPolicy[]> {
  const inlineKind: PolicyKind = kind === "group" ? "identity-inline-group" : "identity-inline-role";
  const names =
    kind === "group"
      ? await listAll((marker) => iam.listGroupPolicies({ groupName: name, marker, maxItems: 1000 }))
      : await listAll((marker) => iam.listRolePolicies({ roleName: name, marker, maxItems: 1000 }));
  const attached =
    kind === "group"
      ? await listAll((marker) => iam.listAttachedGroupPolicies({ groupName: name, marker, maxItems: 1000 }))
      : await listAll((marker) => iam.listAttachedRolePolicies({ roleName: name, marker, maxItems: 1000 }));
  const out: CompiledPolicy[] = [];
  for (const policyName of names) {
    const p =
      kind === "group"
        ? await iam.getGroupPolicy({ groupName: name, policyName })
        : await iam.getRolePolicy({ roleName: name, policyName });
    out.push(
      compilePolicy(p.policyDocument, {
        kind: inlineKind,
        name: policyName,
        id: `${kind}/${name}/${policyName}`,
      }),
    );
  }
  for (const a of attached) {
    out.push(
      compilePolicy(await managedDocument(iam, a.policyArn), {
        kind: "identity-managed",
        name: a.policyName,
        id: a.policyArn,
      }),
    );
  }
  return out;
}

/** The policies and principal SimulatePrincipalPolicy evaluates for PolicySourceArn. */
async function sourcePolicies(
  c: ActionCall,
  arn: string,
): Promise<{ principal: RequestPrincipal; policies: PolicySet }> {
  const { iam } = c;
  const parsed = parseIamArn(iam.account, arn);
  const invalid = new ApiError(
    "InvalidInput",
    400,
    `Invalid ARN: ${arn}. Pass a user, group or role ARN of account ${iam.account.accountId}.`,
  );
  if (parsed === undefined || parsed.kind === "policy") throw invalid;
  if (parsed.kind === "user") {
    const user = await iam.getUser({ userName: parsed.name });
    if (user.arn !== arn) throw new NoSuchEntityError(`The user with name ${parsed.name} cannot be found.`);
    const set = await iam.policySetFor({ type: "user", arn, userId: user.userId, userName: user.userName });
    if (set === undefined) throw new NoSuchEntityError(`The user with name ${parsed.name} cannot be found.`);
    return set;
  }
  if (parsed.kind === "group") {
    const { group } = await iam.getGroup({ groupName: parsed.name, maxItems: 1 });
    if (group.arn !== arn) throw new NoSuchEntityError(`The group with name ${parsed.name} cannot be found.`);
    return {
      principal: { arn, accountId: iam.account.accountId },
      policies: { identity: await holderPolicies(iam, "group", parsed.name) },
    };
  }
  const role = await iam.getRole({ roleName: parsed.name });
  if (role.arn !== arn) throw new NoSuchEntityError(`The role with name ${parsed.name} cannot be found.`);
  const boundaryArn = role.permissionsBoundary?.permissionsBoundaryArn;
  const tags: Record<string, string> = {};
  for (const t of role.tags) tags[t.key] = t.value;
  return {
    principal: { arn, accountId: iam.account.accountId, roleArn: arn, tags },
    policies: {
      identity: await holderPolicies(iam, "role", parsed.name),
      ...(boundaryArn === undefined
        ? {}
        : {
            boundary: compilePolicy(await managedDocument(iam, boundaryArn), {
              kind: "identity-managed",
              name: boundaryArn,
              id: boundaryArn,
            }),
          }),
    },
  };
}

/** SourcePolicyType as IAM names it. */
function sourceType(s: MatchedStatement): string {
  if (s.policyType === "resource") return "resource";
  const id = s.policyId ?? "";
  if (id.startsWith("PolicyInputList.") || id.startsWith("PermissionsBoundaryPolicyInputList."))
    return "none";
  if (id.startsWith("user/")) return "user";
  if (id.startsWith("group/")) return "group";
  if (id.startsWith("role/")) return "role";
  return "user-managed";
}

function matchedXml(s: MatchedStatement): XmlObject {
  const id = s.policyId ?? s.policyName;
  const inline = id !== undefined && /^(user|group|role)\//.test(id);
  return { SourcePolicyId: inline ? s.policyName : (s.policyName ?? id), SourcePolicyType: sourceType(s) };
}

async function simulate(
  c: ActionCall,
  principal: RequestPrincipal | undefined,
  policies: PolicySet,
): Promise<XmlObject> {
  const p = c.params;
  const actions = p.strings("ActionNames");
  if (actions === undefined || actions.length === 0) throw p.missing("ActionNames");
  const resources = p.strings("ResourceArns") ?? ["*"];
  const resourcePolicy = p.str("ResourcePolicy");
  const set: PolicySet = {
    ...policies,
    ...(resourcePolicy === undefined
      ? {}
      : { resource: compileInput(resourcePolicy, "resource", "ResourcePolicy") }),
  };
  const context = contextEntries(p);
  const results: XmlObject[] = [];
  for (const action of actions) {
    for (const resource of resources) {
      const d = evaluate(
        { action, resource, ...(principal === undefined ? {} : { principal }), context, now: c.now },
        set,
      );
      const boundary =
        set.boundary === undefined
          ? undefined
          : evaluate(
              { action, resource, ...(principal === undefined ? {} : { principal }), context, now: c.now },
              {
                identity: [set.boundary],
              },
            );
      results.push({
        EvalActionName: action,
        EvalResourceName: resource,
        EvalDecision: d.decision,
        MatchedStatements: xmlList(d.matchedStatements.map(matchedXml)),
        MissingContextValues: xmlList([...(d.missingContextValues ?? [])]),
        PermissionsBoundaryDecisionDetail:
          boundary === undefined
            ? undefined
            : { AllowedByPermissionsBoundary: boundary.decision === "allowed" },
      });
    }
  }
  // Marker is the index of the next result, as text: results are recomputed on every call.
  const max = p.int("MaxItems") ?? 100;
  if (max < 1 || max > 1000)
    throw p.invalid("MaxItems", String(max), "Member must have value between 1 and 1000");
  const marker = p.str("Marker");
  const start = marker === undefined ? 0 : Number(Buffer.from(marker, "base64url").toString("utf8"));
  if (!Number.isInteger(start) || start < 0 || start > results.length)
    throw new ApiError("InvalidInput", 400, "Invalid Marker: pass the Marker from the previous response.");
  const end = Math.min(results.length, start + max);
  const truncated = end < results.length;
  return {
    EvaluationResults: xmlList(results.slice(start, end)),
    IsTruncated: truncated,
    Marker: truncated ? Buffer.from(String(end), "utf8").toString("base64url") : undefined,
  };
}

export async function simulatePrincipalPolicy(c: ActionCall): Promise<XmlObject> {
  const source = await sourcePolicies(c, c.params.required("PolicySourceArn"));
  const extra = inputPolicies(c.params, "PolicyInputList", "identity-managed") ?? [];
  const boundaries = inputPolicies(c.params, "PermissionsBoundaryPolicyInputList", "identity-managed");
  const callerArn = c.params.str("CallerArn");
  const principal = callerArn === undefined ? source.principal : { ...source.principal, arn: callerArn };
  return simulate(c, principal, {
    ...source.policies,
    identity: [...source.policies.identity, ...extra],
    ...(boundaries?.[0] === undefined ? {} : { boundary: boundaries[0] }),
  });
}

export async function simulateCustomPolicy(c: ActionCall): Promise<XmlObject> {
  const identity = inputPolicies(c.params, "PolicyInputList", "identity-managed");
  if (identity === undefined) throw c.params.missing("PolicyInputList");
  const boundaries = inputPolicies(c.params, "PermissionsBoundaryPolicyInputList", "identity-managed");
  const callerArn = c.params.str("CallerArn");
  return simulate(c, callerArn === undefined ? undefined : { arn: callerArn }, {
    identity,
    ...(boundaries?.[0] === undefined ? {} : { boundary: boundaries[0] }),
  });
}
