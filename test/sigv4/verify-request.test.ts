// Verification of signed requests in both forms, as the admin API will use it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  presignRequest,
  type SignableRequest,
  signRequest,
  type VerifierCredential,
  verifyRequest,
} from "../../src/sigv4/index.js";
import { CREDS, T0, TEMP_CREDS } from "../helpers/sign.js";
import { sigv4SuiteCases } from "../helpers/vectors.js";

const keys = new Map<string, VerifierCredential>([
  [CREDS.accessKeyId, { secretAccessKey: CREDS.secretAccessKey, status: "Active" }],
  [
    TEMP_CREDS.accessKeyId,
    {
      secretAccessKey: TEMP_CREDS.secretAccessKey,
      status: "Active",
      sessionToken: TEMP_CREDS.sessionToken,
      expiresAt: new Date(T0 + 600_000),
    },
  ],
]);
const lookupCredential = (id: string) => keys.get(id);
const at = (ms: number) => ({ lookupCredential, now: () => new Date(ms) });

const apiRequest: SignableRequest = {
  method: "POST",
  path: "/",
  query: [],
  headers: [
    ["Host", "127.0.0.1:8400"],
    ["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"],
  ],
  body: "Action=CreateUser&UserName=jane&Version=2010-05-08",
};

function headerSigned(credentials: typeof CREDS & { sessionToken?: string } = CREDS, body = apiRequest.body) {
  const signed = signRequest(
    { ...apiRequest, body },
    { credentials, region: "us-east-1", service: "iam", signingDate: new Date(T0), signPayloadHeader: true },
  );
  return { ...apiRequest, headers: signed.headers };
}

async function code(request: SignableRequest, ms = T0): Promise<string> {
  const r = await verifyRequest(request, at(ms));
  return r.ok ? "ok" : r.code;
}

describe("verifyRequest", () => {
  it("accepts every SigV4 suite request, header and query form, at the suite's time", async () => {
    for (const c of sigv4SuiteCases()) {
      if (!c.context.normalize) continue; // Verification always normalizes (S3 is not an iamdb service).
      const credentials = {
        accessKeyId: c.context.credentials.access_key_id,
        secretAccessKey: c.context.credentials.secret_access_key,
        sessionToken: c.context.credentials.token,
      };
      if (c.context.omit_session_token) continue; // An unsigned session token is refused by design.
      const record: VerifierCredential = {
        secretAccessKey: credentials.secretAccessKey,
        status: "Active",
        sessionToken: credentials.sessionToken,
      };
      const now = () => new Date(c.context.timestamp);
      const params = {
        credentials,
        region: c.context.region,
        service: c.context.service,
        signingDate: now(),
      };
      const h = signRequest(c.request, { ...params, signPayloadHeader: c.context.sign_body });
      const hr = await verifyRequest(
        { ...c.request, headers: h.headers },
        { lookupCredential: () => record, now },
      );
      assert.equal(hr.ok ? "ok" : hr.code, "ok", `${c.name} header form`);
      const q = presignRequest(c.request, { ...params, expiresIn: c.context.expiration_in_seconds });
      const qr = await verifyRequest(
        { ...c.request, query: q.query },
        { lookupCredential: () => record, now },
      );
      assert.equal(qr.ok ? "ok" : qr.code, "ok", `${c.name} query form`);
    }
  });

  it("returns the key, region and service of a header-signed request", async () => {
    const r = await verifyRequest(headerSigned(), at(T0));
    assert.ok(r.ok);
    assert.equal(r.accessKeyId, CREDS.accessKeyId);
    assert.equal(r.service, "iam");
    assert.equal(r.region, "us-east-1");
  });

  it("refuses a changed body, a changed signed header and an unsigned request", async () => {
    const signed = headerSigned();
    assert.equal(
      await code({ ...signed, body: "Action=CreateUser&UserName=root&Version=2010-05-08" }),
      "SignatureDoesNotMatch",
    );
    const noHashHeader = signRequest(apiRequest, {
      credentials: CREDS,
      region: "us-east-1",
      service: "iam",
      signingDate: new Date(T0),
    });
    const altered = { ...apiRequest, headers: noHashHeader.headers, body: `${apiRequest.body}&Path=/x/` };
    assert.equal(await code({ ...apiRequest, headers: noHashHeader.headers }), "ok");
    assert.equal(await code(altered), "SignatureDoesNotMatch");
    const otherHost = signed.headers.map(
      ([k, v]) => [k, k === "Host" ? "127.0.0.1:9999" : v] as [string, string],
    );
    assert.equal(await code({ ...signed, headers: otherHost }), "SignatureDoesNotMatch");
    assert.equal(await code(apiRequest), "MissingAuthenticationToken");
  });

  it("refuses unknown and inactive keys as InvalidClientTokenId", async () => {
    const signed = headerSigned({ accessKeyId: "AKIAUNKNOWNKEY000000", secretAccessKey: "x" });
    assert.equal(await code(signed), "InvalidClientTokenId");
    keys.set("AKIAINACTIVE00000000", { secretAccessKey: "s", status: "Inactive" });
    assert.equal(
      await code(headerSigned({ accessKeyId: "AKIAINACTIVE00000000", secretAccessKey: "s" })),
      "InvalidClientTokenId",
    );
  });

  it("allows 15 minutes of clock difference either way for header signing", async () => {
    const signed = headerSigned();
    assert.equal(await code(signed, T0 + 900_000), "ok");
    assert.equal(await code(signed, T0 + 901_000), "RequestExpired");
    assert.equal(await code(signed, T0 - 901_000), "RequestExpired");
  });

  it("checks temporary credentials' session token and expiry", async () => {
    assert.equal(await code(headerSigned(TEMP_CREDS)), "ok");
    assert.equal(await code(headerSigned(TEMP_CREDS), T0 + 599_999), "ok");
    assert.equal(await code(headerSigned(TEMP_CREDS), T0 + 600_000), "ExpiredToken");
    assert.equal(await code(headerSigned({ ...TEMP_CREDS, sessionToken: "other" })), "InvalidClientTokenId");
    const { sessionToken: _s, ...noToken } = TEMP_CREDS;
    assert.equal(await code(headerSigned(noToken)), "InvalidClientTokenId");
  });

  it("expires presigned requests after X-Amz-Expires", async () => {
    const q = presignRequest(
      {
        method: "GET",
        path: "/",
        query: [["Action", "GetCallerIdentity"]],
        headers: [["host", "127.0.0.1:8400"]],
      },
      { credentials: CREDS, region: "us-east-1", service: "sts", signingDate: new Date(T0), expiresIn: 60 },
    );
    const request = {
      method: "GET",
      path: "/",
      query: q.query,
      headers: [["host", "127.0.0.1:8400"]] as Array<[string, string]>,
    };
    assert.equal(await code(request, T0 + 60_000), "ok");
    assert.equal(await code(request, T0 + 61_000), "RequestExpired");
  });

  it("bounds a presigned request's X-Amz-Date to 15 minutes in the future, like the header form", async () => {
    const presigned = (signedAt: number, expiresIn: number) => ({
      method: "GET",
      path: "/",
      query: presignRequest(
        {
          method: "GET",
          path: "/",
          query: [["Action", "GetCallerIdentity"]],
          headers: [["host", "127.0.0.1:8400"]],
        },
        {
          credentials: CREDS,
          region: "us-east-1",
          service: "sts",
          signingDate: new Date(signedAt),
          expiresIn,
        },
      ).query,
      headers: [["host", "127.0.0.1:8400"]] as Array<[string, string]>,
    });
    const tenYears = 10 * 365 * 86_400_000;
    // Dated ten years ahead with X-Amz-Expires=1: refused now, not valid for ten years.
    assert.equal(await code(presigned(T0 + tenYears, 1), T0), "RequestExpired");
    assert.equal(await code(presigned(T0 + 900_000, 60), T0), "ok");
    assert.equal(await code(presigned(T0 + 901_000, 60), T0), "RequestExpired");
    const r = await verifyRequest(presigned(T0 + tenYears, 1), at(T0));
    assert.ok(!r.ok);
    assert.match(r.message, /Signature not yet current/);
  });

  it("reports malformed Authorization headers as IncompleteSignature", async () => {
    for (const value of [
      "AWS4-HMAC-SHA256 Credential=x",
      "AWS3 foo",
      "AWS4-HMAC-SHA256 Credential=A/1/r/s/aws4_request, SignedHeaders=host",
    ]) {
      const request = {
        ...apiRequest,
        headers: [...apiRequest.headers, ["Authorization", value]] as Array<[string, string]>,
      };
      assert.equal(await code(request), "IncompleteSignature", value);
    }
  });
});
