// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} inside ordinary strings.
// The text parsers: RDS auth tokens, SigV4-signed admin API requests, policy documents and the
// Query-protocol form parser.
import fc from "fast-check";
import { ApiError } from "../../src/api/errors.js";
import { parseForm, QueryParams } from "../../src/api/params.js";
import { compileDocument } from "../../src/policy/compile.js";
import { parsePolicyDocument } from "../../src/policy/document.js";
import { MalformedPolicyDocumentError } from "../../src/policy/errors.js";
import type { PolicyKind } from "../../src/policy/limits.js";
import { presignRequest } from "../../src/sigv4/presign-request.js";
import { signRequest } from "../../src/sigv4/sign-request.js";
import type { SignableRequest } from "../../src/sigv4/types.js";
import { verifyRequest } from "../../src/sigv4/verify-request.js";
import { generateAuthToken } from "../../src/token/generate.js";
import { parseAuthToken } from "../../src/token/parse.js";
import { anyText, mutatedText, OracleError, type Target } from "../lib.js";

const NOW = new Date("2026-01-01T12:00:00Z");
const CREDS = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const SESSION = "FwoGZXIvYXdzEJr//////////wEaDH+session/token=";

const validToken: fc.Arbitrary<string> = fc
  .record({
    hostname: fc.constantFrom("db.example.com", "LOCALHOST", "10.0.0.5", "a-b.c"),
    port: fc.constantFrom(5432, 3306, 443, 1),
    username: fc.oneof(
      fc.constantFrom("jane_doe", "a b", "ü+&=%"),
      fc.string({ minLength: 1, maxLength: 12 }),
    ),
    region: fc.constantFrom("us-east-1", "eu-west-1"),
    session: fc.boolean(),
    order: fc.boolean(),
  })
  .map((i) => {
    try {
      const token = generateAuthToken({
        hostname: i.hostname,
        port: i.port,
        username: i.username,
        region: i.region,
        credentials: i.session ? { ...CREDS, sessionToken: SESSION } : CREDS,
        signingDate: NOW,
      });
      if (!i.order) return token;
      // rds-signer's layout: every parameter sorted, the signature among them.
      const [head, query = ""] = token.split("/?");
      return `${head}/?${query.split("&").sort().join("&")}`;
    } catch {
      return "db.example.com:5432/?Action=connect";
    }
  });

export const tokenParser: Target<string> = {
  name: "token-parse",
  covers: "parseAuthToken: any text, and botocore / rds-signer tokens damaged",
  arbitrary: fc.oneof(anyText(400), mutatedText(validToken), fc.string({ maxLength: 20_000 })),
  run(input) {
    const r = parseAuthToken(input);
    if (typeof r !== "object" || r === null || typeof r.ok !== "boolean") {
      throw new OracleError(`parseAuthToken returned ${String(r)}`);
    }
  },
  // Documented never to throw.
  expected: () => false,
};

const headerName = fc.oneof(
  fc.constantFrom(
    "host",
    "Host",
    "x-amz-date",
    "X-Amz-Security-Token",
    "authorization",
    "x-amz-content-sha256",
  ),
  anyText(12),
);

const arbitraryRequest: fc.Arbitrary<SignableRequest> = fc.record({
  method: fc.constantFrom("GET", "POST", "post", ""),
  path: fc.oneof(fc.constant("/"), anyText(30)),
  query: fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          "X-Amz-Signature",
          "X-Amz-Algorithm",
          "X-Amz-Credential",
          "X-Amz-Date",
          "X-Amz-Expires",
          "X-Amz-SignedHeaders",
          "Action",
        ),
        anyText(12),
      ),
      anyText(40),
    ),
    { maxLength: 8 },
  ),
  headers: fc.array(fc.tuple(headerName, anyText(80)), { maxLength: 6 }),
  body: fc.oneof(fc.constant(undefined), anyText(60)),
});

const base = (body: string): SignableRequest => ({
  method: "POST",
  path: "/",
  query: [],
  headers: [
    ["host", "127.0.0.1:8080"],
    ["content-type", "application/x-www-form-urlencoded; charset=utf-8"],
  ],
  body,
});

/** Correctly signed requests (header and presigned forms), then one part damaged. */
const damagedRequest: fc.Arbitrary<SignableRequest> = fc
  .record({
    presigned: fc.boolean(),
    session: fc.boolean(),
    body: fc.constantFrom("Action=ListUsers&Version=2010-05-08", ""),
    expires: fc.constantFrom(1, 900, 604_800),
    part: fc.constantFrom("auth", "query", "header", "none"),
    edit: fc.tuple(fc.nat(), anyText(8)),
  })
  .map((r): SignableRequest => {
    const credentials = r.session ? { ...CREDS, sessionToken: SESSION } : CREDS;
    const params = { credentials, region: "us-east-1", service: "iam", signingDate: NOW };
    let request: SignableRequest;
    if (r.presigned) {
      const p = presignRequest({ ...base(""), method: "GET" }, { ...params, expiresIn: r.expires });
      request = { ...base(""), method: "GET", query: p.query };
    } else {
      const b = base(r.body);
      const signed = signRequest(b, params);
      request = { ...b, headers: signed.headers };
    }
    const [at, text] = r.edit;
    const spliceText = (s: string) => {
      const i = s.length === 0 ? 0 : at % (s.length + 1);
      return s.slice(0, i) + text + s.slice(i + 1);
    };
    if (r.part === "query" && request.query.length > 0) {
      const i = at % request.query.length;
      const q = request.query.map(([k, v], j) =>
        j === i ? ([k, spliceText(v)] as const) : ([k, v] as const),
      );
      return { ...request, query: q };
    }
    if (r.part === "auth" || r.part === "header") {
      const i =
        r.part === "auth"
          ? request.headers.findIndex(([k]) => k === "authorization")
          : at % request.headers.length;
      const h = request.headers.map(([k, v], j) =>
        j === i ? ([k, spliceText(v)] as const) : ([k, v] as const),
      );
      return { ...request, headers: h };
    }
    return request;
  });

const lookup = (id: string) =>
  id === CREDS.accessKeyId
    ? { secretAccessKey: CREDS.secretAccessKey, status: "Active" as const, sessionToken: SESSION }
    : id === "AKIDINACTIVE"
      ? { secretAccessKey: "x", status: "Inactive" as const }
      : undefined;

export const sigv4Verifier: Target<SignableRequest> = {
  name: "sigv4-verify",
  covers: "verifyRequest: arbitrary requests, and signed requests (both forms) with one part damaged",
  arbitrary: fc.oneof(arbitraryRequest, damagedRequest),
  async run(request) {
    const r = await verifyRequest(request, { lookupCredential: lookup, now: () => NOW });
    if (r.ok && r.accessKeyId !== CREDS.accessKeyId) throw new OracleError(`verified for ${r.accessKeyId}`);
  },
  // Documented to resolve to a failure with AWS's error code, never to reject.
  expected: () => false,
};

const KINDS: PolicyKind[] = [
  "identity-managed",
  "identity-inline-user",
  "identity-inline-role",
  "identity-inline-group",
  "session",
  "trust",
  "resource",
];

const policyScalar = fc.oneof(
  fc.constantFrom(
    "*",
    "rds-db:connect",
    "arn:aws:rds-db:us-east-1:123456789012:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/${aws:username}",
    "arn:aws:iam::123456789012:user/jane",
    "${aws:username}",
    "${*}",
    "123456789012",
    "Allow",
    "Deny",
    "2012-10-17",
    "10.0.0.0/8",
    "true",
  ),
  anyText(20),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
);
const key = fc.oneof(
  fc.constantFrom(
    "Version",
    "Id",
    "Statement",
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
    "AWS",
    "Service",
    "Federated",
    "StringEquals",
    "StringLike",
    "ForAnyValue:StringLike",
    "ForAllValues:StringEquals",
    "NumericLessThanIfExists",
    "DateGreaterThan",
    "Bool",
    "IpAddress",
    "ArnLike",
    "Null",
    "BinaryEquals",
    "aws:username",
    "aws:SourceIp",
    "aws:CurrentTime",
  ),
  anyText(10),
);
const { tree } = fc.letrec((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    policyScalar,
    fc.array(tie("tree"), { maxLength: 4 }),
    fc.dictionary(key, tie("tree"), { maxKeys: 5 }),
  ),
}));
const policyShaped = fc
  .record({
    Version: fc.constantFrom("2012-10-17", "2008-10-17", "x"),
    Statement: fc.oneof(fc.array(fc.dictionary(key, tree, { maxKeys: 6 }), { maxLength: 3 }), tree),
  })
  .map((d) => d as unknown);
const validPolicy = fc.constantFrom(
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"rds-db:connect","Resource":"arn:aws:rds-db:*:*:dbuser:*/${aws:username}","Condition":{"IpAddress":{"aws:SourceIp":["10.0.0.0/8"]},"StringLike":{"aws:PrincipalTag/team":"d?ta*"}}}]}',
  '{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["iam:*","sts:*"],"NotResource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":["a","b"]},"NumericLessThanIfExists":{"aws:MultiFactorAuthAge":"3600"}}}}',
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root","123456789012"]},"Action":"sts:AssumeRole","Condition":{"Null":{"aws:TokenIssueTime":"false"}}}]}',
);

export const policyParser: Target<{ source: unknown; kind: PolicyKind }> = {
  name: "policy-parse",
  covers:
    "parsePolicyDocument (+ compile of what it accepts): any text, JSON, policy-shaped trees, valid policies damaged",
  arbitrary: fc.record({
    source: fc.oneof(
      anyText(300),
      fc.json({ maxDepth: 4 }),
      policyShaped,
      policyShaped.map((d) => JSON.stringify(d)),
      mutatedText(validPolicy),
    ),
    kind: fc.constantFrom(...KINDS),
  }),
  run({ source, kind }) {
    const doc = parsePolicyDocument(source, kind);
    compileDocument(doc, { kind });
  },
  expected: (e) => e instanceof MalformedPolicyDocumentError,
};

const formKey = fc.oneof(
  fc.constantFrom(
    "Action",
    "Version",
    "UserName",
    "Tags.member.1.Key",
    "Tags.member.1.Value",
    "Tags.Tag.2.Key",
    "PolicyArns.member.1",
    "Tags",
    "Tags.member.x",
    "MaxItems",
    "DurationSeconds",
  ),
  anyText(16),
);
const formValue = fc.oneof(
  fc.constantFrom("", "1", "-1", "true", "FALSE", "1e3", "999999999999999999"),
  anyText(30),
);
const form = fc.oneof(
  anyText(200),
  fc
    .array(fc.tuple(formKey, formValue, fc.boolean()), { maxLength: 8 })
    .map((pairs) =>
      pairs
        .map(([k, v, raw]) => (raw ? `${k}=${v}` : `${encodeURIComponent(k)}=${encodeURIComponent(v)}`))
        .join("&"),
    ),
);

export const queryParams: Target<{ text: string; style: "iam" | "rds"; names: string[] }> = {
  name: "query-params",
  covers: "parseForm, then QueryParams str/int/bool/strings/structs/tags over what it read",
  arbitrary: fc.record({
    text: form,
    style: fc.constantFrom("iam" as const, "rds" as const),
    names: fc.array(formKey, { maxLength: 3 }),
  }),
  run({ text, style, names }) {
    const params = new QueryParams(new Map(parseForm(text)), style);
    for (const name of [...names, ...params.keys(), "Tags", "PolicyArns", "MaxItems"]) {
      const stem = name.split(".")[0] ?? name;
      for (const read of [
        () => params.str(name),
        () => params.int(name),
        () => params.bool(name),
        () => params.has(stem),
        () => params.strings(stem),
        () => params.structs(stem)?.map((s) => s.keys()),
        () => params.tags(stem),
      ]) {
        try {
          read();
        } catch (e) {
          if (!(e instanceof ApiError)) throw e;
        }
      }
    }
  },
  expected: (e) => e instanceof ApiError,
};
