import assert from "node:assert/strict";
import { createHash, createHmac, pbkdf2Sync } from "node:crypto";
import { describe, it } from "node:test";
import {
  parseScramVerifier,
  ScramError,
  ScramServerExchange,
  type ScramVerifier,
} from "../../src/embedded/scram.js";

/** What PostgreSQL stores for a password (scram_build_secret in src/common/scram-common.c). */
function verifierFor(password: string, salt: Buffer, iterations: number): ScramVerifier {
  const salted = pbkdf2Sync(password, salt, iterations, 32, "sha256");
  const clientKey = createHmac("sha256", salted).update("Client Key").digest();
  return {
    iterations,
    salt,
    storedKey: createHash("sha256").update(clientKey).digest(),
    serverKey: createHmac("sha256", salted).update("Server Key").digest(),
  };
}

// RFC 7677 §3: user "user", password "pencil".
const RFC = {
  salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"),
  clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
  serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
  clientFinal:
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
  serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

describe("SCRAM-SHA-256 server", () => {
  const verifier = verifierFor("pencil", RFC.salt, 4096);

  it("reproduces the RFC 7677 exchange", () => {
    const x = new ScramServerExchange(verifier, RFC.serverNonce);
    assert.equal(x.first(RFC.clientFirst), RFC.serverFirst);
    assert.equal(x.final(RFC.clientFinal), RFC.serverFinal);
  });

  it("rejects a proof made with another password as a wrong password", () => {
    const x = new ScramServerExchange(verifierFor("pencil2", RFC.salt, 4096), RFC.serverNonce);
    x.first(RFC.clientFirst);
    assert.throws(
      () => x.final(RFC.clientFinal),
      (e: unknown) => e instanceof ScramError && e.wrongPassword,
    );
  });

  it("rejects malformed or mismatched messages as protocol errors", () => {
    const bad =
      (clientFirst: string, clientFinal = RFC.clientFinal) =>
      () => {
        const x = new ScramServerExchange(verifier, RFC.serverNonce);
        x.first(clientFirst);
        x.final(clientFinal);
      };
    const notWrongPassword = (e: unknown) => e instanceof ScramError && !e.wrongPassword;
    assert.throws(bad("p=tls-server-end-point,,n=,r=abc"), /channel binding was requested/);
    assert.throws(bad("n,a=admin,n=,r=abc"), /authorization identities/);
    assert.throws(bad("n,,n=user"), notWrongPassword);
    assert.throws(bad("n,,n=user,r=a,b"), notWrongPassword);
    assert.throws(bad(RFC.clientFirst, RFC.clientFinal.replace("r=rOpr", "r=XOpr")), /nonce does not match/);
    assert.throws(bad(RFC.clientFirst, RFC.clientFinal.replace("c=biws", "c=eSws")), /channel binding data/);
    assert.throws(bad(RFC.clientFirst, "c=biws"), notWrongPassword);
  });

  it("parses the verifier format PostgreSQL stores", () => {
    const stored = `SCRAM-SHA-256$4096:${RFC.salt.toString("base64")}$${verifier.storedKey.toString("base64")}:${verifier.serverKey.toString("base64")}`;
    assert.deepEqual(parseScramVerifier(stored), verifier);
    assert.equal(parseScramVerifier("md5a3556571e93b0d20722ba62be61e8c2d"), undefined);
    assert.equal(parseScramVerifier("SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:c2hvcnQ="), undefined);
  });
});
