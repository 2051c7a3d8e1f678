// The official SigV4 test suite (awslabs/aws-c-auth), both the Authorization-header form
// and the presigned query form: canonical request, string to sign and signature.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { presignRequest, SigningKeyCache, signRequest } from "../../src/sigv4/index.js";
import { sigv4SuiteCases } from "../helpers/vectors.js";

const cases = sigv4SuiteCases();

describe("SigV4 test suite", () => {
  it("has all 38 cases", () => {
    assert.equal(cases.length, 38);
  });

  for (const c of cases) {
    const credentials = {
      accessKeyId: c.context.credentials.access_key_id,
      secretAccessKey: c.context.credentials.secret_access_key,
      sessionToken: c.context.credentials.token,
    };
    const common = {
      credentials,
      region: c.context.region,
      service: c.context.service,
      signingDate: new Date(c.context.timestamp),
      normalizePath: c.context.normalize,
      sessionTokenSigned: !c.context.omit_session_token,
    };

    it(`${c.name}: header form`, () => {
      const signed = signRequest(
        c.request,
        { ...common, signPayloadHeader: c.context.sign_body },
        new SigningKeyCache(),
      );
      assert.equal(signed.canonicalRequest, c.expected.header.canonicalRequest);
      assert.equal(signed.stringToSign, c.expected.header.stringToSign);
      assert.equal(signed.signature, c.expected.header.signature);
    });

    it(`${c.name}: query form`, () => {
      const presigned = presignRequest(
        c.request,
        { ...common, expiresIn: c.context.expiration_in_seconds },
        new SigningKeyCache(),
      );
      assert.equal(presigned.canonicalRequest, c.expected.query.canonicalRequest);
      assert.equal(presigned.stringToSign, c.expected.query.stringToSign);
      assert.equal(presigned.signature, c.expected.query.signature);
      assert.deepEqual(presigned.query.at(-1), ["X-Amz-Signature", c.expected.query.signature]);
    });
  }
});
