/**
 * Condition operators, one table row per documented behaviour. Every row runs a
 * full evaluation and checks the exact decision and matched statements.
 *
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
 */
import { describe, test } from "node:test";
import type { ContextValue, EvaluationRequest } from "../../src/policy/index.js";
import { ACCOUNT, allow, checkCase, deny, type EvalCase, JANE, policy } from "./helpers.js";

const NOW = new Date("2026-01-01T12:00:00Z");

interface Row {
  readonly name: string;
  readonly condition: Record<string, Record<string, unknown>>;
  readonly context?: Record<string, ContextValue>;
  readonly request?: Partial<EvaluationRequest>;
  /** Whether the condition holds, i.e. the statement applies. */
  readonly applies: boolean;
  /** Run the condition on a Deny statement next to an allow-all, instead of on an Allow. */
  readonly effect?: "Deny";
  readonly missingContextValues?: readonly string[];
}

function toCase(row: Row): EvalCase {
  const request = { context: row.context ?? {}, now: NOW, ...row.request };
  const extra = { Condition: row.condition };
  if (row.effect === "Deny") {
    return {
      name: row.name,
      policies: {
        identity: [policy("all", allow("*", "*")), policy("c", deny("rds-db:connect", "*", extra))],
      },
      request,
      decision: row.applies ? "explicitDeny" : "allowed",
      matched: row.applies ? ["identity:c#0:Deny"] : ["identity:all#0:Allow"],
      ...(row.missingContextValues === undefined ? {} : { missingContextValues: row.missingContextValues }),
    };
  }
  return {
    name: row.name,
    policies: { identity: [policy("c", allow("rds-db:connect", "*", extra))] },
    request,
    decision: row.applies ? "allowed" : "implicitDeny",
    matched: row.applies ? ["identity:c#0:Allow"] : [],
    ...(row.missingContextValues === undefined ? {} : { missingContextValues: row.missingContextValues }),
  };
}

const TEAM = "aws:PrincipalTag/team";

const stringRows: Row[] = [
  {
    name: "StringEquals matches",
    condition: { StringEquals: { [TEAM]: "db" } },
    context: { [TEAM]: "db" },
    applies: true,
  },
  {
    name: "StringEquals is case-sensitive",
    condition: { StringEquals: { [TEAM]: "db" } },
    context: { [TEAM]: "DB" },
    applies: false,
  },
  {
    name: "condition key names are case-insensitive",
    condition: { StringEquals: { "AWS:principaltag/TEAM": "db" } },
    context: { [TEAM]: "db" },
    applies: true,
  },
  {
    name: "several values for a key are ORed",
    condition: { StringEquals: { [TEAM]: ["ops", "db"] } },
    context: { [TEAM]: "db" },
    applies: true,
  },
  {
    name: "StringEquals with the key missing is false",
    condition: { StringEquals: { [TEAM]: "db" } },
    applies: false,
    missingContextValues: [TEAM],
  },
  {
    name: "StringEquals has no wildcards",
    condition: { StringEquals: { [TEAM]: "d*" } },
    context: { [TEAM]: "db" },
    applies: false,
  },
  {
    name: "StringEquals * is a literal asterisk",
    condition: { StringEquals: { [TEAM]: "*" } },
    context: { [TEAM]: "*" },
    applies: true,
  },
  {
    name: "StringNotEquals with a different value",
    condition: { StringNotEquals: { [TEAM]: "db" } },
    context: { [TEAM]: "ops" },
    applies: true,
  },
  {
    name: "StringNotEquals with the same value",
    condition: { StringNotEquals: { [TEAM]: "db" } },
    context: { [TEAM]: "db" },
    applies: false,
  },
  {
    name: "StringNotEquals must match none of the values",
    condition: { StringNotEquals: { [TEAM]: ["ops", "db"] } },
    context: { [TEAM]: "db" },
    applies: false,
  },
  {
    name: "StringNotEquals with the key missing is true",
    condition: { StringNotEquals: { [TEAM]: "db" } },
    applies: true,
    missingContextValues: [TEAM],
  },
  {
    name: "StringNotEquals with the key missing denies in a Deny statement",
    condition: { StringNotEquals: { [TEAM]: "db" } },
    applies: true,
    effect: "Deny",
  },
  {
    name: "StringEqualsIgnoreCase",
    condition: { StringEqualsIgnoreCase: { [TEAM]: "DB" } },
    context: { [TEAM]: "db" },
    applies: true,
  },
  {
    name: "StringNotEqualsIgnoreCase with a case variant",
    condition: { StringNotEqualsIgnoreCase: { [TEAM]: "DB" } },
    context: { [TEAM]: "db" },
    applies: false,
  },
  {
    name: "StringNotEqualsIgnoreCase with the key missing",
    condition: { StringNotEqualsIgnoreCase: { [TEAM]: "DB" } },
    applies: true,
  },
  {
    name: "StringLike with *",
    condition: { StringLike: { [TEAM]: "d*" } },
    context: { [TEAM]: "db-admins" },
    applies: true,
  },
  {
    name: "StringLike ? is one character",
    condition: { StringLike: { [TEAM]: "d?" } },
    context: { [TEAM]: "dbx" },
    applies: false,
  },
  {
    name: "StringLike * spans colons",
    condition: { StringLike: { "aws:SourceArn": "arn:aws:*" } },
    context: { "aws:SourceArn": "arn:aws:iam::123456789012:user/x" },
    applies: true,
  },
  {
    name: "StringLike is case-sensitive",
    condition: { StringLike: { [TEAM]: "D*" } },
    context: { [TEAM]: "db" },
    applies: false,
  },
  { name: "StringLike with the key missing", condition: { StringLike: { [TEAM]: "*" } }, applies: false },
  {
    name: "StringNotLike, not matching",
    condition: { StringNotLike: { [TEAM]: "prod-*" } },
    context: { [TEAM]: "dev-1" },
    applies: true,
  },
  {
    name: "StringNotLike, matching",
    condition: { StringNotLike: { [TEAM]: "prod-*" } },
    context: { [TEAM]: "prod-1" },
    applies: false,
  },
  {
    name: "StringNotLike with the key missing",
    condition: { StringNotLike: { [TEAM]: "prod-*" } },
    applies: true,
  },
  {
    name: "several keys in one operator are ANDed (both hold)",
    condition: { StringEquals: { [TEAM]: "db", "aws:RequestedRegion": "us-east-1" } },
    context: { [TEAM]: "db", "aws:RequestedRegion": "us-east-1" },
    applies: true,
  },
  {
    name: "several keys in one operator are ANDed (one fails)",
    condition: { StringEquals: { [TEAM]: "db", "aws:RequestedRegion": "us-east-1" } },
    context: { [TEAM]: "db", "aws:RequestedRegion": "eu-west-1" },
    applies: false,
  },
  {
    name: "several operators are ANDed (one fails)",
    condition: { StringEquals: { [TEAM]: "db" }, Bool: { "aws:SecureTransport": "true" } },
    context: { [TEAM]: "db", "aws:SecureTransport": false },
    applies: false,
  },
  {
    name: "a number in the context compares as its string",
    condition: { StringEquals: { "rds:port": "5432" } },
    context: { "rds:port": 5432 },
    applies: true,
  },
];

const numericRows: Row[] = [
  {
    name: "NumericEquals",
    condition: { NumericEquals: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 10 },
    applies: true,
  },
  {
    name: "NumericEquals compares numbers, not text (10 vs 10.0)",
    condition: { NumericEquals: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": "10.0" },
    applies: true,
  },
  {
    name: "NumericNotEquals, different",
    condition: { NumericNotEquals: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 11 },
    applies: true,
  },
  {
    name: "NumericNotEquals, equal",
    condition: { NumericNotEquals: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 10 },
    applies: false,
  },
  {
    name: "NumericNotEquals with the key missing",
    condition: { NumericNotEquals: { "s3:max-keys": "10" } },
    applies: true,
  },
  {
    name: "NumericLessThan, below",
    condition: { NumericLessThan: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 9 },
    applies: true,
  },
  {
    name: "NumericLessThan, equal",
    condition: { NumericLessThan: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 10 },
    applies: false,
  },
  {
    name: "NumericLessThanEquals, equal",
    condition: { NumericLessThanEquals: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 10 },
    applies: true,
  },
  {
    name: "NumericGreaterThan, equal",
    condition: { NumericGreaterThan: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 10 },
    applies: false,
  },
  {
    name: "NumericGreaterThan, above",
    condition: { NumericGreaterThan: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 11 },
    applies: true,
  },
  {
    name: "NumericGreaterThanEquals, equal",
    condition: { NumericGreaterThanEquals: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": 10 },
    applies: true,
  },
  {
    name: "Numeric against a non-number is false",
    condition: { NumericLessThan: { "s3:max-keys": "10" } },
    context: { "s3:max-keys": "abc" },
    applies: false,
  },
  {
    name: "NumericLessThan with the key missing",
    condition: { NumericLessThan: { "s3:max-keys": "10" } },
    applies: false,
  },
  {
    name: "a JSON number in the policy",
    condition: { NumericLessThan: { "s3:max-keys": 10 } },
    context: { "s3:max-keys": "3" },
    applies: true,
  },
  {
    name: "decimals",
    condition: { NumericGreaterThan: { "x:ratio": "1.5" } },
    context: { "x:ratio": 1.75 },
    applies: true,
  },
];

const dateRows: Row[] = [
  {
    name: "DateGreaterThan aws:CurrentTime (from the injected clock)",
    condition: { DateGreaterThan: { "aws:CurrentTime": "2020-01-01T00:00:00Z" } },
    applies: true,
  },
  {
    name: "DateLessThan aws:CurrentTime, past date",
    condition: { DateLessThan: { "aws:CurrentTime": "2020-01-01T00:00:00Z" } },
    applies: false,
  },
  {
    name: "DateLessThan with an epoch-seconds policy value",
    condition: { DateLessThan: { "aws:CurrentTime": "1893456000" } },
    applies: true,
  },
  {
    name: "DateGreaterThanEquals, same instant in another zone",
    condition: { DateGreaterThanEquals: { "aws:CurrentTime": "2026-01-01T13:00:00+01:00" } },
    applies: true,
  },
  {
    name: "DateEquals, same instant",
    condition: { DateEquals: { "aws:CurrentTime": "2026-01-01T12:00:00Z" } },
    applies: true,
  },
  {
    name: "DateNotEquals, other instant",
    condition: { DateNotEquals: { "aws:CurrentTime": "2026-01-01T12:00:01Z" } },
    applies: true,
  },
  {
    name: "DateNotEquals with the key missing",
    condition: { DateNotEquals: { "aws:TokenIssueTime": "2026-01-01T00:00:00Z" } },
    applies: true,
  },
  {
    name: "aws:EpochTime against an ISO date",
    condition: { DateLessThanEquals: { "aws:EpochTime": "2030-01-01" } },
    applies: true,
  },
  {
    name: "a date-only policy value is midnight UTC",
    condition: { DateLessThan: { "aws:CurrentTime": "2026-01-02" } },
    applies: true,
  },
  {
    name: "DateGreaterThan aws:TokenIssueTime missing (long-term keys)",
    condition: { DateGreaterThan: { "aws:TokenIssueTime": "2020-01-01T00:00:01Z" } },
    applies: false,
    missingContextValues: ["aws:TokenIssueTime"],
  },
  {
    name: "an ISO string in the context wins over the clock",
    condition: { DateLessThan: { "aws:CurrentTime": "2021-01-01T00:00:00Z" } },
    context: { "aws:CurrentTime": "2020-06-01T00:00:00Z" },
    applies: true,
  },
  {
    name: "a date with milliseconds",
    condition: { DateGreaterThan: { "aws:CurrentTime": "2026-01-01T11:59:59.999Z" } },
    applies: true,
  },
];

const boolBinaryRows: Row[] = [
  {
    name: "Bool true / true",
    condition: { Bool: { "aws:SecureTransport": "true" } },
    context: { "aws:SecureTransport": true },
    applies: true,
  },
  {
    name: "Bool true / false",
    condition: { Bool: { "aws:SecureTransport": "true" } },
    context: { "aws:SecureTransport": false },
    applies: false,
  },
  {
    name: "Bool false / false",
    condition: { Bool: { "aws:SecureTransport": "false" } },
    context: { "aws:SecureTransport": false },
    applies: true,
  },
  {
    name: "Bool reads the string TRUE",
    condition: { Bool: { "aws:SecureTransport": "true" } },
    context: { "aws:SecureTransport": "TRUE" },
    applies: true,
  },
  {
    name: "Bool with the key missing",
    condition: { Bool: { "aws:SecureTransport": "true" } },
    applies: false,
  },
  {
    name: "a JSON boolean in the policy",
    condition: { Bool: { "aws:SecureTransport": true } },
    context: { "aws:SecureTransport": true },
    applies: true,
  },
  {
    name: "Deny when not over TLS (AWS example)",
    condition: { Bool: { "aws:SecureTransport": "false" } },
    context: { "aws:SecureTransport": false },
    applies: true,
    effect: "Deny",
  },
  {
    name: "Deny when not over TLS does not fire over TLS",
    condition: { Bool: { "aws:SecureTransport": "false" } },
    context: { "aws:SecureTransport": true },
    applies: false,
    effect: "Deny",
  },
  {
    name: "BinaryEquals, same bytes",
    condition: { BinaryEquals: { "x:blob": "QmluYXJ5" } },
    context: { "x:blob": "QmluYXJ5" },
    applies: true,
  },
  {
    name: "BinaryEquals, other bytes",
    condition: { BinaryEquals: { "x:blob": "QmluYXJ5" } },
    context: { "x:blob": "QmluYXJ6" },
    applies: false,
  },
  {
    name: "BinaryEquals with the key missing",
    condition: { BinaryEquals: { "x:blob": "QmluYXJ5" } },
    applies: false,
  },
];

const IP = "aws:SourceIp";
const ipRows: Row[] = [
  {
    name: "IpAddress in an IPv4 /24",
    condition: { IpAddress: { [IP]: "203.0.113.0/24" } },
    context: { [IP]: "203.0.113.7" },
    applies: true,
  },
  {
    name: "IpAddress outside an IPv4 /24",
    condition: { IpAddress: { [IP]: "203.0.113.0/24" } },
    context: { [IP]: "203.0.114.1" },
    applies: false,
  },
  {
    name: "an address without prefix is a /32",
    condition: { IpAddress: { [IP]: "203.0.113.5" } },
    context: { [IP]: "203.0.113.5" },
    applies: true,
  },
  {
    name: "a /32 excludes its neighbour",
    condition: { IpAddress: { [IP]: "203.0.113.5" } },
    context: { [IP]: "203.0.113.6" },
    applies: false,
  },
  {
    name: "IPv6 /64, hex case-insensitive",
    condition: { IpAddress: { [IP]: "2001:DB8:1234:5678::/64" } },
    context: { [IP]: "2001:db8:1234:5678:abcd::1" },
    applies: true,
  },
  {
    name: "IPv6 outside the /64",
    condition: { IpAddress: { [IP]: "2001:DB8:1234:5678::/64" } },
    context: { [IP]: "2001:db8:1234:5679::1" },
    applies: false,
  },
  {
    name: "mixed IPv4 and IPv6 list (AWS example)",
    condition: { IpAddress: { [IP]: ["203.0.113.0/24", "2001:DB8:1234:5678::/64"] } },
    context: { [IP]: "2001:db8:1234:5678::9" },
    applies: true,
  },
  {
    name: "an IPv4 range never holds an IPv6 address",
    condition: { IpAddress: { [IP]: "0.0.0.0/0" } },
    context: { [IP]: "2001:db8::1" },
    applies: false,
  },
  {
    name: "an IPv4-mapped IPv6 peer matches the IPv4 range",
    condition: { IpAddress: { [IP]: "203.0.113.0/24" } },
    context: { [IP]: "::ffff:203.0.113.7" },
    applies: true,
  },
  {
    name: "0.0.0.0/0 holds every IPv4 address",
    condition: { IpAddress: { [IP]: "0.0.0.0/0" } },
    context: { [IP]: "198.51.100.1" },
    applies: true,
  },
  {
    name: "NotIpAddress outside the range",
    condition: { NotIpAddress: { [IP]: "10.0.0.0/8" } },
    context: { [IP]: "192.0.2.1" },
    applies: true,
  },
  {
    name: "NotIpAddress inside the range",
    condition: { NotIpAddress: { [IP]: "10.0.0.0/8" } },
    context: { [IP]: "10.1.2.3" },
    applies: false,
  },
  {
    name: "NotIpAddress with the key missing",
    condition: { NotIpAddress: { [IP]: "10.0.0.0/8" } },
    applies: true,
  },
  {
    name: "IpAddress with the key missing",
    condition: { IpAddress: { [IP]: "10.0.0.0/8" } },
    applies: false,
  },
  {
    name: "IpAddress against a non-address",
    condition: { IpAddress: { [IP]: "0.0.0.0/0" } },
    context: { [IP]: "not-an-ip" },
    applies: false,
  },
  {
    name: "Deny from outside the corporate range",
    condition: { NotIpAddress: { [IP]: ["192.0.2.0/24", "203.0.113.0/24"] } },
    context: { [IP]: "198.51.100.1" },
    applies: true,
    effect: "Deny",
  },
  {
    name: "Deny from outside the corporate range, inside",
    condition: { NotIpAddress: { [IP]: ["192.0.2.0/24", "203.0.113.0/24"] } },
    context: { [IP]: "203.0.113.200" },
    applies: false,
    effect: "Deny",
  },
];

const SRC = "aws:SourceArn";
const arnRows: Row[] = [
  {
    name: "ArnLike with a region wildcard",
    condition: { ArnLike: { [SRC]: `arn:aws:sns:*:${ACCOUNT}:topic` } },
    context: { [SRC]: `arn:aws:sns:us-east-1:${ACCOUNT}:topic` },
    applies: true,
  },
  {
    name: "ArnEquals takes wildcards like ArnLike",
    condition: { ArnEquals: { [SRC]: `arn:aws:sns:*:${ACCOUNT}:top?c` } },
    context: { [SRC]: `arn:aws:sns:us-east-1:${ACCOUNT}:topic` },
    applies: true,
  },
  {
    name: "ArnLike matches per segment (AWS doc example fails)",
    condition: { ArnLike: { [SRC]: "arn:aws:someservice:*:111122223333:finance/*" } },
    context: {
      [SRC]: "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
    },
    applies: false,
  },
  {
    name: "StringLike on the same ARN matches across segments (AWS doc example)",
    condition: { StringLike: { [SRC]: "arn:aws:someservice:*:111122223333:finance/*" } },
    context: {
      [SRC]: "arn:aws:someservice:us-east-2:999999999999:store/abc:111122223333:finance/document.txt",
    },
    applies: true,
  },
  {
    name: "ArnLike is case-sensitive",
    condition: { ArnLike: { [SRC]: `arn:aws:sns:us-east-1:${ACCOUNT}:Topic` } },
    context: { [SRC]: `arn:aws:sns:us-east-1:${ACCOUNT}:topic` },
    applies: false,
  },
  {
    name: "ArnNotLike, other ARN",
    condition: { ArnNotLike: { [SRC]: `arn:aws:sns:*:${ACCOUNT}:*` } },
    context: { [SRC]: "arn:aws:sns:us-east-1:999999999999:x" },
    applies: true,
  },
  {
    name: "ArnNotLike with the key missing",
    condition: { ArnNotLike: { [SRC]: "arn:aws:sns:*:*:*" } },
    applies: true,
  },
  {
    name: "ArnNotEquals, same ARN",
    condition: { ArnNotEquals: { [SRC]: `arn:aws:sns:us-east-1:${ACCOUNT}:topic` } },
    context: { [SRC]: `arn:aws:sns:us-east-1:${ACCOUNT}:topic` },
    applies: false,
  },
  {
    name: "ArnLike on aws:PrincipalArn derived from the principal",
    condition: { ArnLike: { "aws:PrincipalArn": `arn:aws:iam::${ACCOUNT}:user/jane_*` } },
    applies: true,
  },
  {
    name: "ArnLike * matches any value",
    condition: { ArnLike: { [SRC]: "*" } },
    context: { [SRC]: "arn:aws:s3:::b" },
    applies: true,
  },
  {
    name: "ArnLike against a value that is not an ARN",
    condition: { ArnLike: { [SRC]: "arn:aws:sns:*:*:*" } },
    context: { [SRC]: "topic" },
    applies: false,
  },
];

const TOKEN = "aws:TokenIssueTime";
const nullIfExistsRows: Row[] = [
  {
    name: "Null true with the key absent",
    condition: { Null: { [TOKEN]: "true" } },
    applies: true,
    missingContextValues: [],
  },
  {
    name: "Null true with the key present",
    condition: { Null: { [TOKEN]: "true" } },
    context: { [TOKEN]: "2026-01-01T00:00:00Z" },
    applies: false,
  },
  {
    name: "Null false with the key present",
    condition: { Null: { [TOKEN]: "false" } },
    context: { [TOKEN]: "2026-01-01T00:00:00Z" },
    applies: true,
  },
  { name: "Null false with the key absent", condition: { Null: { [TOKEN]: "false" } }, applies: false },
  {
    name: "Null: an empty multivalued key is absent",
    condition: { Null: { "aws:TagKeys": "true" } },
    context: { "aws:TagKeys": [] },
    applies: true,
  },
  { name: "Null accepts a JSON boolean", condition: { Null: { [TOKEN]: true } }, applies: true },
  {
    name: "StringEqualsIfExists, key missing",
    condition: { StringEqualsIfExists: { [TEAM]: "db" } },
    applies: true,
  },
  {
    name: "StringEqualsIfExists, key present and different",
    condition: { StringEqualsIfExists: { [TEAM]: "db" } },
    context: { [TEAM]: "ops" },
    applies: false,
  },
  {
    name: "StringEqualsIfExists, key present and equal",
    condition: { StringEqualsIfExists: { [TEAM]: "db" } },
    context: { [TEAM]: "db" },
    applies: true,
  },
  {
    name: "NumericLessThanIfExists, key missing",
    condition: { NumericLessThanIfExists: { "s3:max-keys": "10" } },
    applies: true,
  },
  {
    name: "IpAddressIfExists, key missing",
    condition: { IpAddressIfExists: { [IP]: "10.0.0.0/8" } },
    applies: true,
  },
  {
    name: "IpAddressIfExists, key present outside",
    condition: { IpAddressIfExists: { [IP]: "10.0.0.0/8" } },
    context: { [IP]: "192.0.2.1" },
    applies: false,
  },
  {
    name: "ArnLikeIfExists, key missing",
    condition: { ArnLikeIfExists: { [SRC]: "arn:aws:sns:*:*:*" } },
    applies: true,
  },
  {
    name: "DateLessThanIfExists, key missing",
    condition: { DateLessThanIfExists: { [TOKEN]: "2020-01-01" } },
    applies: true,
  },
  {
    name: "BoolIfExists, key missing",
    condition: { BoolIfExists: { "aws:MultiFactorAuthPresent": "true" } },
    applies: true,
  },
  {
    name: "Deny with StringNotEqualsIfExists still denies when the tag is missing (AWS note)",
    condition: { StringNotEqualsIfExists: { [TEAM]: "db" } },
    applies: true,
    effect: "Deny",
  },
  {
    name: "Deny with StringNotEqualsIfExists, tag present and equal",
    condition: { StringNotEqualsIfExists: { [TEAM]: "db" } },
    context: { [TEAM]: "db" },
    applies: false,
    effect: "Deny",
  },
];

const TAGS = "aws:TagKeys";
const setRows: Row[] = [
  {
    name: "ForAnyValue:StringEquals, one value in the set",
    condition: { "ForAnyValue:StringEquals": { [TAGS]: ["a", "b"] } },
    context: { [TAGS]: ["b", "c"] },
    applies: true,
  },
  {
    name: "ForAnyValue:StringEquals, none in the set",
    condition: { "ForAnyValue:StringEquals": { [TAGS]: ["a", "b"] } },
    context: { [TAGS]: ["c"] },
    applies: false,
  },
  {
    name: "ForAnyValue with the key missing is false",
    condition: { "ForAnyValue:StringEquals": { [TAGS]: ["a"] } },
    applies: false,
  },
  {
    name: "ForAnyValue with an empty set is false",
    condition: { "ForAnyValue:StringEquals": { [TAGS]: ["a"] } },
    context: { [TAGS]: [] },
    applies: false,
  },
  {
    name: "ForAllValues:StringEquals, all values allowed",
    condition: { "ForAllValues:StringEquals": { [TAGS]: ["a", "b"] } },
    context: { [TAGS]: ["a", "b"] },
    applies: true,
  },
  {
    name: "ForAllValues:StringEquals, one value not allowed",
    condition: { "ForAllValues:StringEquals": { [TAGS]: ["a", "b"] } },
    context: { [TAGS]: ["a", "c"] },
    applies: false,
  },
  {
    name: "ForAllValues with the key missing is true",
    condition: { "ForAllValues:StringEquals": { [TAGS]: ["a"] } },
    applies: true,
  },
  {
    name: "ForAllValues with an empty set is true",
    condition: { "ForAllValues:StringEquals": { [TAGS]: ["a"] } },
    context: { [TAGS]: [] },
    applies: true,
  },
  {
    name: "ForAllValues:StringLike",
    condition: { "ForAllValues:StringLike": { [TAGS]: ["team-*"] } },
    context: { [TAGS]: ["team-a", "team-b"] },
    applies: true,
  },
  {
    name: "ForAnyValue:StringNotEquals: some value outside the list",
    condition: { "ForAnyValue:StringNotEquals": { [TAGS]: ["a"] } },
    context: { [TAGS]: ["a", "z"] },
    applies: true,
  },
  {
    name: "ForAllValues:StringNotEquals: no value in the list",
    condition: { "ForAllValues:StringNotEquals": { [TAGS]: ["a"] } },
    context: { [TAGS]: ["x", "y"] },
    applies: true,
  },
  {
    name: "ForAllValues:StringNotEquals: a value in the list",
    condition: { "ForAllValues:StringNotEquals": { [TAGS]: ["a"] } },
    context: { [TAGS]: ["a", "y"] },
    applies: false,
  },
  {
    name: "ForAnyValue:StringEqualsIfExists, key missing",
    condition: { "ForAnyValue:StringEqualsIfExists": { [TAGS]: ["a"] } },
    applies: true,
  },
  {
    name: "a plain operator on a multivalued key matches any value",
    condition: { StringEquals: { [TAGS]: "b" } },
    context: { [TAGS]: ["a", "b"] },
    applies: true,
  },
  {
    name: "a plain negated operator on a multivalued key needs every value to differ",
    condition: { StringNotEquals: { [TAGS]: "a" } },
    context: { [TAGS]: ["a", "b"] },
    applies: false,
  },
  {
    name: "ForAllValues:StringEqualsIgnoreCase",
    condition: { "ForAllValues:StringEqualsIgnoreCase": { [TAGS]: ["Env", "Team"] } },
    context: { [TAGS]: ["env", "TEAM"] },
    applies: true,
  },
  {
    name: "set qualifier names are case-insensitive (foranyvalue:)",
    condition: { "foranyvalue:StringEquals": { [TAGS]: ["a"] } },
    context: { [TAGS]: ["a"] },
    applies: true,
  },
  {
    name: "Deny ForAnyValue:StringEquals when a forbidden tag key is sent",
    condition: { "ForAnyValue:StringEquals": { [TAGS]: ["secret"] } },
    context: { [TAGS]: ["env", "secret"] },
    applies: true,
    effect: "Deny",
  },
  {
    name: "Deny ForAnyValue:StringEquals without that tag key",
    condition: { "ForAnyValue:StringEquals": { [TAGS]: ["secret"] } },
    context: { [TAGS]: ["env"] },
    applies: false,
    effect: "Deny",
  },
  {
    name: "ForAnyValue:IpAddress over several addresses",
    condition: { "ForAnyValue:IpAddress": { "x:addresses": ["10.0.0.0/8"] } },
    context: { "x:addresses": ["192.0.2.1", "10.9.9.9"] },
    applies: true,
  },
];

const gatewayRows: Row[] = [
  {
    name: "gateway context: TLS, corporate IP and team tag",
    condition: {
      Bool: { "aws:SecureTransport": "true" },
      IpAddress: { [IP]: "10.0.0.0/8" },
      StringEquals: { [TEAM]: "db", "aws:RequestedRegion": "us-east-1" },
    },
    request: { principal: { ...JANE, tags: { team: "db" } } },
    context: { "aws:SecureTransport": true, [IP]: "10.20.30.40", "aws:RequestedRegion": "us-east-1" },
    applies: true,
  },
  {
    name: "principal tags from the request feed aws:PrincipalTag/*",
    condition: { StringEquals: { "aws:PrincipalTag/CostCenter": "42" } },
    request: { principal: { ...JANE, tags: { CostCenter: "42" } } },
    applies: true,
  },
  {
    name: "context values override derived ones",
    condition: { StringEquals: { "aws:username": "override" } },
    context: { "aws:username": "override" },
    applies: true,
  },
  {
    name: "aws:ResourceTag from the context",
    condition: { StringEquals: { "aws:ResourceTag/env": "prod" } },
    context: { "aws:ResourceTag/env": "prod" },
    applies: true,
  },
];

for (const [title, rows] of [
  ["String operators", stringRows],
  ["Numeric operators", numericRows],
  ["Date operators", dateRows],
  ["Bool and BinaryEquals", boolBinaryRows],
  ["IpAddress and NotIpAddress", ipRows],
  ["ARN operators", arnRows],
  ["Null and IfExists", nullIfExistsRows],
  ["ForAnyValue and ForAllValues", setRows],
  ["gateway context keys", gatewayRows],
] as const) {
  describe(title, () => {
    for (const row of rows)
      test(row.name, () => {
        checkCase(toCase(row));
      });
  });
}
