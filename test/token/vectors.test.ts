// The 200 tokens botocore printed: each reproduced byte for byte, each verified at its
// time and up to 900 s later, refused at 901 s and when any part of it is altered.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { generateAuthToken, verifyAuthToken } from "../../src/index.js";
import { alterLast, flipSignature, optionsFor, rawParam, storeFor, withParam } from "../helpers/tokens.js";
import { tokenVectors } from "../helpers/vectors.js";

const vectors = tokenVectors();

describe("botocore token vectors", () => {
  it("has 200 vectors, with and without session tokens and mixed-case hosts", () => {
    assert.equal(vectors.length, 200);
    assert.ok(vectors.some((v) => v.sessionToken));
    assert.ok(vectors.some((v) => v.hostname !== v.hostname.toLowerCase()));
  });

  it("generateAuthToken reproduces every token byte for byte", () => {
    for (const v of vectors) {
      const token = generateAuthToken({
        hostname: v.hostname,
        port: v.port,
        username: v.username,
        region: v.region,
        credentials: {
          accessKeyId: v.accessKeyId,
          secretAccessKey: v.secretAccessKey,
          sessionToken: v.sessionToken ?? undefined,
        },
        signingDate: new Date(v.time),
      });
      assert.equal(token, v.token, `vector for ${v.username}@${v.hostname}:${v.port}`);
    }
  });

  it("verifyAuthToken accepts every token at its time and 900 s later, and refuses it at 901 s", async () => {
    for (const v of vectors) {
      const t0 = Date.parse(v.time);
      const at = await verifyAuthToken(v.token, optionsFor(v, t0));
      assert.equal(at.ok, true, `${v.token.slice(0, 60)}: ${at.ok ? "" : at.detail}`);
      if (at.ok) {
        assert.equal(at.accessKeyId, v.accessKeyId);
        assert.equal(at.dbUser, v.username);
        assert.equal(at.region, v.region);
        assert.equal(at.signedAt.getTime(), t0);
        assert.equal(at.expiresAt.getTime(), t0 + 900_000);
        assert.equal(at.temporary, Boolean(v.sessionToken));
      }
      assert.equal((await verifyAuthToken(v.token, optionsFor(v, t0 + 900_000))).ok, true);
      const late = await verifyAuthToken(v.token, optionsFor(v, t0 + 901_000));
      assert.equal(late.ok ? "ok" : late.cause, "expired");
    }
  });

  it("refuses every token with one altered signature digit", async () => {
    for (const v of vectors) {
      const r = await verifyAuthToken(flipSignature(v.token), optionsFor(v, Date.parse(v.time)));
      assert.equal(r.ok ? "ok" : r.cause, "signature-mismatch");
    }
  });

  it("refuses every token whose DBUser was changed, even when the login user matches the change", async () => {
    for (const v of vectors) {
      const token = withParam(v.token, "DBUser", "mallory");
      const r = await verifyAuthToken(token, optionsFor(v, Date.parse(v.time), { dbUser: "mallory" }));
      assert.equal(r.ok ? "ok" : r.cause, "signature-mismatch");
    }
  });

  it("refuses every token presented to another host or port, or with its prefix rewritten", async () => {
    for (const v of vectors) {
      const t0 = Date.parse(v.time);
      const otherHost = await verifyAuthToken(
        v.token,
        optionsFor(v, t0, { hostnames: ["other.example.com"] }),
      );
      assert.equal(otherHost.ok ? "ok" : otherHost.cause, "host-mismatch");
      const otherPort = await verifyAuthToken(
        v.token,
        optionsFor(v, t0, { port: v.port === 1 ? 2 : v.port - 1 }),
      );
      assert.equal(otherPort.ok ? "ok" : otherPort.cause, "port-mismatch");
      // A client that rewrites the prefix to our name still carries a signature over the old one.
      const rewritten = v.token.replace(`${v.hostname}:${v.port}/?`, `victim.example.com:${v.port}/?`);
      const r = await verifyAuthToken(rewritten, optionsFor(v, t0, { hostnames: ["victim.example.com"] }));
      assert.equal(r.ok ? "ok" : r.cause, "signature-mismatch");
    }
  });

  it("refuses every token whose X-Amz-Date or session token was changed", async () => {
    for (const v of vectors) {
      const t0 = Date.parse(v.time);
      const date = rawParam(v.token, "X-Amz-Date");
      const seconds = Number(date.slice(13, 15));
      const shifted = `${date.slice(0, 13)}${String((seconds + 1) % 60).padStart(2, "0")}Z`;
      const r = await verifyAuthToken(withParam(v.token, "X-Amz-Date", shifted), optionsFor(v, t0));
      assert.equal(r.ok ? "ok" : r.cause, "signature-mismatch");
      if (v.sessionToken) {
        const other = alterLast(rawParam(v.token, "X-Amz-Security-Token"));
        const s = await verifyAuthToken(withParam(v.token, "X-Amz-Security-Token", other), optionsFor(v, t0));
        assert.equal(s.ok ? "ok" : s.cause, "signature-mismatch");
      }
    }
  });

  it("refuses every token when the store holds another secret for the key", async () => {
    for (const v of vectors) {
      const secretAccessKey = alterLast(v.secretAccessKey);
      const r = await verifyAuthToken(
        v.token,
        optionsFor(v, Date.parse(v.time), { lookupCredential: storeFor(v, { secretAccessKey }) }),
      );
      assert.equal(r.ok ? "ok" : r.cause, "signature-mismatch");
    }
  });
});
