import type { CredentialRecord, VerifyOptions } from "../../src/token/index.js";
import type { TokenVector } from "./vectors.js";

/** Replaces one query parameter's raw (encoded) value in a token, keeping everything else. */
export function withParam(token: string, name: string, rawValue: string): string {
  const [prefix, query = ""] = token.split("/?");
  const parts = query.split("&").map((p) => (p.startsWith(`${name}=`) ? `${name}=${rawValue}` : p));
  return `${prefix}/?${parts.join("&")}`;
}

export function rawParam(token: string, name: string): string {
  const part = (token.split("/?")[1] ?? "").split("&").find((p) => p.startsWith(`${name}=`));
  if (part === undefined) throw new Error(`no ${name} in token`);
  return part.slice(name.length + 1);
}

/** The same string with its last character replaced by a different one. */
export function alterLast(s: string): string {
  return s.slice(0, -1) + (s.at(-1) === "A" ? "B" : "A");
}

/** Changes the last hex digit of the signature. */
export function flipSignature(token: string): string {
  const sig = rawParam(token, "X-Amz-Signature");
  const last = sig.at(-1) === "0" ? "1" : "0";
  return withParam(token, "X-Amz-Signature", sig.slice(0, -1) + last);
}

/** A credential store of one key, as the vector signed with it. */
export function storeFor(v: TokenVector, overrides: Partial<CredentialRecord> = {}) {
  const record: CredentialRecord = {
    secretAccessKey: v.secretAccessKey,
    status: "Active",
    sessionToken: v.sessionToken ?? undefined,
    expiresAt: v.sessionToken ? new Date(Date.parse(v.time) + 3600_000) : undefined,
    ...overrides,
  };
  return (id: string) => (id === v.accessKeyId ? record : undefined);
}

/** Verifier options for the endpoint a vector was generated for, at `atMs`. */
export function optionsFor(
  v: TokenVector,
  atMs: number,
  overrides: Partial<VerifyOptions> = {},
): VerifyOptions {
  return {
    hostnames: [v.hostname],
    port: v.port,
    region: v.region,
    dbUser: v.username,
    lookupCredential: storeFor(v),
    now: () => new Date(atMs),
    ...overrides,
  };
}
