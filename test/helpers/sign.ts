import { presignRequest, uriEncode } from "../../src/sigv4/index.js";

export const CREDS = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
export const TEMP_CREDS = {
  accessKeyId: "ASIAIOSFODNN7EXAMPLE",
  secretAccessKey: "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY",
  sessionToken: "IQoJb3JpZ2luX2VjEXAMPLE/session+token=with/odd+chars",
};
export const T0 = Date.parse("2026-11-26T12:00:00Z");

export interface CustomToken {
  host?: string;
  /** The host value signed; defaults to host:port lower-cased. */
  signedHost?: string;
  port?: number;
  user?: string;
  region?: string;
  service?: string;
  at?: number;
  expires?: number;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Order of the emitted parameters: as botocore, all sorted (rds-signer), or reversed. */
  order?: "botocore" | "sorted" | "reversed";
}

/** Signs a token with any scope, lifetime and parameter order — for the cases AWS tools never produce. */
export function customToken(o: CustomToken = {}): string {
  const host = o.host ?? "db.example.com";
  const port = o.port ?? 5432;
  const presigned = presignRequest(
    {
      method: "GET",
      path: "/",
      query: [
        ["Action", "connect"],
        ["DBUser", o.user ?? "jane"],
      ],
      headers: [["host", o.signedHost ?? `${host.toLowerCase()}:${port}`]],
    },
    {
      credentials: o.credentials ?? CREDS,
      region: o.region ?? "us-east-1",
      service: o.service ?? "rds-db",
      signingDate: new Date(o.at ?? T0),
      expiresIn: o.expires ?? 900,
    },
  );
  const pairs = presigned.query.map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`);
  if (o.order === "sorted") pairs.sort();
  if (o.order === "reversed") pairs.reverse();
  return `${host}:${port}/?${pairs.join("&")}`;
}
