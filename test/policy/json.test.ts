/**
 * Duplicate JSON keys: the scanner agrees with JSON.parse on every document without duplicates
 * and finds every duplicate, however spelled; every policy kind refuses them.
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  MalformedPolicyDocumentError,
  type PolicyKind,
  parsePolicyDocument,
} from "../../src/policy/index.js";
import { findDuplicateKey } from "../../src/policy/json.js";

/** A JSON tree whose objects are entry lists, so two entries may share a key. */
type Tree = { t: "leaf"; v: string } | { t: "arr"; items: Tree[] } | { t: "obj"; entries: [Key, Tree][] };
/** A key and how it is written (plain, or with some characters as \u escapes). */
type Key = { name: string; escapeMask: number };

const leaf = fc
  .oneof(
    fc.string(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
  )
  .map((v): Tree => ({ t: "leaf", v: JSON.stringify(v) }));
// Few key names, so duplicates are frequent; odd characters so escapes and quotes are covered.
const key = fc.record({
  name: fc.oneof(
    fc.constantFrom("Statement", "Effect", "a", "A", "é", 'q"', "b\\", ""),
    fc.string({ maxLength: 3 }),
  ),
  escapeMask: fc.nat(),
});
const { tree } = fc.letrec<{ tree: Tree }>((tie) => ({
  tree: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    leaf,
    fc.array(tie("tree"), { maxLength: 4 }).map((items): Tree => ({ t: "arr", items })),
    fc.array(fc.tuple(key, tie("tree")), { maxLength: 5 }).map((entries): Tree => ({ t: "obj", entries })),
  ),
}));
const space = fc.constantFrom("", " ", "\n", "\t ", "\r\n  ");

/** Writes a key with the characters picked by its mask as \uXXXX escapes. */
function writeKey(k: Key): string {
  let out = "";
  [...k.name].forEach((ch, i) => {
    const code = ch.codePointAt(0) ?? 0;
    if ((k.escapeMask >> i) & 1 && code <= 0xffff) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += JSON.stringify(ch).slice(1, -1);
  });
  return `"${out}"`;
}

function write(t: Tree, ws: string): string {
  switch (t.t) {
    case "leaf":
      return t.v;
    case "arr":
      return `[${ws}${t.items.map((x) => write(x, ws)).join(`,${ws}`)}${ws}]`;
    case "obj":
      return `{${ws}${t.entries.map(([k, v]) => `${writeKey(k)}${ws}:${ws}${write(v, ws)}`).join(`,${ws}`)}${ws}}`;
  }
}

/** The oracle: JSON.parse keeps fewer keys than the object has entries exactly when one repeats. */
function hasDuplicate(t: Tree): boolean {
  if (t.t === "leaf") return false;
  if (t.t === "arr") return t.items.some(hasDuplicate);
  const parsed = JSON.parse(write(t, "")) as object;
  if (Object.keys(parsed).length < t.entries.length) return true;
  return t.entries.some(([, v]) => hasDuplicate(v));
}

describe("findDuplicateKey", () => {
  test("finds nothing in any JSON.parse-able document without duplicates (property)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat({ max: 4 }), (value, indent) => {
        assert.equal(findDuplicateKey(JSON.stringify(value, null, indent)), undefined);
      }),
      { numRuns: 2000 },
    );
  });

  test("finds a duplicate exactly when JSON.parse drops a key, whatever the spelling (property)", () => {
    fc.assert(
      fc.property(tree, space, (t, ws) => {
        const text = write(t, ws);
        JSON.parse(text); // the generator writes valid JSON
        assert.equal(findDuplicateKey(text) !== undefined, hasDuplicate(t), text);
      }),
      { numRuns: 3000 },
    );
  });

  test("names the key as decoded and where its object sits", () => {
    assert.deepEqual(findDuplicateKey('{"Statement":[],"St\\u0061tement":{}}'), {
      key: "Statement",
      path: "",
    });
    assert.deepEqual(
      findDuplicateKey('{"Statement":[{"Effect":"Allow"},{"Condition":{"Bool":{"k":"1","k":"2"}}}]}'),
      { key: "k", path: "Statement[1].Condition.Bool" },
    );
    assert.equal(findDuplicateKey('{"a":"\\"a\\"","b":{"a":1}}'), undefined);
    assert.equal(findDuplicateKey('[{"a":1},{"a":1}]'), undefined);
  });

  test("never throws on arbitrary text, and scans deep nesting without recursion", () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        findDuplicateKey(s);
      }),
    );
    const deep = `${"[".repeat(200_000)}${"]".repeat(200_000)}`;
    assert.equal(findDuplicateKey(deep), undefined);
  });
});

const KINDS: readonly [PolicyKind, string][] = [
  ["identity-managed", '{"Effect":"Allow","Action":"*","Resource":"*"}'],
  ["identity-inline-user", '{"Effect":"Allow","Action":"*","Resource":"*"}'],
  ["identity-inline-group", '{"Effect":"Allow","Action":"*","Resource":"*"}'],
  ["identity-inline-role", '{"Effect":"Allow","Action":"*","Resource":"*"}'],
  ["session", '{"Effect":"Allow","Action":"*","Resource":"*"}'],
  ["trust", '{"Effect":"Allow","Principal":{"AWS":"123456789012"},"Action":"sts:AssumeRole"}'],
  ["resource", '{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}'],
];

describe("duplicate keys in policies", () => {
  for (const [kind, allowStatement] of KINDS) {
    test(`${kind}: "Statement" twice is MalformedPolicyDocument (JSON.parse would keep the second)`, () => {
      const deny = '{"Effect":"Deny","Action":"*","Resource":"*"}';
      const denyStatement =
        kind === "trust" || kind === "resource" ? allowStatement.replace("Allow", "Deny") : deny;
      const text = `{"Version":"2012-10-17","Statement":[${denyStatement}],"Statement":[${allowStatement}]}`;
      assert.throws(
        () => parsePolicyDocument(text, kind),
        (e: unknown) =>
          e instanceof MalformedPolicyDocumentError &&
          e.code === "MalformedPolicyDocument" &&
          /Duplicate key "Statement"/.test(e.message),
      );
      // The same document without the repeat is fine.
      parsePolicyDocument(`{"Version":"2012-10-17","Statement":[${allowStatement}]}`, kind);
    });
  }

  test("a duplicate inside a statement or a condition block is refused too", () => {
    for (const text of [
      '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}}',
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:username":"a"},"StringEquals":{"aws:username":"b"}}}}',
    ]) {
      assert.throws(() => parsePolicyDocument(text, "identity-managed"), MalformedPolicyDocumentError);
    }
  });
});
