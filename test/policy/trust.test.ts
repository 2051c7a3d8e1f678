/**
 * Role trust policies: who may call sts:AssumeRole.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-trust-policy
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type DecisionType, evaluateTrust, type TrustRequest } from "../../src/policy/index.js";
import { ACCOUNT, compact, OTHER_ACCOUNT, policy, type Statement } from "./helpers.js";

const JANE_ARN = `arn:aws:iam::${ACCOUNT}:user/jane_doe`;
const BOB_ARN = `arn:aws:iam::${ACCOUNT}:user/bob`;
const CI_ROLE = `arn:aws:iam::${ACCOUNT}:role/ci/CiRole`;
const CI_SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/CiRole/build-42`;

const trust = (statements: Statement | Statement[]) => policy("trust", statements, { kind: "trust" });
const allowFrom = (principal: unknown, extra: Statement = {}): Statement => ({
  Effect: "Allow",
  Principal: principal,
  Action: "sts:AssumeRole",
  ...extra,
});

interface TrustCase {
  readonly name: string;
  readonly statements: Statement | Statement[];
  readonly request: TrustRequest;
  readonly decision: DecisionType;
  readonly matched: readonly string[];
  readonly requiresIdentityAllow?: boolean;
  readonly missingContextValues?: readonly string[];
}

const cases: TrustCase[] = [
  {
    name: "the named user may assume the role",
    statements: allowFrom({ AWS: JANE_ARN }),
    request: { principalArn: JANE_ARN },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "another user may not",
    statements: allowFrom({ AWS: JANE_ARN }),
    request: { principalArn: BOB_ARN },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "a bare account id means any principal of that account (identity policy must allow)",
    statements: allowFrom({ AWS: ACCOUNT }),
    request: { principalArn: BOB_ARN },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: true,
  },
  {
    name: "the account root ARN means the same",
    statements: allowFrom({ AWS: `arn:aws:iam::${ACCOUNT}:root` }),
    request: { principalArn: JANE_ARN },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: true,
  },
  {
    name: "the account root itself matches the root ARN directly",
    statements: allowFrom({ AWS: `arn:aws:iam::${ACCOUNT}:root` }),
    request: { principalArn: `arn:aws:iam::${ACCOUNT}:root` },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "a principal of another account does not match the account",
    statements: allowFrom({ AWS: ACCOUNT }),
    request: { principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:user/jane_doe` },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "Principal * allows anyone",
    statements: allowFrom("*"),
    request: { principalArn: `arn:aws:iam::${OTHER_ACCOUNT}:user/x` },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: 'Principal {"AWS": "*"} allows any AWS principal',
    statements: allowFrom({ AWS: "*" }),
    request: { principalArn: BOB_ARN },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "a list of AWS principals",
    statements: allowFrom({ AWS: [BOB_ARN, JANE_ARN] }),
    request: { principalArn: JANE_ARN },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "a service principal",
    statements: allowFrom({ Service: "ec2.amazonaws.com" }),
    request: { principalArn: "ec2.amazonaws.com", principalType: "Service" },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "a service principal does not admit IAM users",
    statements: allowFrom({ Service: "ec2.amazonaws.com" }),
    request: { principalArn: JANE_ARN },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "a role ARN admits sessions of that role (role ARN given)",
    statements: allowFrom({ AWS: CI_ROLE }),
    request: { principalArn: CI_SESSION, roleArn: CI_ROLE },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "a role ARN with a path admits its sessions (role read from the session ARN)",
    statements: allowFrom({ AWS: CI_ROLE }),
    request: { principalArn: CI_SESSION },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "a role ARN does not admit another role's sessions",
    statements: allowFrom({ AWS: CI_ROLE }),
    request: { principalArn: `arn:aws:sts::${ACCOUNT}:assumed-role/OtherRole/build-42` },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "an explicit deny for a user wins over the account allow",
    statements: [
      allowFrom({ AWS: ACCOUNT }),
      { Effect: "Deny", Principal: { AWS: BOB_ARN }, Action: "sts:AssumeRole" },
    ],
    request: { principalArn: BOB_ARN },
    decision: "explicitDeny",
    matched: ["resource:trust#1:Deny"],
  },
  {
    name: "the deny for bob does not affect jane",
    statements: [
      allowFrom({ AWS: ACCOUNT }),
      { Effect: "Deny", Principal: { AWS: BOB_ARN }, Action: "sts:AssumeRole" },
    ],
    request: { principalArn: JANE_ARN },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: true,
  },
  {
    name: "Deny NotPrincipal: everyone except jane is denied",
    statements: [
      allowFrom("*"),
      { Effect: "Deny", NotPrincipal: { AWS: JANE_ARN }, Action: "sts:AssumeRole" },
    ],
    request: { principalArn: BOB_ARN },
    decision: "explicitDeny",
    matched: ["resource:trust#1:Deny"],
  },
  {
    name: "sts:TagSession is a different action",
    statements: allowFrom({ AWS: JANE_ARN }),
    request: { principalArn: JANE_ARN, action: "sts:TagSession" },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "sts:* covers sts:TagSession",
    statements: allowFrom({ AWS: JANE_ARN }, { Action: "sts:*" }),
    request: { principalArn: JANE_ARN, action: "sts:TagSession" },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "sts:ExternalId condition satisfied",
    statements: allowFrom({ AWS: JANE_ARN }, { Condition: { StringEquals: { "sts:ExternalId": "s3cr3t" } } }),
    request: { principalArn: JANE_ARN, context: { "sts:ExternalId": "s3cr3t" } },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "sts:ExternalId condition without the key",
    statements: allowFrom({ AWS: JANE_ARN }, { Condition: { StringEquals: { "sts:ExternalId": "s3cr3t" } } }),
    request: { principalArn: JANE_ARN },
    decision: "implicitDeny",
    matched: [],
    missingContextValues: ["sts:ExternalId"],
  },
  {
    name: "MFA required in the trust policy (BoolIfExists false denies)",
    statements: [
      allowFrom({ AWS: ACCOUNT }),
      {
        Effect: "Deny",
        Principal: "*",
        Action: "sts:AssumeRole",
        Condition: { BoolIfExists: { "aws:MultiFactorAuthPresent": "false" } },
      },
    ],
    request: { principalArn: JANE_ARN },
    decision: "explicitDeny",
    matched: ["resource:trust#1:Deny"],
  },
  {
    name: "aws:PrincipalArn is available to trust conditions",
    statements: allowFrom(
      { AWS: ACCOUNT },
      { Condition: { ArnLike: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:user/jane_*` } } },
    ),
    request: { principalArn: JANE_ARN },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: true,
  },
  {
    name: "a federated principal",
    statements: allowFrom(
      { Federated: "cognito-identity.amazonaws.com" },
      { Action: "sts:AssumeRoleWithWebIdentity" },
    ),
    request: {
      principalArn: "cognito-identity.amazonaws.com",
      principalType: "Federated",
      action: "sts:AssumeRoleWithWebIdentity",
    },
    decision: "allowed",
    matched: ["resource:trust#0:Allow"],
    requiresIdentityAllow: false,
  },
  {
    name: "a Federated statement does not admit a service of the same name",
    statements: allowFrom(
      { Federated: "cognito-identity.amazonaws.com" },
      { Action: "sts:AssumeRoleWithWebIdentity" },
    ),
    request: {
      principalArn: "cognito-identity.amazonaws.com",
      principalType: "Service",
      action: "sts:AssumeRoleWithWebIdentity",
    },
    decision: "implicitDeny",
    matched: [],
  },
];

describe("evaluateTrust", () => {
  for (const c of cases) {
    test(c.name, () => {
      const result = evaluateTrust(trust(c.statements), c.request);
      assert.equal(result.decision, c.decision);
      assert.deepEqual(compact(result), [...c.matched]);
      if (c.requiresIdentityAllow !== undefined)
        assert.equal(result.requiresIdentityAllow, c.requiresIdentityAllow);
      if (c.missingContextValues !== undefined)
        assert.deepEqual(result.missingContextValues, [...c.missingContextValues]);
    });
  }
});
