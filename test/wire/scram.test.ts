// The one SCRAM-SHA-256 module (src/wire/postgres/scram.ts): the client the gateway logs in to
// backends with, the server the embedded PostgreSQL checks clients with, and the verifier
// provisioning stores; held to RFC 7677's example and to what a real PostgreSQL 15 stores.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import pg from "pg";
import {
  MAX_SCRAM_ITERATIONS,
  parseScramVerifier,
  ScramError,
  ScramPasswordMismatch,
  ScramSha256Client,
  ScramSha256Server,
  type ScramVerifier,
  scramVerifier,
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

/** RFC 7677 section 3 as the server sees it. */
const rfcServer = {
  salt: Buffer.from("W22ZaJ0SNY7soEsUEjb6gQ==", "base64"),
  clientFirst: `n,,n=user,r=${rfc7677.clientNonce}`,
  serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
};

/** The RFC's password as provisioning would store it, read back the way the embedded server reads pg_authid. */
function rfcVerifier(password = rfc7677.password): ScramVerifier {
  const verifier = parseScramVerifier(scramVerifier(password, rfcServer.salt, 4096));
  assert.ok(verifier);
  return verifier;
}

describe("scram-module: server side (ScramSha256Server)", () => {
  it("scram-module: reproduces the RFC 7677 exchange from a verifier scramVerifier built", () => {
    const server = new ScramSha256Server(rfcVerifier(), rfcServer.serverNonce);
    assert.equal(
      server.handleClientFirst(Buffer.from(rfcServer.clientFirst)).toString(),
      rfc7677.serverFirst,
    );
    assert.equal(server.handleClientFinal(Buffer.from(rfc7677.clientFinal)).toString(), rfc7677.serverFinal);
  });

  it("scram-module: refuses the RFC's proof against another password's verifier as a password mismatch", () => {
    const server = new ScramSha256Server(rfcVerifier("pencil2"), rfcServer.serverNonce);
    server.handleClientFirst(Buffer.from(rfcServer.clientFirst));
    assert.throws(() => server.handleClientFinal(Buffer.from(rfc7677.clientFinal)), ScramPasswordMismatch);
  });

  it("scram-module: refuses malformed or mismatched client messages as protocol errors, not mismatches", () => {
    const exchange = (clientFirst: string, clientFinal = rfc7677.clientFinal) => {
      const server = new ScramSha256Server(rfcVerifier(), rfcServer.serverNonce);
      server.handleClientFirst(Buffer.from(clientFirst));
      server.handleClientFinal(Buffer.from(clientFinal));
    };
    const protocolError = (e: unknown) => e instanceof ScramError && !(e instanceof ScramPasswordMismatch);
    const cases: [string, () => void, RegExp | ((e: unknown) => boolean)][] = [
      [
        "channel binding",
        () => exchange("p=tls-server-end-point,,n=,r=abc"),
        /channel binding was requested/,
      ],
      ["authzid", () => exchange("n,a=admin,n=,r=abc"), /authorization identities/],
      ["no nonce", () => exchange("n,,n=user"), protocolError],
      ["comma in nonce", () => exchange("n,,n=user,r=a,b"), protocolError],
      ["nonce before user", () => exchange("n,,r=abc,n=user"), protocolError],
      ["extension", () => exchange("n,,m=ext,n=user,r=abc"), /mandatory extensions/],
      [
        "other nonce",
        () => exchange(rfcServer.clientFirst, rfc7677.clientFinal.replace("r=rOpr", "r=XOpr")),
        /nonce does not match/,
      ],
      [
        "other gs2 header",
        () => exchange(rfcServer.clientFirst, rfc7677.clientFinal.replace("c=biws", "c=eSws")),
        /channel binding data/,
      ],
      ["no proof", () => exchange(rfcServer.clientFirst, "c=biws"), protocolError],
    ];
    for (const [label, run, expected] of cases) assert.throws(run, expected, label);
  });

  it("scram-module: answers a client that could bind channels but believes we cannot (gs2 'y')", () => {
    const client = new ScramSha256Client("pencil", "abc");
    const server = new ScramSha256Server(rfcVerifier("pencil"), "def");
    // The client's own first message, with "y,," instead of "n,,": the proof must then carry c=eSws.
    const first = client.clientFirstMessage().toString().replace(/^n,,/, "y,,");
    const serverFirst = server.handleClientFirst(Buffer.from(first));
    const final = client.handleServerFirst(serverFirst).toString().replace("c=biws", "c=eSws");
    // The proof was computed over c=biws, so it no longer verifies: a mismatch, not a crash.
    assert.throws(() => server.handleClientFinal(Buffer.from(final)), ScramPasswordMismatch);
  });

  it("scram-module: refuses messages out of order", () => {
    const server = new ScramSha256Server(rfcVerifier(), rfcServer.serverNonce);
    assert.throws(() => server.handleClientFinal(Buffer.from(rfc7677.clientFinal)), /out of order/);
    server.handleClientFirst(Buffer.from(rfcServer.clientFirst));
    assert.throws(() => server.handleClientFirst(Buffer.from(rfcServer.clientFirst)), /out of order/);
  });
});

describe("scram-module: stored verifier", () => {
  it("scram-module: builds the RFC 7677 keys in PostgreSQL's text form and reads them back", () => {
    const text = scramVerifier("pencil", rfcServer.salt, 4096);
    assert.match(
      text,
      /^SCRAM-SHA-256\$4096:W22ZaJ0SNY7soEsUEjb6gQ==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/,
    );
    const parsed = parseScramVerifier(text);
    assert.equal(parsed?.iterations, 4096);
    assert.deepEqual(parsed?.salt, rfcServer.salt);
    assert.equal(scramVerifier("pencil", rfcServer.salt, 4096), text);
    assert.notEqual(scramVerifier("pencil"), scramVerifier("pencil"), "a fresh salt each time by default");
  });

  it("scram-module: refuses what is not a SCRAM-SHA-256 verifier", () => {
    for (const text of [
      "md5a3556571e93b0d20722ba62be61e8c2d",
      "SCRAM-SHA-256$4096:c2FsdA==$c2hvcnQ=:c2hvcnQ=",
      `SCRAM-SHA-256$0:c2FsdA==$${"A".repeat(43)}=:${"A".repeat(43)}=`,
      "",
    ]) {
      assert.equal(parseScramVerifier(text), undefined, text);
    }
  });

  it("scram-module: equals what PostgreSQL 15 stores for the same password and salt, SASLprep included", async () => {
    const admin = new pg.Client({ host: "127.0.0.1", port: 5432, user: "postgres", database: "test" });
    await admin.connect();
    const roles = [`scram_module_ascii_${process.pid}`, `scram_module_unicode_${process.pid}`];
    // The second needs SASLprep: U+00AD maps to nothing, U+2168 (roman nine) normalises to "IX".
    const passwords = ["pencil, with = signs", "I\u00ADX \u2168 caf\u00E9"];
    try {
      await admin.query("SET password_encryption = 'scram-sha-256'");
      for (const [i, role] of roles.entries()) {
        await admin.query(
          `CREATE ROLE ${admin.escapeIdentifier(role)} LOGIN PASSWORD ${admin.escapeLiteral(passwords[i] ?? "")}`,
        );
        const { rows } = await admin.query<{ rolpassword: string }>(
          "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
          [role],
        );
        const stored = rows[0]?.rolpassword ?? "";
        const theirs = parseScramVerifier(stored);
        assert.ok(theirs, `PostgreSQL stored ${stored.slice(0, 14)}…`);
        assert.equal(scramVerifier(passwords[i] ?? "", theirs.salt, theirs.iterations), stored);
        // And our server accepts our client against PostgreSQL's own verifier.
        assert.equal(roundTrip(passwords[i] ?? "", theirs), "ok");
      }
    } finally {
      for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${admin.escapeIdentifier(role)}`);
      await admin.end();
    }
  });
});

/** One whole exchange between our client and our server; "ok", or the error's class name. */
function roundTrip(password: string, verifier: ScramVerifier): string {
  const client = new ScramSha256Client(password);
  const server = new ScramSha256Server(verifier);
  try {
    const serverFirst = server.handleClientFirst(client.clientFirstMessage());
    const serverFinal = server.handleClientFinal(client.handleServerFirst(serverFirst));
    client.verifyServerFinal(serverFinal);
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

describe("scram-module: client against server", () => {
  it("scram-module: any password logs in with its own verifier and not with another's", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20, unit: "binary" }),
        fc.string({ minLength: 1, maxLength: 20, unit: "binary" }),
        fc.uint8Array({ minLength: 1, maxLength: 24 }),
        (password, other, salt) => {
          const verifier = parseScramVerifier(scramVerifier(password, Buffer.from(salt), 2));
          assert.ok(verifier);
          assert.equal(roundTrip(password, verifier), "ok");
          fc.pre(other !== password);
          // Another password may SASLprep to the same string; only then may it log in.
          const expected =
            scramVerifier(other, Buffer.from(salt), 2) === scramVerifier(password, Buffer.from(salt), 2)
              ? "ok"
              : "ScramPasswordMismatch";
          assert.equal(roundTrip(other, verifier), expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("scram-module: arbitrary client input to the server side", () => {
  it("scram-module: any bytes as client-first or client-final give a ScramError, never another exception", () => {
    const verifier = rfcVerifier();
    const text = fc.oneof(
      fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)),
      fc
        .array(fc.constantFrom("n", "y", "p", ",", "=", "a", "r", "c", "m", "biws", "eSws", "abc"), {
          maxLength: 12,
        })
        .map((parts) => Buffer.from(parts.join(""))),
    );
    fc.assert(
      fc.property(fc.boolean(), text, text, (wellFormedFirst, first, final) => {
        const server = new ScramSha256Server(verifier, "srv");
        try {
          server.handleClientFirst(wellFormedFirst ? Buffer.from("n,,n=,r=abc") : first);
          server.handleClientFinal(final);
          assert.fail("a random proof verified");
        } catch (e) {
          assert.ok(e instanceof ScramError, `${(e as Error).name}: ${(e as Error).message}`);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
