/**
 * Evaluation tables from AWS's documented rules: resource and action matching for
 * rds-db:connect, deny-wins across layers, boundaries, session policies,
 * resource-based policies, NotAction / NotResource.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.IAMPolicy.html
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { evaluate } from "../../src/policy/index.js";
import {
  ACCOUNT,
  allow,
  BOB,
  checkCase,
  DBI,
  DBI2,
  dbuser,
  deny,
  type EvalCase,
  JANE,
  OTHER_ACCOUNT,
  policy,
} from "./helpers.js";

const CONNECT = "rds-db:connect";
const ALL_DB_USERS = `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:*/*`;
const one = (resource: string, action: unknown = CONNECT) => ({
  identity: [policy("p", allow(action, resource))],
});

/** Resource ARN matching: wildcards, case, literal punctuation. */
const resourceCases: EvalCase[] = [
  {
    name: "exact DB-user ARN",
    policies: one(dbuser("jane_doe")),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "exact ARN for another DB user does not match",
    policies: one(dbuser("bob")),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "dbuser:*/* matches any instance and user",
    policies: one(ALL_DB_USERS),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "dbuser:*/* on another instance",
    policies: one(ALL_DB_USERS),
    request: { resource: dbuser("admin", DBI2) },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "dbuser:DBI/jane_* matches jane_doe",
    policies: one(dbuser("jane_*")),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "dbuser:DBI/jane_* matches jane_ (star matches nothing)",
    policies: one(dbuser("jane_*")),
    request: { resource: dbuser("jane_") },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "dbuser:DBI/jane_* does not match jane",
    policies: one(dbuser("jane_*")),
    request: { resource: dbuser("jane") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "dbuser:DBI/jane_* does not match the same user on another instance",
    policies: one(dbuser("jane_*")),
    request: { resource: dbuser("jane_doe", DBI2) },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "DB user name is case-sensitive (Jane_Doe vs jane_doe)",
    policies: one(dbuser("jane_doe")),
    request: { resource: dbuser("Jane_Doe") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "DB user wildcard is case-sensitive (JANE_* vs jane_doe)",
    policies: one(dbuser("JANE_*")),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "DbiResourceId is case-sensitive",
    policies: one(dbuser("jane_doe", DBI.toLowerCase())),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "? matches exactly one character (jane_do? vs jane_doe)",
    policies: one(dbuser("jane_do?")),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "? does not match zero characters (jane_do? vs jane_do)",
    policies: one(dbuser("jane_do?")),
    request: { resource: dbuser("jane_do") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "? does not match two characters (jane_do? vs jane_doee)",
    policies: one(dbuser("jane_do?")),
    request: { resource: dbuser("jane_doee") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "* matches several characters where ? would not (jane_* vs jane_doee)",
    policies: one(dbuser("jane_*")),
    request: { resource: dbuser("jane_doee") },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "region wildcard",
    policies: one(`arn:aws:rds-db:*:${ACCOUNT}:dbuser:${DBI}/jane_doe`),
    request: { resource: dbuser("jane_doe", DBI, "eu-west-3") },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "region must match when written",
    policies: one(dbuser("jane_doe", DBI, "us-east-1")),
    request: { resource: dbuser("jane_doe", DBI, "us-east-2") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "account must match",
    policies: one(dbuser("jane_doe")),
    request: { resource: dbuser("jane_doe", DBI, "us-east-1", OTHER_ACCOUNT) },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "partition must match (aws-cn)",
    policies: one(dbuser("jane_doe")),
    request: { resource: `arn:aws-cn:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/jane_doe` },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "wildcard inside the DbiResourceId",
    policies: one(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ABC*/jane_doe`),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "Resource * matches everything",
    policies: one("*"),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "trailing * of a segment crosses colons (…:123456789012:*)",
    policies: one(`arn:aws:rds-db:us-east-1:${ACCOUNT}:*`),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "mid-segment * does not cross a colon (…:db*/jane_doe vs dbuser:DBI/jane_doe)",
    policies: one(`arn:aws:rds-db:us-east-1:${ACCOUNT}:db*/jane_doe`),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "wildcards in every segment (arn:aws:rds-db:*:*:dbuser:*/*)",
    policies: one("arn:aws:rds-db:*:*:dbuser:*/*"),
    request: { resource: dbuser("x", DBI2, "ap-south-1", OTHER_ACCOUNT) },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "literal . in the user name matches only a dot",
    policies: one(dbuser("app.user")),
    request: { resource: dbuser("appXuser") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "literal . matches itself",
    policies: one(dbuser("app.user")),
    request: { resource: dbuser("app.user") },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "literal + is not a regex quantifier (a+b vs aab)",
    policies: one(dbuser("a+b")),
    request: { resource: dbuser("aab") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "literal + matches itself",
    policies: one(dbuser("a+b")),
    request: { resource: dbuser("a+b") },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "literal ( [ \\ ^ $ | are ordinary characters",
    policies: one(dbuser("u(1)[2]\\^$|")),
    request: { resource: dbuser("u(1)[2]\\^$|") },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "[ab] is not a character class",
    policies: one(dbuser("[ab]")),
    request: { resource: dbuser("a") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: ".* in a policy is a dot then a wildcard, not regex any",
    policies: one(dbuser("app.*")),
    request: { resource: dbuser("appuser") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "second entry of a Resource list matches",
    policies: { identity: [policy("p", allow(CONNECT, [dbuser("bob"), dbuser("jane_doe")]))] },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "none of a Resource list matches",
    policies: { identity: [policy("p", allow(CONNECT, [dbuser("bob"), dbuser("carol")]))] },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "other instance with instance pinned",
    policies: one(`arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/*`),
    request: { resource: dbuser("jane_doe", DBI2) },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "a non-ARN resource string never matches an ARN pattern",
    policies: one(ALL_DB_USERS),
    request: { resource: "jane_doe" },
    decision: "implicitDeny",
    matched: [],
  },
];

/** Action matching: case-insensitive, `*` and `?`. */
const actionCases: EvalCase[] = [
  {
    name: "Action rds-db:connect",
    policies: one(dbuser("jane_doe")),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "action in policy is case-insensitive (RDS-DB:Connect)",
    policies: one(dbuser("jane_doe"), "RDS-DB:Connect"),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "action in request is case-insensitive (RDS-DB:CONNECT)",
    policies: one(dbuser("jane_doe")),
    request: { action: "RDS-DB:CONNECT" },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "rds-db:*",
    policies: one(dbuser("jane_doe"), "rds-db:*"),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "rds-db:conn*",
    policies: one(dbuser("jane_doe"), "rds-db:conn*"),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "rds-db:c?nnect",
    policies: one(dbuser("jane_doe"), "rds-db:c?nnect"),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "rds*:connect",
    policies: one(dbuser("jane_doe"), "rds*:connect"),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "Action *",
    policies: one(dbuser("jane_doe"), "*"),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "rds:* is another service",
    policies: one(dbuser("jane_doe"), "rds:*"),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "rds-db:connectx is another action",
    policies: one(dbuser("jane_doe"), "rds-db:connectx"),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "rds-db:conn without wildcard",
    policies: one(dbuser("jane_doe"), "rds-db:conn"),
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "rds-db:c?nnect does not match c??nnect length",
    policies: one(dbuser("jane_doe"), "rds-db:c?nnect"),
    request: { action: "rds-db:cxxnnect" },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "Action list, second entry matches",
    policies: one(dbuser("jane_doe"), ["s3:GetObject", "rds-db:connect"]),
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "any action, not only rds-db:connect (iam:CreateUser)",
    policies: one(`arn:aws:iam::${ACCOUNT}:user/*`, "iam:*User"),
    request: { action: "iam:CreateUser", resource: `arn:aws:iam::${ACCOUNT}:user/bob` },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
  {
    name: "iam:*AccessKey* wildcard on both sides",
    policies: one(`arn:aws:iam::${ACCOUNT}:user/*`, "iam:*AccessKey*"),
    request: { action: "iam:ListAccessKeys", resource: `arn:aws:iam::${ACCOUNT}:user/bob` },
    decision: "allowed",
    matched: ["identity:p#0:Allow"],
  },
];

const userInline = policy("jane-inline", allow(CONNECT, ALL_DB_USERS));
const managed = policy("DbConnect", allow(CONNECT, ALL_DB_USERS), {
  id: `arn:aws:iam::${ACCOUNT}:policy/DbConnect`,
});
const groupDeny = policy("ops-group-deny", {
  Sid: "NoProd",
  Effect: "Deny",
  Action: CONNECT,
  Resource: dbuser("*", DBI),
});
const boundaryJaneOnly = policy("boundary", allow("rds-db:*", dbuser("jane_*", "*")));
const boundaryOther = policy("boundary-s3", allow("s3:*", "*"));
const sessionJane = policy("session", allow(CONNECT, dbuser("jane_doe")));
const sessionS3 = policy("session-s3", allow("s3:GetObject", "*"));

/** How layers combine: deny wins, boundary and session intersect. */
const layerCases: EvalCase[] = [
  { name: "no policies: implicit deny", policies: { identity: [] }, decision: "implicitDeny", matched: [] },
  {
    name: "user inline allow",
    policies: { identity: [userInline] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "two identity allows are both reported",
    policies: { identity: [userInline, managed] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow", "identity:DbConnect#0:Allow"],
  },
  {
    name: "group deny beats user allow",
    policies: { identity: [userInline, groupDeny] },
    decision: "explicitDeny",
    matched: ["identity:ops-group-deny#0[NoProd]:Deny"],
  },
  {
    name: "group deny beats allow in a managed policy",
    policies: { identity: [managed, groupDeny] },
    decision: "explicitDeny",
    matched: ["identity:ops-group-deny#0[NoProd]:Deny"],
  },
  {
    name: "group deny on another instance does not apply",
    policies: { identity: [userInline, groupDeny] },
    request: { resource: dbuser("jane_doe", DBI2) },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "deny in the same policy after the allow",
    policies: { identity: [policy("p", [allow(CONNECT, ALL_DB_USERS), deny(CONNECT, dbuser("jane_doe"))])] },
    decision: "explicitDeny",
    matched: ["identity:p#1:Deny"],
  },
  {
    name: "deny before the allow: order does not matter",
    policies: { identity: [policy("p", [deny(CONNECT, dbuser("jane_doe")), allow(CONNECT, ALL_DB_USERS)])] },
    decision: "explicitDeny",
    matched: ["identity:p#0:Deny"],
  },
  {
    name: "deny without any allow is still an explicit deny",
    policies: { identity: [policy("p", deny("*", "*"))] },
    decision: "explicitDeny",
    matched: ["identity:p#0:Deny"],
  },
  {
    name: "every applicable deny is reported",
    policies: { identity: [policy("a", deny("rds-db:*", "*")), policy("b", deny(CONNECT, ALL_DB_USERS))] },
    decision: "explicitDeny",
    matched: ["identity:a#0:Deny", "identity:b#0:Deny"],
  },
  {
    name: "deny for another action does not apply",
    policies: { identity: [userInline, policy("d", deny("s3:*", "*"))] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "boundary allows and identity allows",
    policies: { identity: [userInline], boundary: boundaryJaneOnly },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow", "boundary:boundary#0:Allow"],
  },
  {
    name: "boundary without an allow: implicit deny",
    policies: { identity: [userInline], boundary: boundaryOther },
    decision: "implicitDeny",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "boundary allows but identity does not: implicit deny",
    policies: { identity: [], boundary: boundaryJaneOnly },
    decision: "implicitDeny",
    matched: ["boundary:boundary#0:Allow"],
  },
  {
    name: "boundary narrows the identity policy (bob not in boundary)",
    policies: { identity: [userInline], boundary: boundaryJaneOnly },
    request: { resource: dbuser("bob") },
    decision: "implicitDeny",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "deny in the boundary wins",
    policies: {
      identity: [userInline],
      boundary: policy("b", [allow("*", "*"), deny(CONNECT, dbuser("jane_doe"))]),
    },
    decision: "explicitDeny",
    matched: ["boundary:b#1:Deny"],
  },
  {
    name: "session policy allows the same: allowed",
    policies: { identity: [userInline], session: [sessionJane] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow", "session:session#0:Allow"],
  },
  {
    name: "session policy narrows: other DB user implicitly denied",
    policies: { identity: [userInline], session: [sessionJane] },
    request: { resource: dbuser("bob") },
    decision: "implicitDeny",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "session policy cannot grant more than identity",
    policies: { identity: [], session: [sessionJane] },
    decision: "implicitDeny",
    matched: ["session:session#0:Allow"],
  },
  {
    name: "session policy for another service: implicit deny",
    policies: { identity: [userInline], session: [sessionS3] },
    decision: "implicitDeny",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "any one of several session policies may allow",
    policies: { identity: [userInline], session: [sessionS3, sessionJane] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow", "session:session#0:Allow"],
  },
  {
    name: "empty session policy list means no session restriction",
    policies: { identity: [userInline], session: [] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "deny in a session policy wins",
    policies: { identity: [userInline], session: [policy("s", deny(CONNECT, "*"))] },
    decision: "explicitDeny",
    matched: ["session:s#0:Deny"],
  },
  {
    name: "identity, boundary and session all allow",
    policies: { identity: [userInline], boundary: boundaryJaneOnly, session: [sessionJane] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow", "boundary:boundary#0:Allow", "session:session#0:Allow"],
  },
  {
    name: "identity and session allow, boundary does not",
    policies: { identity: [userInline], boundary: boundaryOther, session: [sessionJane] },
    decision: "implicitDeny",
    matched: ["identity:jane-inline#0:Allow", "session:session#0:Allow"],
  },
  {
    name: "deny in identity wins over boundary and session allows",
    policies: { identity: [userInline, groupDeny], boundary: boundaryJaneOnly, session: [sessionJane] },
    decision: "explicitDeny",
    matched: ["identity:ops-group-deny#0[NoProd]:Deny"],
  },
  {
    name: "denies from several layers are all reported",
    policies: {
      identity: [groupDeny],
      boundary: policy("b", deny("*", "*")),
      session: [policy("s", deny("rds-db:*", "*"))],
    },
    decision: "explicitDeny",
    matched: ["identity:ops-group-deny#0[NoProd]:Deny", "boundary:b#0:Deny", "session:s#0:Deny"],
  },
];

const resourcePolicy = (principal: unknown, effect = "Allow") =>
  policy(
    "db-resource",
    { Effect: effect, Principal: principal, Action: CONNECT, Resource: ALL_DB_USERS },
    { kind: "resource" },
  );
const SESSION_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/DbRole/jane-session`;
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/DbRole`;

/** Resource-based policies in the same account. */
const resourcePolicyCases: EvalCase[] = [
  {
    name: "resource policy naming the user allows without an identity policy",
    policies: { identity: [], resource: resourcePolicy({ AWS: JANE.arn }) },
    decision: "allowed",
    matched: ["resource:db-resource#0:Allow"],
  },
  {
    name: "resource policy naming another user does not apply",
    policies: { identity: [], resource: resourcePolicy({ AWS: BOB.arn }) },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "resource policy naming the account delegates: identity must allow",
    policies: { identity: [], resource: resourcePolicy({ AWS: ACCOUNT }) },
    decision: "implicitDeny",
    matched: ["resource:db-resource#0:Allow"],
  },
  {
    name: "resource policy naming the account plus identity allow",
    policies: { identity: [userInline], resource: resourcePolicy({ AWS: `arn:aws:iam::${ACCOUNT}:root` }) },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow", "resource:db-resource#0:Allow"],
  },
  {
    name: "resource policy naming the user is not limited by the boundary's implicit deny",
    policies: { identity: [], boundary: boundaryOther, resource: resourcePolicy({ AWS: JANE.arn }) },
    decision: "allowed",
    matched: ["resource:db-resource#0:Allow"],
  },
  {
    name: "explicit deny in a resource policy wins over identity allow",
    policies: { identity: [userInline], resource: resourcePolicy("*", "Deny") },
    decision: "explicitDeny",
    matched: ["resource:db-resource#0:Deny"],
  },
  {
    name: "resource policy naming the role: session policy still limits",
    policies: { identity: [], session: [sessionS3], resource: resourcePolicy({ AWS: ROLE_ARN }) },
    request: { principal: { arn: SESSION_ARN, roleArn: ROLE_ARN } },
    decision: "implicitDeny",
    matched: ["resource:db-resource#0:Allow"],
  },
  {
    name: "resource policy naming the role stands in for identity policies",
    policies: { identity: [], resource: resourcePolicy({ AWS: ROLE_ARN }) },
    request: { principal: { arn: SESSION_ARN } },
    decision: "allowed",
    matched: ["resource:db-resource#0:Allow"],
  },
  {
    name: "resource policy naming the role session is not limited by session policies",
    policies: { identity: [], session: [sessionS3], resource: resourcePolicy({ AWS: SESSION_ARN }) },
    request: { principal: { arn: SESSION_ARN } },
    decision: "allowed",
    matched: ["resource:db-resource#0:Allow"],
  },
  {
    name: "NotPrincipal: everyone except bob",
    policies: {
      identity: [],
      resource: policy(
        "np",
        { Effect: "Deny", NotPrincipal: { AWS: BOB.arn }, Action: CONNECT, Resource: "*" },
        { kind: "resource" },
      ),
    },
    decision: "explicitDeny",
    matched: ["resource:np#0:Deny"],
  },
];

/** NotAction / NotResource: the statement applies to what matches none of the list. */
const notCases: EvalCase[] = [
  {
    name: "Allow NotAction iam:* allows rds-db:connect",
    policies: { identity: [policy("na", { Effect: "Allow", NotAction: "iam:*", Resource: "*" })] },
    decision: "allowed",
    matched: ["identity:na#0:Allow"],
  },
  {
    name: "Allow NotAction iam:* does not allow iam:CreateUser",
    policies: { identity: [policy("na", { Effect: "Allow", NotAction: "iam:*", Resource: "*" })] },
    request: { action: "iam:CreateUser", resource: `arn:aws:iam::${ACCOUNT}:user/x` },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "NotAction is case-insensitive (RDS-DB:* excludes rds-db:connect)",
    policies: { identity: [policy("na", { Effect: "Allow", NotAction: "RDS-DB:*", Resource: "*" })] },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "Deny NotAction rds-db:connect leaves connect allowed",
    policies: { identity: [userInline, policy("d", { Effect: "Deny", NotAction: CONNECT, Resource: "*" })] },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "Deny NotAction rds-db:connect denies s3:GetObject",
    policies: {
      identity: [
        policy("all", allow("*", "*")),
        policy("d", { Effect: "Deny", NotAction: CONNECT, Resource: "*" }),
      ],
    },
    request: { action: "s3:GetObject", resource: "arn:aws:s3:::bucket/key" },
    decision: "explicitDeny",
    matched: ["identity:d#0:Deny"],
  },
  {
    name: "NotAction list: action in the list is excluded",
    policies: {
      identity: [policy("na", { Effect: "Allow", NotAction: ["s3:*", "rds-db:connect"], Resource: "*" })],
    },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "Allow NotResource admin allows jane_doe",
    policies: {
      identity: [policy("nr", { Effect: "Allow", Action: CONNECT, NotResource: dbuser("admin") })],
    },
    decision: "allowed",
    matched: ["identity:nr#0:Allow"],
  },
  {
    name: "Allow NotResource admin does not allow admin",
    policies: {
      identity: [policy("nr", { Effect: "Allow", Action: CONNECT, NotResource: dbuser("admin") })],
    },
    request: { resource: dbuser("admin") },
    decision: "implicitDeny",
    matched: [],
  },
  {
    name: "Deny NotResource [jane] denies bob",
    policies: {
      identity: [
        userInline,
        policy("nr", { Effect: "Deny", Action: CONNECT, NotResource: [dbuser("jane_*")] }),
      ],
    },
    request: { resource: dbuser("bob") },
    decision: "explicitDeny",
    matched: ["identity:nr#0:Deny"],
  },
  {
    name: "Deny NotResource [jane_*] does not deny jane_doe",
    policies: {
      identity: [
        userInline,
        policy("nr", { Effect: "Deny", Action: CONNECT, NotResource: [dbuser("jane_*")] }),
      ],
    },
    decision: "allowed",
    matched: ["identity:jane-inline#0:Allow"],
  },
  {
    name: "NotResource is case-sensitive (JANE_DOE excluded, jane_doe not)",
    policies: {
      identity: [policy("nr", { Effect: "Allow", Action: CONNECT, NotResource: dbuser("JANE_DOE") })],
    },
    decision: "allowed",
    matched: ["identity:nr#0:Allow"],
  },
  {
    name: "NotAction and NotResource together",
    policies: {
      identity: [policy("nn", { Effect: "Allow", NotAction: "iam:*", NotResource: dbuser("admin") })],
    },
    decision: "allowed",
    matched: ["identity:nn#0:Allow"],
  },
  {
    name: "NotResource * matches nothing",
    policies: { identity: [policy("nr", { Effect: "Allow", Action: CONNECT, NotResource: "*" })] },
    decision: "implicitDeny",
    matched: [],
  },
];

for (const [title, cases] of [
  ["resource ARN matching", resourceCases],
  ["action matching", actionCases],
  ["deny wins; boundaries and session policies intersect", layerCases],
  ["resource-based policies", resourcePolicyCases],
  ["NotAction and NotResource", notCases],
] as const) {
  describe(title, () => {
    for (const c of cases)
      test(c.name, () => {
        checkCase(c);
      });
  });
}

describe("decision details", () => {
  test("matched statements carry policy name, id, type, sid, effect and index", () => {
    const result = evaluate(
      { action: CONNECT, resource: dbuser("jane_doe"), principal: JANE },
      { identity: [managed, groupDeny] },
    );
    assert.deepEqual(result, {
      decision: "explicitDeny",
      matchedStatements: [
        {
          policyName: "ops-group-deny",
          policyId: undefined,
          policyType: "identity",
          sid: "NoProd",
          effect: "Deny",
          statementIndex: 0,
        },
      ],
    });
  });

  test("allowed by a managed policy reports its id", () => {
    const result = evaluate({ action: CONNECT, resource: dbuser("jane_doe") }, { identity: [managed] });
    assert.equal(result.matchedStatements[0]?.policyId, `arn:aws:iam::${ACCOUNT}:policy/DbConnect`);
  });

  test("implicit deny names the layers that had no allow", () => {
    const result = evaluate(
      { action: CONNECT, resource: dbuser("bob") },
      { identity: [], boundary: boundaryJaneOnly, session: [sessionJane] },
    );
    assert.deepEqual(result.missingAllowFrom, ["identity", "boundary", "session"]);
  });

  test("allowed and explicit-deny decisions carry no missingAllowFrom", () => {
    assert.equal(
      evaluate({ action: CONNECT, resource: dbuser("x") }, { identity: [userInline] }).missingAllowFrom,
      undefined,
    );
  });
});
