// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${...} inside ordinary strings.
/** Unit tables for the wildcard / ARN matchers and IP parsing under the evaluator. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ipInRange, parseCidr, parseIp } from "../../src/policy/ip.js";
import {
  compileArnPattern,
  compileGlobText,
  matchArnPattern,
  matchGlob,
  splitArn,
} from "../../src/policy/match.js";
import { parseTemplate, resolveTemplate } from "../../src/policy/variables.js";

describe("glob", () => {
  const rows: [
    pattern: string,
    value: string,
    expected: boolean,
    options?: { ignoreCase?: boolean; arnSegments?: boolean },
  ][] = [
    ["abc", "abc", true],
    ["abc", "abd", false],
    ["a*c", "ac", true],
    ["a*c", "abbbc", true],
    ["a*c", "abbbd", false],
    ["a?c", "abc", true],
    ["a?c", "ac", false],
    ["*", "", true],
    ["?", "", false],
    ["**a", "ba", true],
    ["*a*b*c*", "xaybzc", true],
    ["*a*b*c*", "xaybz", false],
    ["a.b", "aXb", false],
    ["a+", "aa", false],
    ["(x)", "(x)", true],
    ["ABC", "abc", true, { ignoreCase: true }],
    ["ABC", "abc", false],
    ["a:*", "a:b:c", true, { arnSegments: true }],
    ["a*:c", "ab:c", true, { arnSegments: true }],
    ["a*b", "a:b", false, { arnSegments: true }],
    ["a*b", "a:b", true],
    ["a?b", "a:b", false, { arnSegments: true }],
    ["x*y*z", "x:y:z", false, { arnSegments: true }],
    ["x*", "x:y:z", true, { arnSegments: true }],
  ];
  for (const [pattern, value, expected, options] of rows) {
    test(`${JSON.stringify(pattern)} ~ ${JSON.stringify(value)}${options ? ` ${JSON.stringify(options)}` : ""} -> ${expected}`, () => {
      assert.equal(matchGlob(compileGlobText(pattern, options), value), expected);
    });
  }

  test("a pattern that makes backtracking matchers explode still finishes (NFA, linear per state)", () => {
    assert.equal(matchGlob(compileGlobText(`${"*a".repeat(50)}b`), "a".repeat(5000)), false);
  });
});

describe("ARN patterns", () => {
  const arn = (p: string) => compileArnPattern([{ text: p, wildcards: true }]);
  test("splitArn keeps colons of the resource part", () => {
    assert.deepEqual(splitArn("arn:aws:rds-db:us-east-1:123:dbuser:db-X/u"), [
      "arn",
      "aws",
      "rds-db",
      "us-east-1",
      "123",
      "dbuser:db-X/u",
    ]);
    assert.deepEqual(splitArn("x"), ["x"]);
  });
  test("segment by segment", () => {
    assert.equal(matchArnPattern(arn("arn:aws:sns:*:123:t"), "arn:aws:sns:eu-west-1:123:t"), true);
    assert.equal(matchArnPattern(arn("arn:aws:sns:*:123:t"), "arn:aws:sns:eu-west-1:999:t"), false);
  });
  test("the sixth segment keeps colons and * spans them", () => {
    assert.equal(
      matchArnPattern(arn("arn:aws:rds-db:*:*:dbuser:*"), "arn:aws:rds-db:r:1:dbuser:db-X/u"),
      true,
    );
  });
  test("fewer pattern segments: the last one takes the rest", () => {
    assert.equal(matchArnPattern(arn("arn:aws:*"), "arn:aws:s3:::bucket"), true);
    assert.equal(matchArnPattern(arn("arn:aws-cn:*"), "arn:aws:s3:::bucket"), false);
  });
});

describe("templates", () => {
  const source = (values: Record<string, string>) => ({ variable: (k: string) => values[k] });
  test("parses text, variables, defaults and special characters", () => {
    const t = parseTemplate("a${aws:username}b${*}${aws:x, 'd e'}", true);
    assert.deepEqual(t.parts, [
      { kind: "text", text: "a" },
      { kind: "variable", key: "aws:username", keyLower: "aws:username", defaultValue: undefined },
      { kind: "text", text: "b" },
      { kind: "literal", text: "*" },
      { kind: "variable", key: "aws:x", keyLower: "aws:x", defaultValue: "d e" },
    ]);
    assert.deepEqual(t.variableKeys, ["aws:username", "aws:x"]);
  });
  test("does not substitute when told not to (2008-10-17)", () => {
    assert.deepEqual(parseTemplate("${aws:username}", false).parts, [
      { kind: "text", text: "${aws:username}" },
    ]);
  });
  test("keeps ${} and names without a vendor as text", () => {
    assert.deepEqual(parseTemplate("${}${username}", true).parts, [{ kind: "text", text: "${}${username}" }]);
  });
  test("resolves, or reports the missing key", () => {
    const t = parseTemplate("u/${aws:username}", true);
    assert.deepEqual(resolveTemplate(t, source({ "aws:username": "jane" })), {
      ok: true,
      value: [
        { text: "u/", wildcards: true },
        { text: "jane", wildcards: false },
      ],
    });
    assert.deepEqual(resolveTemplate(t, source({})), { ok: false, missingKey: "aws:username" });
  });
});

describe("IP addresses", () => {
  const inRange = (cidr: string, ip: string) => {
    const range = parseCidr(cidr);
    const address = parseIp(ip);
    assert.ok(range && address, `${cidr} / ${ip} should parse`);
    return ipInRange(range, address);
  };
  test("IPv4 ranges", () => {
    assert.equal(inRange("10.0.0.0/8", "10.255.255.255"), true);
    assert.equal(inRange("10.0.0.0/8", "11.0.0.0"), false);
    assert.equal(inRange("10.1.2.3/8", "10.9.9.9"), true, "host bits in the network are ignored");
  });
  test("IPv6 forms", () => {
    assert.equal(inRange("::/0", "2001:db8::1"), true);
    assert.equal(inRange("::1", "0:0:0:0:0:0:0:1"), true);
    assert.equal(inRange("2001:db8::/32", "2001:0DB8:ffff::"), true);
    assert.equal(inRange("64:ff9b::/96", "64:ff9b::192.0.2.33"), true);
  });
  test("rejects malformed input", () => {
    for (const bad of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      ":::",
      "g::1",
      "1.2.3.4/",
      "1.2.3.4/-1",
    ]) {
      assert.equal(parseCidr(bad), undefined, bad);
    }
  });
});
