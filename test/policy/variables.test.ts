// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} inside ordinary strings.
/**
 * Policy variables in Resource and Condition values, defaults, special
 * characters, missing keys, and the 2008-10-17 language that has no variables.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
 */
import { describe, test } from "node:test";
import { ACCOUNT, allow, BOB, checkCase, DBI, dbuser, deny, type EvalCase, JANE, policy } from "./helpers.js";

const CONNECT = "rds-db:connect";
const SESSION = { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/DbRole/ci-job`, userId: "AROAEXAMPLE:ci-job" };
const own = (resource: string, version?: string | null) => ({
  identity: [policy("own", allow(CONNECT, resource), version === undefined ? {} : { version })],
});
const OWN_USER = `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${aws:username}`;

const resourceCases: EvalCase[] = [
  {
    name: "${aws:username} in Resource matches the caller's own DB user",
    policies: own(OWN_USER),
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "${aws:username} does not match another DB user",
    policies: own(OWN_USER),
    request: { resource: dbuser("bob") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "${aws:username} for bob matches bob",
    policies: own(OWN_USER),
    request: { principal: BOB, resource: dbuser("bob") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "${aws:username} is not present for a role session: no match",
    policies: own(OWN_USER),
    request: { principal: SESSION, resource: dbuser("ci-job") },
    decision: "implicitDeny",
    matched: [],
    missingContextValues: ["aws:username"],
  },
  {
    name: "default value when the key is missing",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${aws:username, 'guest'}`),
    request: { principal: SESSION, resource: dbuser("guest") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "default is not used when the key is present",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${aws:username, 'guest'}`),
    request: { resource: dbuser("guest") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "default without a space after the comma",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${aws:username,'guest'}`),
    request: { principal: SESSION, resource: dbuser("guest") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "${aws:PrincipalTag/dbuser} from principal tags",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:*/\${aws:PrincipalTag/dbuser}`),
    request: { principal: { ...JANE, tags: { dbuser: "reporting" } }, resource: dbuser("reporting") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "${aws:PrincipalTag/dbuser} with the tag missing",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:*/\${aws:PrincipalTag/dbuser}`),
    request: { resource: dbuser("reporting") },
    decision: "implicitDeny",
    matched: [],
    missingContextValues: ["aws:PrincipalTag/dbuser"],
  },
  {
    name: "variable key names are case-insensitive (${AWS:UserName})",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${AWS:UserName}`),
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "any context key can be a variable (${aws:RequestedRegion})",
    policies: own(`arn:aws:rds-db:\${aws:RequestedRegion}:${ACCOUNT}:dbuser:${DBI}/jane_doe`),
    request: { context: { "aws:RequestedRegion": "us-east-1" } },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "${aws:userid} from the principal",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${aws:userid}`),
    request: { resource: dbuser("AIDAJANEDOE0000000001") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "${*} is a literal asterisk (matches a*b)",
    policies: own(dbuser("a${*}b")),
    request: { resource: dbuser("a*b") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "${*} is not a wildcard (does not match axb)",
    policies: own(dbuser("a${*}b")),
    request: { resource: dbuser("axb") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "${?} is a literal question mark",
    policies: own(dbuser("who${?}")),
    request: { resource: dbuser("whom") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "${$} is a literal dollar sign",
    policies: own(dbuser("cost${$}")),
    request: { resource: dbuser("cost$") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "a substituted value is literal: a tag value * is not a wildcard",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${aws:PrincipalTag/dbuser}`),
    request: { principal: { ...JANE, tags: { dbuser: "*" } } },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "a multivalued key is not a policy variable",
    policies: own(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/\${aws:TagKeys}`),
    request: { context: { "aws:TagKeys": ["jane_doe"] } },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "an unterminated ${ is ordinary text",
    policies: own(dbuser("${aws:username")),
    request: { resource: dbuser("${aws:username") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "NotResource with an unresolved variable does not apply",
    policies: {
      identity: [
        policy("all", allow(CONNECT, "*")),
        policy("d", { Effect: "Deny", Action: CONNECT, NotResource: dbuser("${aws:PrincipalTag/dbuser}") }),
      ],
    },
    decision: "allowed",
    matched: ["identity:all#0:Allow"],
    missingContextValues: ["aws:PrincipalTag/dbuser"],
  },
  {
    name: "NotResource with a resolved variable denies other users",
    policies: {
      identity: [
        policy("all", allow(CONNECT, "*")),
        policy("d", { Effect: "Deny", Action: CONNECT, NotResource: dbuser("${aws:username}") }),
      ],
    },
    request: { resource: dbuser("bob") },
    decision: "explicitDeny",
    matched: ["identity:d#0:Deny"],
  },
  {
    name: "one unresolved Resource entry does not stop another from matching",
    policies: {
      identity: [policy("own", allow(CONNECT, [dbuser("${aws:PrincipalTag/x}"), dbuser("jane_doe")]))],
    },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
    missingContextValues: ["aws:PrincipalTag/x"],
  },
];

const TEAM = "aws:PrincipalTag/team";
const conditionCases: EvalCase[] = [
  {
    name: "StringEquals principal tag = ${aws:ResourceTag/team}",
    policies: {
      identity: [
        policy(
          "c",
          allow(CONNECT, "*", { Condition: { StringEquals: { [TEAM]: "${aws:ResourceTag/team}" } } }),
        ),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "db" } }, context: { "aws:ResourceTag/team": "db" } },
    decision: "allowed",
    matched: ["identity:c#0:Allow"],
  },
  {
    name: "StringEquals principal tag = ${aws:ResourceTag/team}, different teams",
    policies: {
      identity: [
        policy(
          "c",
          allow(CONNECT, "*", { Condition: { StringEquals: { [TEAM]: "${aws:ResourceTag/team}" } } }),
        ),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "db" } }, context: { "aws:ResourceTag/team": "web" } },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "a condition value whose variable is missing does not match",
    policies: {
      identity: [
        policy(
          "c",
          allow(CONNECT, "*", { Condition: { StringEquals: { [TEAM]: "${aws:ResourceTag/team}" } } }),
        ),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "db" } } },
    decision: "implicitDeny",
    matched: [],
    missingContextValues: ["aws:ResourceTag/team"],
  },
  {
    name: "StringLike with a variable and a wildcard",
    policies: {
      identity: [
        policy(
          "c",
          allow(CONNECT, "*", { Condition: { StringLike: { "rds:DatabaseName": "${aws:username}_*" } } }),
        ),
      ],
    },
    request: { context: { "rds:DatabaseName": "jane_doe_reports" } },
    decision: "allowed",
    matched: ["identity:c#0:Allow"],
  },
  {
    name: "ArnLike with a variable",
    policies: {
      identity: [
        policy(
          "c",
          allow(CONNECT, "*", {
            Condition: { ArnEquals: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:user/\${aws:username}` } },
          }),
        ),
      ],
    },
    decision: "allowed",
    matched: ["identity:c#0:Allow"],
  },
  {
    name: "a negated operator with an unresolved variable is false (the Deny does not apply)",
    policies: {
      identity: [
        policy("all", allow(CONNECT, "*")),
        policy(
          "d",
          deny(CONNECT, "*", { Condition: { StringNotEquals: { [TEAM]: "${aws:ResourceTag/team}" } } }),
        ),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "db" } } },
    decision: "allowed",
    matched: ["identity:all#0:Allow"],
    missingContextValues: ["aws:ResourceTag/team"],
  },
  {
    name: "a negated operator with a resolved variable denies on mismatch",
    policies: {
      identity: [
        policy("all", allow(CONNECT, "*")),
        policy(
          "d",
          deny(CONNECT, "*", { Condition: { StringNotEquals: { [TEAM]: "${aws:ResourceTag/team}" } } }),
        ),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "db" } }, context: { "aws:ResourceTag/team": "web" } },
    decision: "explicitDeny",
    matched: ["identity:d#0:Deny"],
  },
  {
    name: "${aws:CurrentTime} substitutes the clock's ISO time",
    policies: {
      identity: [
        policy(
          "c",
          allow(CONNECT, "*", { Condition: { StringEquals: { "x:stamp": "${aws:CurrentTime}" } } }),
        ),
      ],
    },
    request: { now: new Date("2026-01-01T12:00:00Z"), context: { "x:stamp": "2026-01-01T12:00:00.000Z" } },
    decision: "allowed",
    matched: ["identity:c#0:Allow"],
  },
  {
    name: "a variable in a Bool value",
    policies: {
      identity: [
        policy("c", allow(CONNECT, "*", { Condition: { Bool: { "aws:SecureTransport": "${x:expected}" } } })),
      ],
    },
    request: { context: { "aws:SecureTransport": true, "x:expected": "true" } },
    decision: "allowed",
    matched: ["identity:c#0:Allow"],
  },
  {
    name: "a condition variable with a default",
    policies: {
      identity: [
        policy(
          "c",
          allow(CONNECT, "*", {
            Condition: { StringEquals: { [TEAM]: "${aws:ResourceTag/team, 'shared'}" } },
          }),
        ),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "shared" } } },
    decision: "allowed",
    matched: ["identity:c#0:Allow"],
  },
];

/** "If you don't include the Version element ... variables like ${aws:username} are treated as literal strings". */
const legacyCases: EvalCase[] = [
  {
    name: "2008-10-17: ${aws:username} is literal text, jane_doe does not match",
    policies: own(OWN_USER, "2008-10-17"),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "2008-10-17: matches a DB user literally named ${aws:username}",
    policies: own(OWN_USER, "2008-10-17"),
    request: { resource: dbuser("${aws:username}") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "no Version: same as 2008-10-17",
    policies: own(OWN_USER, null),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "no Version: the literal name matches",
    policies: own(OWN_USER, null),
    request: { resource: dbuser("${aws:username}") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "2008-10-17: ${*} is text whose * is a wildcard",
    policies: own(dbuser("${*}"), "2008-10-17"),
    request: { resource: dbuser("${anything}") },
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
  {
    name: "2008-10-17: condition values are not substituted",
    policies: {
      identity: [
        policy("c", allow(CONNECT, "*", { Condition: { StringEquals: { [TEAM]: "${aws:username}" } } }), {
          version: "2008-10-17",
        }),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "jane_doe" } } },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "2008-10-17: a condition value equal to the literal text matches",
    policies: {
      identity: [
        policy("c", allow(CONNECT, "*", { Condition: { StringEquals: { [TEAM]: "${aws:username}" } } }), {
          version: "2008-10-17",
        }),
      ],
    },
    request: { principal: { ...JANE, tags: { team: "${aws:username}" } } },
    decision: "allowed",
    matched: ["identity:c#0:Allow"],
  },
  {
    name: "2008-10-17: wildcards still work",
    policies: own(dbuser("jane_*"), "2008-10-17"),
    decision: "allowed",
    matched: ["identity:own#0:Allow"],
  },
];

for (const [title, cases] of [
  ["variables in Resource", resourceCases],
  ["variables in Condition values", conditionCases],
  ["Version 2008-10-17 has no variables", legacyCases],
] as const) {
  describe(title, () => {
    for (const c of cases)
      test(c.name, () => {
        checkCase(c);
      });
  });
}
