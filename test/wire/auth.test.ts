import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  MAX_SCRAM_ITERATIONS,
  md5Password,
  ScramError,
  ScramSha256Client,
  saslprep,
} from "../../src/wire/postgres/index.js";

/** RFC 7677 section 3 example (user "user", password "pencil"). */
const rfc7677 = {
  password: "pencil",
  clientNonce: "rOprNGfwEbeRWgbNEkqO",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

describe("ScramSha256Client", () => {
  // The RFC's client-first-message carries "n=user", which is part of AuthMessage; hence the
  // username argument here, where PostgreSQL clients send "n=".
  it("reproduces the RFC 7677 example", () => {
    const client = new ScramSha256Client(rfc7677.password, rfc7677.clientNonce, "user");
    assert.equal(client.clientFirstMessage().toString(), `n,,n=user,r=${rfc7677.clientNonce}`);
    assert.equal(client.handleServerFirst(Buffer.from(rfc7677.serverFirst)).toString(), rfc7677.clientFinal);
    client.verifyServerFinal(Buffer.from(rfc7677.serverFinal));
  });

  it("sends the PostgreSQL client-first-message with an empty username and no channel binding", () => {
    const client = new ScramSha256Client("pencil", "abc");
    assert.equal(client.clientFirstMessage().toString(), "n,,n=,r=abc");
  });

  it("generates a fresh printable nonce when none is injected", () => {
    const first = new ScramSha256Client("p").clientFirstMessage().toString();
    const second = new ScramSha256Client("p").clientFirstMessage().toString();
    assert.match(first, /^n,,n=,r=[A-Za-z0-9+/=]{24}$/);
    assert.notEqual(first, second);
  });

  it("rejects a wrong server signature", () => {
    const client = new ScramSha256Client(rfc7677.password, rfc7677.clientNonce, "user");
    client.clientFirstMessage();
    client.handleServerFirst(Buffer.from(rfc7677.serverFirst));
    assert.throws(
      () => client.verifyServerFinal(Buffer.from("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")),
      ScramError,
    );
  });

  it("rejects a server signature computed for another password", () => {
    const client = new ScramSha256Client("not-pencil", rfc7677.clientNonce, "user");
    client.clientFirstMessage();
    client.handleServerFirst(Buffer.from(rfc7677.serverFirst));
    assert.throws(
      () => client.verifyServerFinal(Buffer.from(rfc7677.serverFinal)),
      /server signature is wrong/,
    );
  });

  it("reports a server error attribute", () => {
    const client = started();
    client.handleServerFirst(Buffer.from(rfc7677.serverFirst));
    assert.throws(() => client.verifyServerFinal(Buffer.from("e=invalid-proof")), /invalid-proof/);
  });

  const badServerFirst: Record<string, string> = {
    "a nonce that does not extend ours": "r=somethingElse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "a nonce equal to ours": `r=${rfc7677.clientNonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`,
    "no salt": `r=${rfc7677.clientNonce}x,i=4096`,
    "a salt that is not base64": `r=${rfc7677.clientNonce}x,s=***,i=4096`,
    "no iteration count": `r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==`,
    "iteration count 0": `r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0`,
    "a non-numeric iteration count": `r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4k`,
    "an iteration count above the limit": `r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=${MAX_SCRAM_ITERATIONS + 1}`,
    "a mandatory extension": `m=ext,r=${rfc7677.clientNonce}x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`,
    "a malformed attribute": "garbage",
    "a duplicate attribute": `r=${rfc7677.clientNonce}x,r=${rfc7677.clientNonce}y,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1`,
  };
  for (const [label, serverFirst] of Object.entries(badServerFirst)) {
    it(`rejects a server-first-message with ${label}`, () => {
      assert.throws(() => started().handleServerFirst(Buffer.from(serverFirst)), ScramError);
    });
  }

  it("rejects messages out of order", () => {
    const client = new ScramSha256Client("p", "abc");
    assert.throws(() => client.handleServerFirst(Buffer.from(rfc7677.serverFirst)), ScramError);
    assert.throws(() => client.verifyServerFinal(Buffer.from(rfc7677.serverFinal)), ScramError);
    client.clientFirstMessage();
    assert.throws(() => client.clientFirstMessage(), ScramError);
  });

  it("escapes ',' and '=' in the username (RFC 5802 saslname)", () => {
    assert.equal(
      new ScramSha256Client("p", "abc", "a,b=c").clientFirstMessage().toString(),
      "n,,n=a=2Cb=3Dc,r=abc",
    );
  });

  it("rejects an injected nonce containing a comma", () => {
    assert.throws(() => new ScramSha256Client("p", "a,b"), ScramError);
  });
});

function started(): ScramSha256Client {
  const client = new ScramSha256Client(rfc7677.password, rfc7677.clientNonce);
  client.clientFirstMessage();
  return client;
}

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
