/**
 * Policy documents: the JSON shape, and the checks IAM makes when a policy is
 * written (`MalformedPolicyDocument`).
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html
 */
import { parseOperator } from "./conditions.js";
import { MalformedPolicyDocumentError, PolicySizeLimitExceededError } from "./errors.js";
import { findDuplicateKey } from "./json.js";
import { POLICY_SIZE_LIMITS, type PolicyKind, policySize } from "./limits.js";

/**
 * "2012-10-17" is the current language; "2008-10-17" (also what a document without
 * Version means) does not substitute policy variables.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html
 */
export type PolicyVersion = "2012-10-17" | "2008-10-17";
export const POLICY_VERSIONS: readonly PolicyVersion[] = ["2012-10-17", "2008-10-17"];

export type Effect = "Allow" | "Deny";

/** `"*"`, or principal type -> identifiers. */
export type PrincipalElement =
  | "*"
  | {
      readonly AWS?: readonly string[];
      readonly Service?: readonly string[];
      readonly Federated?: readonly string[];
      readonly CanonicalUser?: readonly string[];
    };

/** One `operator -> key -> values` triple of a Condition element; values as strings, as IAM compares them. */
export interface ConditionEntry {
  readonly operator: string;
  readonly key: string;
  readonly values: readonly string[];
}

/** A statement, normalised: single strings become one-element lists. */
export interface PolicyStatement {
  readonly sid: string | undefined;
  readonly effect: Effect;
  readonly principal: PrincipalElement | undefined;
  readonly notPrincipal: PrincipalElement | undefined;
  readonly action: readonly string[] | undefined;
  readonly notAction: readonly string[] | undefined;
  readonly resource: readonly string[] | undefined;
  readonly notResource: readonly string[] | undefined;
  readonly conditions: readonly ConditionEntry[];
}

export interface PolicyDocument {
  readonly version: PolicyVersion;
  /** False when the document had no Version element (it then behaves as 2008-10-17). */
  readonly versionSpecified: boolean;
  readonly id: string | undefined;
  readonly statements: readonly PolicyStatement[];
}

const TOP_LEVEL_FIELDS = new Set(["Version", "Id", "Statement"]);
const STATEMENT_FIELDS = new Set([
  "Sid",
  "Effect",
  "Principal",
  "NotPrincipal",
  "Action",
  "NotAction",
  "Resource",
  "NotResource",
  "Condition",
]);
const PRINCIPAL_TYPES = ["AWS", "Service", "Federated", "CanonicalUser"] as const;

/** `service:Action` with `*`/`?` allowed on both sides, or `*` alone. */
const ACTION = /^(\*|[A-Za-z0-9_*?.-]+:[A-Za-z0-9_*?.-]+)$/;
/** IAM stores Sids of identity and trust policies only when alphanumeric. */
const SID = /^[0-9A-Za-z]*$/;
const ACCOUNT_ID = /^\d{12}$/;
/** Principals IAM accepts in `"AWS"`: account root, users, roles, role sessions, federated users. */
const AWS_PRINCIPAL_ARN =
  /^arn:aws[a-z-]*:(iam::\d{12}:(root|user\/[^*]+|role\/[^*]+)|sts::\d{12}:(assumed-role\/[^*/]+\/[^*]+|federated-user\/[^*]+))$/;
const SERVICE_PRINCIPAL = /^[a-z0-9][a-z0-9.-]*$/;

const SYNTAX = "Syntax errors in policy.";

/** True for kinds whose statements name a Principal (resource-based policies). */
export function isResourceBasedKind(kind: PolicyKind): boolean {
  return kind === "trust" || kind === "resource";
}

/**
 * Parses and validates a policy document written as JSON text (or already parsed
 * JSON). Text with a key written twice in one object is refused: JSON.parse would keep the
 * last while a reader of the stored text sees the first. Throws {@link MalformedPolicyDocumentError} for anything IAM would
 * reject, and {@link PolicySizeLimitExceededError} when the document is too large
 * for `kind`; never anything else.
 */
export function parsePolicyDocument(source: string | unknown, kind: PolicyKind): PolicyDocument {
  let text: string;
  let json: unknown;
  if (typeof source === "string") {
    text = source;
  } else {
    try {
      text = JSON.stringify(source) ?? "";
    } catch {
      throw new MalformedPolicyDocumentError(`${SYNTAX} The document is not JSON-serialisable.`);
    }
  }
  const limit = POLICY_SIZE_LIMITS[kind];
  const size = policySize(text);
  if (size > limit) throw new PolicySizeLimitExceededError(limit, size);
  if (typeof source === "string") {
    try {
      json = JSON.parse(source);
    } catch (error) {
      const reason = error instanceof Error ? ` ${error.message}.` : "";
      throw new MalformedPolicyDocumentError(`${SYNTAX} The document is not valid JSON:${reason}`);
    }
    const duplicate = findDuplicateKey(source);
    if (duplicate !== undefined) {
      const where = duplicate.path === "" ? "the document" : duplicate.path;
      throw new MalformedPolicyDocumentError(
        `${SYNTAX} Duplicate key ${JSON.stringify(duplicate.key)} in ${where}; write each key once.`,
        duplicate.path === "" ? duplicate.key : `${duplicate.path}.${duplicate.key}`,
      );
    }
  } else {
    json = source;
  }
  return readDocument(json, kind);
}

function readDocument(json: unknown, kind: PolicyKind): PolicyDocument {
  if (!isObject(json)) {
    throw new MalformedPolicyDocumentError(`${SYNTAX} A policy document must be a JSON object.`);
  }
  for (const key of Object.keys(json)) {
    if (!TOP_LEVEL_FIELDS.has(key)) {
      throw new MalformedPolicyDocumentError(
        `${SYNTAX} Unknown field ${key}; a policy has Version, Id and Statement.`,
        key,
      );
    }
  }
  const versionValue = field(json, "Version");
  let version: PolicyVersion = "2008-10-17";
  if (versionValue !== undefined) {
    const known = POLICY_VERSIONS.find((v) => v === versionValue);
    if (known === undefined) {
      throw new MalformedPolicyDocumentError(
        `The policy failed legacy parsing. Version must be "2012-10-17" or "2008-10-17", not ${JSON.stringify(versionValue)}.`,
        "Version",
      );
    }
    version = known;
  }
  const idValue = field(json, "Id");
  if (idValue !== undefined && typeof idValue !== "string") {
    throw new MalformedPolicyDocumentError(`${SYNTAX} Id must be a string.`, "Id");
  }
  const statementValue = field(json, "Statement");
  if (statementValue === undefined) {
    throw new MalformedPolicyDocumentError("Missing required field Statement", "Statement");
  }
  const rawStatements = Array.isArray(statementValue) ? statementValue : [statementValue];
  if (rawStatements.length === 0) {
    throw new MalformedPolicyDocumentError(`${SYNTAX} Statement must not be empty.`, "Statement");
  }
  const statements: PolicyStatement[] = [];
  const sids = new Set<string>();
  rawStatements.forEach((raw: unknown, index) => {
    const statement = readStatement(raw, `Statement[${index}]`, kind);
    if (statement.sid !== undefined && statement.sid !== "") {
      if (sids.has(statement.sid)) {
        throw new MalformedPolicyDocumentError(
          `Statement IDs (SID) in a single policy must be unique. "${statement.sid}" is used twice.`,
          `Statement[${index}].Sid`,
        );
      }
      sids.add(statement.sid);
    }
    statements.push(statement);
  });
  return {
    version,
    versionSpecified: versionValue !== undefined,
    id: idValue,
    statements,
  };
}

function readStatement(raw: unknown, path: string, kind: PolicyKind): PolicyStatement {
  if (!isObject(raw)) {
    throw new MalformedPolicyDocumentError(`${SYNTAX} ${path} must be a JSON object.`, path);
  }
  for (const key of Object.keys(raw)) {
    if (!STATEMENT_FIELDS.has(key)) {
      throw new MalformedPolicyDocumentError(`${SYNTAX} Unknown field ${key} in ${path}.`, `${path}.${key}`);
    }
  }
  const resourceBased = isResourceBasedKind(kind);

  const sidValue = field(raw, "Sid");
  if (sidValue !== undefined) {
    if (typeof sidValue !== "string") {
      throw new MalformedPolicyDocumentError(`${SYNTAX} ${path}.Sid must be a string.`, `${path}.Sid`);
    }
    if (kind !== "resource" && !SID.test(sidValue)) {
      throw new MalformedPolicyDocumentError(
        "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        `${path}.Sid`,
      );
    }
  }

  const effectValue = field(raw, "Effect");
  if (effectValue === undefined)
    throw new MalformedPolicyDocumentError("Missing required field Effect", `${path}.Effect`);
  if (effectValue !== "Allow" && effectValue !== "Deny") {
    throw new MalformedPolicyDocumentError(
      `${SYNTAX} ${path}.Effect must be "Allow" or "Deny", not ${JSON.stringify(effectValue)}.`,
      `${path}.Effect`,
    );
  }

  const principalValue = field(raw, "Principal");
  const notPrincipalValue = field(raw, "NotPrincipal");
  let principal: PrincipalElement | undefined;
  let notPrincipal: PrincipalElement | undefined;
  if (!resourceBased) {
    if (principalValue !== undefined || notPrincipalValue !== undefined) {
      throw new MalformedPolicyDocumentError(
        "Policy document should not specify a principal.",
        `${path}.${principalValue !== undefined ? "Principal" : "NotPrincipal"}`,
      );
    }
  } else {
    if (principalValue !== undefined && notPrincipalValue !== undefined) {
      throw new MalformedPolicyDocumentError(
        `${SYNTAX} ${path} has both Principal and NotPrincipal; use one.`,
        `${path}.NotPrincipal`,
      );
    }
    if (principalValue === undefined && notPrincipalValue === undefined) {
      throw new MalformedPolicyDocumentError("Missing required field Principal", `${path}.Principal`);
    }
    if (principalValue !== undefined) principal = readPrincipal(principalValue, `${path}.Principal`);
    if (notPrincipalValue !== undefined)
      notPrincipal = readPrincipal(notPrincipalValue, `${path}.NotPrincipal`);
  }

  const [action, notAction] = readActions(raw, path, kind);
  const [resource, notResource] = readResources(raw, path, kind);
  const conditionValue = field(raw, "Condition");
  const conditions = conditionValue === undefined ? [] : readConditions(conditionValue, `${path}.Condition`);

  return {
    sid: sidValue,
    effect: effectValue,
    principal,
    notPrincipal,
    action,
    notAction,
    resource,
    notResource,
    conditions,
  };
}

type Pair = [readonly string[] | undefined, readonly string[] | undefined];

function readActions(raw: Record<string, unknown>, path: string, kind: PolicyKind): Pair {
  const actionValue = field(raw, "Action");
  const notActionValue = field(raw, "NotAction");
  if (actionValue !== undefined && notActionValue !== undefined) {
    throw new MalformedPolicyDocumentError(
      `${SYNTAX} ${path} has both Action and NotAction; use one.`,
      `${path}.NotAction`,
    );
  }
  const name = actionValue !== undefined ? "Action" : "NotAction";
  const value = actionValue ?? notActionValue;
  const list = value === undefined ? [] : stringList(value, `${path}.${name}`);
  if (list.length === 0)
    throw new MalformedPolicyDocumentError("Policy statement must contain actions.", `${path}.Action`);
  for (const action of list) {
    if (!ACTION.test(action)) {
      throw new MalformedPolicyDocumentError(
        `Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Action "${action}" must look like "service:ActionName" or "*".`,
        `${path}.${name}`,
      );
    }
    if (kind === "trust" && name === "Action" && !/^(\*|(sts|\*):.*)$/i.test(action)) {
      throw new MalformedPolicyDocumentError(
        `AssumeRole policy may only specify STS AssumeRole actions. "${action}" is not an sts: action.`,
        `${path}.Action`,
      );
    }
  }
  return name === "Action" ? [list, undefined] : [undefined, list];
}

function readResources(raw: Record<string, unknown>, path: string, kind: PolicyKind): Pair {
  const resourceValue = field(raw, "Resource");
  const notResourceValue = field(raw, "NotResource");
  if (kind === "trust") {
    // A trust policy is attached to the role, which is its resource.
    if (resourceValue !== undefined)
      throw new MalformedPolicyDocumentError("Has prohibited field Resource", `${path}.Resource`);
    if (notResourceValue !== undefined) {
      throw new MalformedPolicyDocumentError("Has prohibited field NotResource", `${path}.NotResource`);
    }
    return [undefined, undefined];
  }
  if (resourceValue !== undefined && notResourceValue !== undefined) {
    throw new MalformedPolicyDocumentError(
      `${SYNTAX} ${path} has both Resource and NotResource; use one.`,
      `${path}.NotResource`,
    );
  }
  const name = resourceValue !== undefined ? "Resource" : "NotResource";
  const value = resourceValue ?? notResourceValue;
  const list = value === undefined ? [] : stringList(value, `${path}.${name}`);
  if (list.length === 0)
    throw new MalformedPolicyDocumentError("Policy statement must contain resources.", `${path}.Resource`);
  for (const resource of list) {
    if (resource !== "*" && !resource.startsWith("arn:")) {
      throw new MalformedPolicyDocumentError(
        `Resource ${resource} must be in ARN format or "*".`,
        `${path}.${name}`,
      );
    }
  }
  return name === "Resource" ? [list, undefined] : [undefined, list];
}

function readPrincipal(value: unknown, path: string): PrincipalElement {
  if (value === "*") return "*";
  if (!isObject(value) || Object.keys(value).length === 0) {
    throw new MalformedPolicyDocumentError(
      `Invalid principal in policy: ${JSON.stringify(value) ?? String(value)}. Use "*" or an object such as {"AWS": "arn:aws:iam::123456789012:root"}.`,
      path,
    );
  }
  const out: { AWS?: string[]; Service?: string[]; Federated?: string[]; CanonicalUser?: string[] } = {};
  for (const key of Object.keys(value)) {
    const type = PRINCIPAL_TYPES.find((t) => t === key);
    if (type === undefined) {
      throw new MalformedPolicyDocumentError(
        `Invalid principal in policy: "${key}". Principal types are AWS, Service, Federated and CanonicalUser.`,
        `${path}.${key}`,
      );
    }
    const list = stringList(value[key], `${path}.${key}`);
    if (list.length === 0) {
      throw new MalformedPolicyDocumentError(`Invalid principal in policy: "${key}":[]`, `${path}.${key}`);
    }
    for (const id of list) {
      const valid =
        type === "AWS"
          ? id === "*" || ACCOUNT_ID.test(id) || AWS_PRINCIPAL_ARN.test(id)
          : type === "Service"
            ? id === "*" || SERVICE_PRINCIPAL.test(id)
            : id !== "" && !/\s/.test(id);
      if (!valid) {
        throw new MalformedPolicyDocumentError(
          `Invalid principal in policy: "${key}":"${id}"`,
          `${path}.${key}`,
        );
      }
    }
    out[type] = list;
  }
  return out;
}

function readConditions(value: unknown, path: string): ConditionEntry[] {
  if (!isObject(value)) {
    throw new MalformedPolicyDocumentError(
      `${SYNTAX} ${path} must be an object of operator -> key -> value(s).`,
      path,
    );
  }
  const out: ConditionEntry[] = [];
  for (const operator of Object.keys(value)) {
    const block = value[operator];
    const blockPath = `${path}.${operator}`;
    const parsed = parseOperator(operator);
    if (parsed === undefined) {
      throw new MalformedPolicyDocumentError(`Invalid Condition type : ${operator}`, blockPath);
    }
    if (!isObject(block)) {
      throw new MalformedPolicyDocumentError(
        `${SYNTAX} ${blockPath} must be an object of key -> value(s).`,
        blockPath,
      );
    }
    for (const key of Object.keys(block)) {
      const keyPath = `${blockPath}.${key}`;
      if (!/^[^:\s]+:./.test(key)) {
        throw new MalformedPolicyDocumentError(
          `Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc. Condition key "${key}" must look like "aws:SourceIp".`,
          keyPath,
        );
      }
      const raw = block[key];
      const items = Array.isArray(raw) ? raw : [raw];
      if (items.length === 0) {
        throw new MalformedPolicyDocumentError(`${SYNTAX} ${keyPath} has no values.`, keyPath);
      }
      const values: string[] = [];
      for (const item of items) {
        if (typeof item === "string") values.push(item);
        else if (typeof item === "boolean" || (typeof item === "number" && Number.isFinite(item)))
          values.push(String(item));
        else {
          throw new MalformedPolicyDocumentError(
            `${SYNTAX} ${keyPath} values must be strings, numbers or booleans.`,
            keyPath,
          );
        }
      }
      const problem = parsed.family.validate(values);
      if (problem !== undefined) {
        throw new MalformedPolicyDocumentError(`${SYNTAX} ${keyPath}: ${problem}`, keyPath);
      }
      out.push({ operator, key, values });
    }
  }
  return out;
}

function stringList(value: unknown, path: string): string[] {
  if (typeof value === "string") return [value];
  if (Array.isArray(value) && value.every((v): v is string => typeof v === "string")) return [...value];
  throw new MalformedPolicyDocumentError(`${SYNTAX} ${path} must be a string or an array of strings.`, path);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Own property only: a document with `"__proto__"` or `"constructor"` keys must not reach prototypes. */
function field(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}
