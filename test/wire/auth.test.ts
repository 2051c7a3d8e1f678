import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { md5Password, saslprep } from "../../src/wire/postgres/index.js";

describe("md5Password", () => {
  it("matches a vector computed with Python's hashlib", () => {
    // "md5" + md5(md5("postgres" + "postgres").hexdigest() + b"\x01\x02\x03\x04").hexdigest()
    assert.equal(md5Password("postgres", "postgres", Buffer.from([1, 2, 3, 4])), MD5_VECTOR);
  });
});

const MD5_VECTOR = "md568be9ed08db75f318087ab337aaea044";

describe("saslprep (approximation of RFC 4013 as PostgreSQL applies it)", () => {
  const examples: Array<[string, string, string]> = [
    ["ASCII is unchanged", "pencil", "pencil"],
    ["soft hyphen maps to nothing (RFC 4013 example)", "I\u00ADX", "IX"],
    ["ASCII is unchanged even with a control character", "user\u0007", "user\u0007"],
    ["feminine ordinal indicator NFKC-normalises (RFC 4013 example)", "\u00AA", "a"],
    ["roman numeral nine NFKC-normalises (RFC 4013 example)", "\u2168", "IX"],
    ["a no-break space becomes a space", "p\u00A0w", "p w"],
    ["a ligature NFKC-normalises", "\uFB00é", "ffé"],
    ["zero width space is a space, not nothing (C.1.2 wins, as in PostgreSQL)", "a\u200Bé", "a é"],
    ["a prohibited character leaves the password raw", "\u00AA\u0007", "\u00AA\u0007"],
    ["a private-use character leaves the password raw", "\u00AA\uE000", "\u00AA\uE000"],
    ["a password mapping to nothing stays raw", "\u00AD", "\u00AD"],
  ];
  for (const [label, input, expected] of examples) {
    it(label, () => assert.equal(saslprep(input), expected));
  }
});
