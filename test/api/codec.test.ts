import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ApiError } from "../../src/api/errors.js";
import { errorDocument, resultDocument, SERVICES } from "../../src/api/handler.js";
import { parseForm, QueryParams } from "../../src/api/params.js";
import { element, xmlList } from "../../src/api/xml.js";

const params = (pairs: Record<string, string>, style: "iam" | "rds" = "iam") =>
  new QueryParams(new Map(Object.entries(pairs)), style);

describe("Query-protocol codec", () => {
  it("reads lists under any member name, in index order", () => {
    const p = params({
      "Tags.Tag.2.Key": "b",
      "Tags.Tag.2.Value": "2",
      "Tags.Tag.1.Key": "a",
      "Tags.Tag.1.Value": "1",
      "TagKeys.member.1": "x",
      "TagKeys.member.10": "z",
      "TagKeys.member.2": "y",
      Empty: "",
    });
    assert.deepEqual(p.tags(), [
      { key: "a", value: "1" },
      { key: "b", value: "2" },
    ]);
    assert.deepEqual(p.strings("TagKeys"), ["x", "y", "z"]);
    assert.deepEqual(p.strings("Empty"), []);
    assert.equal(p.strings("Absent"), undefined);
  });

  it("reads nested structure lists (ContextEntries)", () => {
    const p = params({
      "ContextEntries.member.1.ContextKeyName": "aws:SourceIp",
      "ContextEntries.member.1.ContextKeyValues.member.1": "10.0.0.1",
      "ContextEntries.member.1.ContextKeyValues.member.2": "10.0.0.2",
    });
    const [entry] = p.structs("ContextEntries") ?? [];
    assert.equal(entry?.required("ContextKeyName"), "aws:SourceIp");
    assert.deepEqual(entry?.strings("ContextKeyValues"), ["10.0.0.1", "10.0.0.2"]);
    assert.throws(
      () => entry?.required("ContextKeyType"),
      (e: ApiError) =>
        e.code === "ValidationError" && e.message.includes("'contextEntries.member.1.contextKeyType'"),
    );
  });

  it("reports missing parameters in each service's words", () => {
    assert.throws(() => params({}).required("UserName"), { code: "ValidationError" });
    assert.throws(() => params({}, "rds").required("DBInstanceIdentifier"), {
      code: "MissingParameter",
      message: "The request must contain the parameter DBInstanceIdentifier",
    });
    assert.throws(() => params({ MaxItems: "1.5" }).int("MaxItems"), { code: "ValidationError" });
    assert.throws(() => params({ B: "maybe" }, "rds").bool("B"), { code: "InvalidParameterValue" });
  });

  it("parses form bodies strictly", () => {
    assert.deepEqual(parseForm("a=1&b=x+y%2Bz&c&=&d=%E2%9C%93"), [
      ["a", "1"],
      ["b", "x y+z"],
      ["c", ""],
      ["", ""],
      ["d", "✓"],
    ]);
    assert.throws(() => parseForm("a=%E2%9C"), { code: "MalformedQueryString" });
  });

  it("never crashes on arbitrary bodies: parsed pairs or MalformedQueryString", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        try {
          parseForm(text);
        } catch (e) {
          assert.ok(e instanceof ApiError && e.code === "MalformedQueryString");
        }
      }),
    );
  });

  it("round-trips any form-encoded values", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.string())), (pairs) => {
        const encoded = new URLSearchParams(pairs).toString();
        assert.deepEqual(parseForm(encoded), pairs);
      }),
    );
  });

  it("writes escaped XML with member lists", () => {
    assert.equal(
      element("User", { UserName: "a<b&c", Tags: xmlList([{ Key: "k", Value: "'\"" }]), Skip: undefined }),
      "<User><UserName>a&lt;b&amp;c</UserName><Tags><member><Key>k</Key><Value>&apos;&quot;</Value></member></Tags></User>",
    );
    assert.equal(element("When", new Date("2026-01-01T12:00:00.123Z")), "<When>2026-01-01T12:00:00Z</When>");
    assert.equal(element("L", xmlList([], "DBInstance")), "<L></L>");
  });

  it("wraps results and errors in AWS's envelopes", () => {
    const iam = SERVICES.iam;
    assert.ok(iam);
    assert.equal(
      resultDocument(iam, "DeleteUser", undefined, "rid"),
      '<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteUserResponse>',
    );
    assert.equal(
      errorDocument(iam.namespace, new ApiError("NoSuchEntity", 404, "gone <x>"), "rid"),
      '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>gone &lt;x&gt;</Message></Error><RequestId>rid</RequestId></ErrorResponse>',
    );
  });
});
