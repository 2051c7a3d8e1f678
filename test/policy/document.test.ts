/**
 * Validation on write: every malformed shape gives MalformedPolicyDocumentError
 * with IAM's wording, and sizes are limited per policy kind.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html#reference_iam-quotas-entity-length
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  compilePolicy,
  MalformedPolicyDocumentError,
  POLICY_SIZE_LIMITS,
  type PolicyKind,
  PolicySizeLimitExceededError,
  parsePolicyDocument,
  policySize,
} from "../../src/policy/index.js";

const V = "2012-10-17";
const OK: Record<string, unknown> = { Effect: "Allow", Action: "rds-db:connect", Resource: "*" };
const TRUST_OK: Record<string, unknown> = {
  Effect: "Allow",
  Principal: { AWS: "123456789012" },
  Action: "sts:AssumeRole",
};
const withStatement = (statement: unknown) => ({ Version: V, Statement: statement });
const identity = (patch: Record<string, unknown>) => withStatement({ ...OK, ...patch });
const without = (statement: Record<string, unknown>, key: string) =>
  Object.fromEntries(Object.entries(statement).filter(([k]) => k !== key));
const trust = (patch: Record<string, unknown>) => withStatement({ ...TRUST_OK, ...patch });
const condition = (c: unknown) => identity({ Condition: c });

interface BadCase {
  readonly name: string;
  readonly source: unknown;
  readonly kind?: PolicyKind;
  readonly message: RegExp;
  readonly path?: string;
}

const bad: BadCase[] = [
  { name: "not JSON", source: "{", message: /^Syntax errors in policy\. The document is not valid JSON/ },
  {
    name: "top level is an array",
    source: "[]",
    message: /^Syntax errors in policy\. A policy document must be a JSON object\.$/,
  },
  { name: "top level is null", source: "null", message: /^Syntax errors in policy\./ },
  {
    name: "unknown top-level field",
    source: { Version: V, Statements: [OK] },
    message: /Unknown field Statements/,
    path: "Statements",
  },
  {
    name: "__proto__ as a field",
    source: '{"__proto__": {}, "Statement": []}',
    message: /Unknown field __proto__/,
  },
  {
    name: "unknown Version",
    source: { Version: "2012-10-18", Statement: OK },
    message: /^The policy failed legacy parsing/,
    path: "Version",
  },
  {
    name: "Version as a number",
    source: { Version: 2012, Statement: OK },
    message: /^The policy failed legacy parsing/,
  },
  {
    name: "Id not a string",
    source: { Version: V, Id: 1, Statement: OK },
    message: /^Syntax errors in policy\. Id must be a string/,
  },
  { name: "missing Statement", source: { Version: V }, message: /^Missing required field Statement$/ },
  {
    name: "empty Statement array",
    source: withStatement([]),
    message: /^Syntax errors in policy\. Statement must not be empty/,
  },
  {
    name: "statement is a string",
    source: withStatement(["Allow"]),
    message: /Statement\[0\] must be a JSON object/,
  },
  {
    name: "unknown statement field",
    source: identity({ Actions: "x:y" }),
    message: /Unknown field Actions in Statement\[0\]/,
  },
  {
    name: "missing Effect",
    source: withStatement(without(OK, "Effect")),
    message: /^Missing required field Effect$/,
    path: "Statement[0].Effect",
  },
  {
    name: "Effect in lower case",
    source: identity({ Effect: "allow" }),
    message: /Effect must be "Allow" or "Deny", not "allow"/,
  },
  {
    name: "Effect not a string",
    source: identity({ Effect: true }),
    message: /Effect must be "Allow" or "Deny"/,
  },
  {
    name: "Principal in an identity policy",
    source: identity({ Principal: "*" }),
    message: /^Policy document should not specify a principal\.$/,
  },
  {
    name: "NotPrincipal in an identity policy",
    source: identity({ NotPrincipal: { AWS: "*" } }),
    message: /^Policy document should not specify a principal\.$/,
  },
  {
    name: "Principal in a session policy",
    source: identity({ Principal: "*" }),
    kind: "session",
    message: /^Policy document should not specify a principal\.$/,
  },
  {
    name: "missing Action",
    source: withStatement(without(OK, "Action")),
    message: /^Policy statement must contain actions\.$/,
  },
  {
    name: "empty Action list",
    source: identity({ Action: [] }),
    message: /^Policy statement must contain actions\.$/,
  },
  {
    name: "Action and NotAction",
    source: identity({ NotAction: "s3:*" }),
    message: /has both Action and NotAction/,
  },
  {
    name: "Action without vendor",
    source: identity({ Action: "connect" }),
    message: /^Actions\/Conditions must be prefaced by a vendor/,
  },
  {
    name: "Action with empty name",
    source: identity({ Action: "rds-db:" }),
    message: /^Actions\/Conditions must be prefaced by a vendor/,
  },
  {
    name: "Action with a space",
    source: identity({ Action: "rds-db:con nect" }),
    message: /^Actions\/Conditions must be prefaced by a vendor/,
  },
  {
    name: "Action as a number",
    source: identity({ Action: 7 }),
    message: /Action must be a string or an array of strings/,
  },
  {
    name: "Action list with a number",
    source: identity({ Action: ["s3:*", 7] }),
    message: /Action must be a string or an array of strings/,
  },
  {
    name: "missing Resource",
    source: withStatement(without(OK, "Resource")),
    message: /^Policy statement must contain resources\.$/,
  },
  {
    name: "empty Resource list",
    source: identity({ Resource: [] }),
    message: /^Policy statement must contain resources\.$/,
  },
  {
    name: "Resource and NotResource",
    source: identity({ NotResource: "*" }),
    message: /has both Resource and NotResource/,
  },
  {
    name: "Resource not an ARN",
    source: identity({ Resource: "dbuser/jane" }),
    message: /^Resource dbuser\/jane must be in ARN format or "\*"\.$/,
  },
  {
    name: "Resource as an object",
    source: identity({ Resource: { arn: "x" } }),
    message: /Resource must be a string or an array/,
  },
  {
    name: "Sid with a space",
    source: identity({ Sid: "allow connect" }),
    message: /^Statement IDs \(SID\) must be alpha-numeric/,
  },
  { name: "Sid not a string", source: identity({ Sid: 1 }), message: /Sid must be a string/ },
  {
    name: "duplicate Sid",
    source: withStatement([
      { ...OK, Sid: "A" },
      { ...OK, Sid: "A" },
    ]),
    message: /^Statement IDs \(SID\) in a single policy must be unique/,
    path: "Statement[1].Sid",
  },
  { name: "Condition is a string", source: condition("x"), message: /Condition must be an object/ },
  {
    name: "unknown operator",
    source: condition({ StringEqual: { "aws:username": "x" } }),
    message: /^Invalid Condition type : StringEqual$/,
  },
  {
    name: "NullIfExists",
    source: condition({ NullIfExists: { "aws:username": "true" } }),
    message: /^Invalid Condition type : NullIfExists$/,
  },
  {
    name: "ForAnyValue:Null",
    source: condition({ "ForAnyValue:Null": { "aws:username": "true" } }),
    message: /^Invalid Condition type/,
  },
  {
    name: "unknown set qualifier",
    source: condition({ "ForSomeValues:StringEquals": { "aws:username": "x" } }),
    message: /^Invalid Condition type/,
  },
  {
    name: "operator block is a string",
    source: condition({ StringEquals: "x" }),
    message: /StringEquals must be an object of key -> value/,
  },
  {
    name: "condition key without vendor",
    source: condition({ StringEquals: { username: "x" } }),
    message: /^Actions\/Conditions must be prefaced by a vendor/,
    path: "Statement[0].Condition.StringEquals.username",
  },
  {
    name: "condition value is an object",
    source: condition({ StringEquals: { "aws:username": { a: 1 } } }),
    message: /values must be strings, numbers or booleans/,
  },
  {
    name: "condition value is null",
    source: condition({ StringEquals: { "aws:username": null } }),
    message: /values must be strings, numbers or booleans/,
  },
  {
    name: "condition value list is empty",
    source: condition({ StringEquals: { "aws:username": [] } }),
    message: /has no values/,
  },
  {
    name: "Numeric with text",
    source: condition({ NumericLessThan: { "s3:max-keys": "ten" } }),
    message: /"ten" is not a number/,
  },
  {
    name: "Date with text",
    source: condition({ DateLessThan: { "aws:CurrentTime": "yesterday" } }),
    message: /"yesterday" is not an ISO 8601 date/,
  },
  {
    name: "IP prefix too long",
    source: condition({ IpAddress: { "aws:SourceIp": "10.0.0.0/33" } }),
    message: /"10.0.0.0\/33" is not an IPv4 or IPv6/,
  },
  {
    name: "IP octet too large",
    source: condition({ IpAddress: { "aws:SourceIp": "300.1.1.1" } }),
    message: /is not an IPv4 or IPv6/,
  },
  {
    name: "IPv6 with two ::",
    source: condition({ NotIpAddress: { "aws:SourceIp": "2001::db8::1" } }),
    message: /is not an IPv4 or IPv6/,
  },
  {
    name: "Bool with yes",
    source: condition({ Bool: { "aws:SecureTransport": "yes" } }),
    message: /"yes" is not "true" or "false"/,
  },
  {
    name: "BinaryEquals not base64",
    source: condition({ BinaryEquals: { "x:blob": "***" } }),
    message: /"\*\*\*" is not base64/,
  },
  {
    name: "Null with maybe",
    source: condition({ Null: { "aws:username": "maybe" } }),
    message: /Null takes "true"/,
  },
  {
    name: "trust policy without Principal",
    source: withStatement(without(TRUST_OK, "Principal")),
    kind: "trust",
    message: /^Missing required field Principal$/,
  },
  {
    name: "trust policy with Resource",
    source: trust({ Resource: "*" }),
    kind: "trust",
    message: /^Has prohibited field Resource$/,
  },
  {
    name: "trust policy with NotResource",
    source: trust({ NotResource: "*" }),
    kind: "trust",
    message: /^Has prohibited field NotResource$/,
  },
  {
    name: "trust policy with a non-STS action",
    source: trust({ Action: "s3:GetObject" }),
    kind: "trust",
    message: /^AssumeRole policy may only specify STS AssumeRole actions\./,
  },
  {
    name: "AWS principal that is a bare name",
    source: trust({ Principal: { AWS: "jane" } }),
    kind: "trust",
    message: /^Invalid principal in policy: "AWS":"jane"$/,
  },
  {
    name: "AWS principal with a wildcard",
    source: trust({ Principal: { AWS: "arn:aws:iam::123456789012:user/*" } }),
    kind: "trust",
    message: /^Invalid principal in policy: "AWS":"arn:aws:iam::123456789012:user\/\*"$/,
  },
  {
    name: "unknown principal type",
    source: trust({ Principal: { Foo: "x" } }),
    kind: "trust",
    message: /^Invalid principal in policy: "Foo"/,
  },
  {
    name: "principal string other than *",
    source: trust({ Principal: "everyone" }),
    kind: "trust",
    message: /^Invalid principal in policy: "everyone"/,
  },
  {
    name: "empty principal list",
    source: trust({ Principal: { AWS: [] } }),
    kind: "trust",
    message: /^Invalid principal in policy: "AWS":\[\]$/,
  },
  {
    name: "empty principal object",
    source: trust({ Principal: {} }),
    kind: "trust",
    message: /^Invalid principal in policy/,
  },
  {
    name: "service principal with a space",
    source: trust({ Principal: { Service: "ec2 service" } }),
    kind: "trust",
    message: /^Invalid principal in policy: "Service"/,
  },
  {
    name: "Principal and NotPrincipal",
    source: trust({ NotPrincipal: { AWS: "123456789012" } }),
    kind: "trust",
    message: /has both Principal and NotPrincipal/,
  },
  {
    name: "resource policy without Resource",
    source: withStatement({ Effect: "Allow", Principal: "*", Action: "s3:GetObject" }),
    kind: "resource",
    message: /^Policy statement must contain resources\.$/,
  },
  {
    name: "not JSON-serialisable input",
    source: { Version: V, Statement: { ...OK, x: 1n } },
    message: /not JSON-serialisable/,
  },
];

describe("malformed documents", () => {
  for (const c of bad) {
    test(c.name, () => {
      const source = typeof c.source === "string" ? c.source : c.source;
      assert.throws(
        () => parsePolicyDocument(source, c.kind ?? "identity-managed"),
        (error: unknown) => {
          assert.ok(error instanceof MalformedPolicyDocumentError, `got ${String(error)}`);
          assert.equal(error.code, "MalformedPolicyDocument");
          assert.match(error.message, c.message);
          if (c.path !== undefined) assert.equal(error.path, c.path);
          return true;
        },
      );
    });
  }
});

/** A document of exactly `size` non-whitespace characters for `kind`, padded through the Sid. */
function documentOfSize(kind: PolicyKind, size: number, pretty = false): string {
  const statement: Record<string, unknown> =
    kind === "trust"
      ? { Sid: "", ...TRUST_OK }
      : kind === "resource"
        ? { Sid: "", Effect: "Allow", Principal: "*", Action: "s3:GetObject", Resource: "*" }
        : { Sid: "", ...OK };
  const base = JSON.stringify(withStatement(statement));
  statement.Sid = "A".repeat(size - policySize(base));
  const text = JSON.stringify(withStatement(statement), null, pretty ? 4 : undefined);
  assert.equal(policySize(text), size);
  return text;
}

describe("size limits", () => {
  test("the limits are IAM's", () => {
    assert.deepEqual(POLICY_SIZE_LIMITS, {
      "identity-managed": 6144,
      "identity-inline-user": 2048,
      "identity-inline-role": 10240,
      "identity-inline-group": 5120,
      session: 2048,
      trust: 2048,
      resource: 20480,
    });
  });

  for (const [kind, limit] of Object.entries(POLICY_SIZE_LIMITS) as [PolicyKind, number][]) {
    test(`${kind}: ${limit} characters accepted`, () => {
      assert.doesNotThrow(() => parsePolicyDocument(documentOfSize(kind, limit), kind));
    });
    test(`${kind}: ${limit + 1} characters rejected with LimitExceeded`, () => {
      assert.throws(
        () => parsePolicyDocument(documentOfSize(kind, limit + 1), kind),
        (error: unknown) => {
          assert.ok(error instanceof PolicySizeLimitExceededError);
          assert.ok(error instanceof MalformedPolicyDocumentError);
          assert.equal(error.code, "LimitExceeded");
          assert.equal(error.limit, limit);
          assert.equal(error.size, limit + 1);
          assert.match(error.message, new RegExp(`^Cannot exceed quota for PolicySize: ${limit}\\.`));
          return true;
        },
      );
    });
  }

  test("white space does not count", () => {
    const text = documentOfSize("identity-inline-user", 2048, true);
    assert.ok(text.length > 2100);
    assert.doesNotThrow(() => parsePolicyDocument(text, "identity-inline-user"));
  });

  test("an inline user policy that fits a managed policy is still too big inline", () => {
    const text = documentOfSize("identity-managed", 3000);
    assert.doesNotThrow(() => parsePolicyDocument(text, "identity-managed"));
    assert.throws(() => parsePolicyDocument(text, "identity-inline-user"), PolicySizeLimitExceededError);
  });

  test("parsed JSON input is measured as compact JSON", () => {
    const json = JSON.parse(documentOfSize("session", 2049)) as unknown;
    assert.throws(() => parsePolicyDocument(json, "session"), PolicySizeLimitExceededError);
  });
});

describe("valid documents", () => {
  test("normalises single values to lists and keeps the shape", () => {
    const parsed = parsePolicyDocument(
      JSON.stringify({
        Version: V,
        Id: "db-access",
        Statement: {
          Sid: "Connect",
          Effect: "Allow",
          Action: "rds-db:connect",
          Resource: "arn:aws:rds-db:us-east-1:123456789012:dbuser:*/jane",
          Condition: { NumericLessThan: { "x:n": 5 }, Bool: { "aws:SecureTransport": true } },
        },
      }),
      "identity-inline-user",
    );
    assert.deepEqual(parsed, {
      version: V,
      versionSpecified: true,
      id: "db-access",
      statements: [
        {
          sid: "Connect",
          effect: "Allow",
          principal: undefined,
          notPrincipal: undefined,
          action: ["rds-db:connect"],
          notAction: undefined,
          resource: ["arn:aws:rds-db:us-east-1:123456789012:dbuser:*/jane"],
          notResource: undefined,
          conditions: [
            { operator: "NumericLessThan", key: "x:n", values: ["5"] },
            { operator: "Bool", key: "aws:SecureTransport", values: ["true"] },
          ],
        },
      ],
    });
  });

  test("a document without Version is 2008-10-17", () => {
    const parsed = parsePolicyDocument({ Statement: OK }, "identity-managed");
    assert.equal(parsed.version, "2008-10-17");
    assert.equal(parsed.versionSpecified, false);
  });

  test("Version 2008-10-17 written out", () => {
    const parsed = parsePolicyDocument({ Version: "2008-10-17", Statement: OK }, "identity-managed");
    assert.equal(parsed.version, "2008-10-17");
    assert.equal(parsed.versionSpecified, true);
  });

  test("text and parsed JSON give the same document", () => {
    const source = withStatement([OK, { ...OK, Effect: "Deny", NotAction: "iam:*", Action: undefined }]);
    assert.deepEqual(
      parsePolicyDocument(JSON.stringify(source), "identity-managed"),
      parsePolicyDocument(JSON.parse(JSON.stringify(source)), "identity-managed"),
    );
  });

  test("trust policy principals", () => {
    const parsed = parsePolicyDocument(
      trust({
        Principal: {
          AWS: ["123456789012", "arn:aws:iam::123456789012:role/path/R"],
          Service: "ec2.amazonaws.com",
        },
      }),
      "trust",
    );
    assert.deepEqual(parsed.statements[0]?.principal, {
      AWS: ["123456789012", "arn:aws:iam::123456789012:role/path/R"],
      Service: ["ec2.amazonaws.com"],
    });
  });

  test("resource policies allow any Sid text", () => {
    assert.doesNotThrow(() =>
      parsePolicyDocument(
        withStatement({
          Sid: "Allow from CI",
          Effect: "Allow",
          Principal: "*",
          Action: "s3:*",
          Resource: "*",
        }),
        "resource",
      ),
    );
  });

  const operators = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
  ];
  test("every string and ARN operator, with IfExists and set qualifiers", () => {
    for (const base of operators) {
      for (const name of [base, `${base}IfExists`, `ForAnyValue:${base}`, `ForAllValues:${base}IfExists`]) {
        assert.doesNotThrow(
          () => parsePolicyDocument(condition({ [name]: { "aws:x": "arn:aws:s3:::b" } }), "identity-managed"),
          name,
        );
      }
    }
  });

  test("numeric, date, bool, binary, IP and Null operators with valid values", () => {
    const c = {
      NumericEquals: { "x:n": "1" },
      NumericNotEqualsIfExists: { "x:n": "-1.5" },
      DateGreaterThan: {
        "aws:CurrentTime": ["2020-01-01T00:00:00Z", "2020-01-01", "1577836800", "2020-01-01T00:00:00+05:30"],
      },
      Bool: { "aws:SecureTransport": ["true", "FALSE"] },
      BinaryEquals: { "x:b": "QmluYXJ5VmFsdWVJbkJhc2U2NA==" },
      IpAddress: {
        "aws:SourceIp": ["10.0.0.0/8", "203.0.113.5", "2001:DB8:1234:5678::/64", "::1", "::ffff:10.0.0.1"],
      },
      Null: { "aws:TokenIssueTime": "true" },
    };
    assert.doesNotThrow(() => parsePolicyDocument(condition(c), "identity-managed"));
  });

  test("operator names are matched without regard to case", () => {
    assert.doesNotThrow(() =>
      parsePolicyDocument(condition({ stringequals: { "aws:x": "y" } }), "identity-managed"),
    );
  });

  test("compilePolicy keeps name, id and kind", () => {
    const compiled = compilePolicy(identity({}), {
      kind: "identity-managed",
      name: "DbConnect",
      id: "arn:aws:iam::123456789012:policy/DbConnect",
    });
    assert.equal(compiled.name, "DbConnect");
    assert.equal(compiled.id, "arn:aws:iam::123456789012:policy/DbConnect");
    assert.equal(compiled.kind, "identity-managed");
    assert.equal(compiled.statements.length, 1);
  });
});
