// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} inside ordinary strings.
/**
 * Property tests: the parser answers anything with a document or a
 * MalformedPolicyDocumentError, and evaluation never throws.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  type CompiledPolicy,
  compilePolicy,
  evaluate,
  evaluateTrust,
  MalformedPolicyDocumentError,
  type PolicyKind,
  parsePolicyDocument,
} from "../../src/policy/index.js";
import { compileGlobText, matchGlob } from "../../src/policy/match.js";
import { allow, deny, policy } from "./helpers.js";

const KINDS: PolicyKind[] = [
  "identity-managed",
  "identity-inline-user",
  "identity-inline-role",
  "identity-inline-group",
  "session",
  "trust",
  "resource",
];

function parsesOrRejects(source: unknown, kind: PolicyKind): void {
  try {
    parsePolicyDocument(source, kind);
  } catch (error) {
    assert.ok(error instanceof MalformedPolicyDocumentError, `threw ${String(error)}`);
  }
}

/** Policy-shaped JSON: mostly the right field names with arbitrary values. */
const fieldValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(
    "*",
    "Allow",
    "Deny",
    "rds-db:connect",
    "arn:aws:rds-db:*:*:dbuser:*/*",
    "${aws:username}",
    "sts:AssumeRole",
  ),
  fc.array(fc.string(), { maxLength: 3 }),
);
const statement = fc.dictionary(
  fc.constantFrom(
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "Other",
  ),
  fieldValue,
);
const condition = fc.dictionary(
  fc.oneof(
    fc.constantFrom(
      "StringEquals",
      "ForAllValues:StringLikeIfExists",
      "Null",
      "IpAddress",
      "DateLessThan",
      "NumericEquals",
      "Bool",
      "BinaryEquals",
      "ArnLike",
    ),
    fc.string(),
  ),
  fc.dictionary(fc.oneof(fc.constantFrom("aws:SourceIp", "aws:username"), fc.string()), fieldValue),
);
const policyShaped = fc.record(
  {
    Version: fc.oneof(fc.constantFrom("2012-10-17", "2008-10-17"), fc.jsonValue({ maxDepth: 1 })),
    Statement: fc.oneof(
      statement,
      fc.array(statement, { maxLength: 3 }),
      fc.array(
        fc.record({
          Effect: fc.constant("Allow"),
          Action: fc.constant("s3:*"),
          Resource: fc.constant("*"),
          Condition: condition,
        }),
      ),
    ),
  },
  { requiredKeys: [] },
);

test("arbitrary strings never make the parser throw anything but MalformedPolicyDocumentError", () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 300 }), fc.constantFrom(...KINDS), (text, kind) =>
      parsesOrRejects(text, kind),
    ),
    { numRuns: 500 },
  );
});

test("arbitrary JSON never makes the parser throw anything but MalformedPolicyDocumentError", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.constantFrom(...KINDS), (json, kind) => {
      parsesOrRejects(JSON.stringify(json), kind);
      parsesOrRejects(json, kind);
    }),
    { numRuns: 500 },
  );
});

test("policy-shaped JSON parses, compiles and evaluates, or is rejected as malformed", () => {
  fc.assert(
    fc.property(
      policyShaped,
      fc.constantFrom(...KINDS),
      fc.string(),
      fc.string(),
      (json, kind, action, resource) => {
        let compiled: CompiledPolicy;
        try {
          compiled = compilePolicy(json, { kind });
        } catch (error) {
          assert.ok(error instanceof MalformedPolicyDocumentError, `threw ${String(error)}`);
          return;
        }
        evaluate(
          { action, resource, context: { "aws:SourceIp": resource, "aws:username": action } },
          { identity: [compiled] },
        );
        evaluateTrust(compiled, { principalArn: resource, action });
      },
    ),
    { numRuns: 1000 },
  );
});

/** Mostly valid identity policies built from arbitrary pieces, so compiled matchers see odd input. */
const wildText = fc.stringMatching(/^[A-Za-z0-9_.+()[\]\\$^|{}*?:/-]{0,12}$/);
const actionPattern = fc.oneof(
  fc.constant("*"),
  fc
    .tuple(fc.stringMatching(/^[a-z0-9*?-]{1,8}$/), fc.stringMatching(/^[A-Za-z0-9*?]{1,10}$/))
    .map(([v, a]) => `${v}:${a}`),
);
const resourcePattern = fc.oneof(
  fc.constant("*"),
  wildText.map((t) => `arn:${t}`),
  fc
    .tuple(
      wildText,
      fc.constantFrom("${aws:username}", "${aws:PrincipalTag/x, 'd'}", "${*}", "${?}", "${$}", "${nope:x}"),
    )
    .map(([t, v]) => `arn:aws:rds-db:*:*:dbuser:${t}${v}`),
);
const KEY = fc.constantFrom(
  "aws:SourceIp",
  "aws:username",
  "aws:TagKeys",
  "aws:CurrentTime",
  "x:n",
  "x:b",
  "aws:PrincipalArn",
);
const conditionBlock = fc.oneof(
  fc.tuple(
    fc.constantFrom(
      "StringEquals",
      "StringNotLike",
      "ForAllValues:StringLike",
      "ForAnyValue:StringEqualsIgnoreCase",
      "ArnLike",
      "ArnNotEqualsIfExists",
    ),
    KEY,
    fc.array(fc.oneof(wildText, fc.constant("${aws:username}")), { minLength: 1, maxLength: 3 }),
  ),
  fc.tuple(
    fc.constantFrom("IpAddress", "NotIpAddressIfExists"),
    KEY,
    fc.constantFrom(["10.0.0.0/8"], ["::/0", "1.2.3.4"]),
  ),
  fc.tuple(
    fc.constantFrom("NumericLessThan", "NumericNotEquals"),
    KEY,
    fc.constantFrom(["5"], ["-1.5", "1e3"]),
  ),
  fc.tuple(
    fc.constantFrom("DateGreaterThan", "DateNotEqualsIfExists"),
    KEY,
    fc.constantFrom(["2020-01-01"], ["1700000000"]),
  ),
  fc.tuple(fc.constantFrom("Bool", "Null"), KEY, fc.constantFrom(["true"], ["false"])),
  fc.tuple(fc.constant("BinaryEquals"), KEY, fc.constant(["QQ=="])),
);
const generatedPolicy = fc.array(
  fc.record({
    Effect: fc.constantFrom("Allow", "Deny"),
    Action: fc.array(actionPattern, { minLength: 1, maxLength: 3 }),
    Resource: fc.array(resourcePattern, { minLength: 1, maxLength: 3 }),
    Condition: fc.array(conditionBlock, { maxLength: 3 }),
  }),
  { minLength: 1, maxLength: 4 },
);

test("generated policies evaluate arbitrary requests without throwing", () => {
  let compiledCount = 0;
  fc.assert(
    fc.property(
      generatedPolicy,
      fc.string(),
      fc.string(),
      fc.string(),
      (statements, action, resource, tag) => {
        const document = {
          Version: "2012-10-17",
          Statement: statements.map((s) => ({
            ...s,
            Condition: Object.fromEntries(s.Condition.map(([op, key, values]) => [op, { [key]: values }])),
          })),
        };
        let compiled: CompiledPolicy;
        try {
          compiled = compilePolicy(document, { kind: "identity-managed" });
        } catch (error) {
          assert.ok(error instanceof MalformedPolicyDocumentError, `threw ${String(error)}`);
          return;
        }
        compiledCount++;
        const result = evaluate(
          {
            action,
            resource,
            principal: { arn: `arn:aws:iam::123456789012:user/${tag}`, tags: { x: tag } },
            context: { "x:n": tag },
          },
          { identity: [compiled], boundary: compiled, session: [compiled] },
        );
        assert.ok(["allowed", "explicitDeny", "implicitDeny"].includes(result.decision));
      },
    ),
    { numRuns: 1000 },
  );
  // The generator is useful only if most documents are valid.
  assert.ok(compiledCount > 500, `only ${compiledCount} of 1000 generated policies compiled`);
});

const fixedPolicies = [
  policy("p", [
    allow("rds-db:*", [
      "arn:aws:rds-db:*:*:dbuser:*/${aws:username}",
      "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-*/jane_?",
    ]),
    deny("*", "*", {
      Condition: {
        NotIpAddress: { "aws:SourceIp": ["10.0.0.0/8", "2001:db8::/32"] },
        "ForAnyValue:StringLike": { "aws:TagKeys": "*${aws:PrincipalTag/x}*" },
        DateGreaterThanIfExists: { "aws:CurrentTime": "2030-01-01" },
        ArnNotLike: { "aws:PrincipalArn": "arn:aws:iam::*:user/*" },
        NumericLessThan: { "x:n": "5" },
        BinaryEquals: { "x:b": "QQ==" },
      },
    }),
    { Effect: "Allow", NotAction: "iam:*", NotResource: "arn:aws:s3:::${aws:userid}/*" },
  ]),
];
const contextValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.date(),
  fc.constant(null),
  fc.array(fc.oneof(fc.string(), fc.integer()), { maxLength: 3 }),
);

test("arbitrary action, resource, principal and context never make evaluate throw", () => {
  fc.assert(
    fc.property(
      fc.string(),
      fc.string(),
      fc.string(),
      fc.dictionary(
        fc.oneof(
          fc.constantFrom("aws:SourceIp", "aws:TagKeys", "aws:CurrentTime", "x:n", "x:b", "aws:username"),
          fc.string(),
        ),
        contextValue,
      ),
      (action, resource, arn, context) => {
        const result = evaluate(
          { action, resource, principal: { arn, tags: { x: resource } }, context },
          { identity: fixedPolicies },
        );
        assert.ok(["allowed", "explicitDeny", "implicitDeny"].includes(result.decision));
      },
    ),
    { numRuns: 1000 },
  );
});

test("a glob built from a literal string matches exactly that string", () => {
  fc.assert(
    fc.property(fc.string(), fc.string(), (a, b) => {
      const glob = compileGlobText(a.replace(/[*?]/g, ""));
      assert.equal(matchGlob(glob, b), a.replace(/[*?]/g, "") === b);
    }),
  );
});

test("`prefix*suffix` matches exactly the strings with that prefix and suffix", () => {
  const plain = fc.string().map((s) => s.replace(/[*?]/g, ""));
  fc.assert(
    fc.property(plain, plain, plain, (prefix, suffix, value) => {
      const expected =
        value.length >= prefix.length + suffix.length && value.startsWith(prefix) && value.endsWith(suffix);
      assert.equal(matchGlob(compileGlobText(`${prefix}*${suffix}`), value), expected);
    }),
  );
});
