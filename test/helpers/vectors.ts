import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Copied from ../shared/vectors so a fresh clone tests without it (see test/vectors/README.md). */
export const VECTORS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "vectors");

export interface TokenVector {
  hostname: string;
  port: number;
  username: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string | null;
  time: string;
  token: string;
}

export function tokenVectors(): TokenVector[] {
  return JSON.parse(readFileSync(join(VECTORS_DIR, "rds-auth-tokens.json"), "utf8")) as TokenVector[];
}

export interface SuiteCase {
  name: string;
  context: {
    credentials: { access_key_id: string; secret_access_key: string; token?: string };
    expiration_in_seconds: number;
    normalize: boolean;
    region: string;
    service: string;
    sign_body: boolean;
    timestamp: string;
    omit_session_token?: boolean;
  };
  request: {
    method: string;
    path: string;
    query: Array<[string, string]>;
    headers: Array<[string, string]>;
    body: string;
  };
  expected: Record<"header" | "query", { canonicalRequest: string; stringToSign: string; signature: string }>;
}

/** Parses the suite's raw HTTP request: request line, headers with folded continuation lines, body. */
export function parseRawRequest(raw: string): SuiteCase["request"] {
  const [head = "", ...bodyParts] = raw.split("\n\n");
  const lines = head.split("\n");
  const requestLine = lines.shift() ?? "";
  const firstSpace = requestLine.indexOf(" ");
  const lastSpace = requestLine.lastIndexOf(" ");
  const method = requestLine.slice(0, firstSpace);
  const target = requestLine.slice(firstSpace + 1, lastSpace);
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const query: Array<[string, string]> = [];
  if (q >= 0) {
    for (const part of target.slice(q + 1).split("&")) {
      const eq = part.indexOf("=");
      const k = eq < 0 ? part : part.slice(0, eq);
      const v = eq < 0 ? "" : part.slice(eq + 1);
      query.push([decodeURIComponent(k), decodeURIComponent(v)]);
    }
  }
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    if (line === "") continue;
    if (/^\s/.test(line) && headers.length > 0) {
      const last = headers[headers.length - 1] as [string, string];
      last[1] += `\n${line}`;
      continue;
    }
    const colon = line.indexOf(":");
    headers.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return { method, path, query, headers, body: bodyParts.join("\n\n") };
}

export function sigv4SuiteCases(): SuiteCase[] {
  const root = join(VECTORS_DIR, "sigv4-suite");
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => {
      const dir = join(root, d.name);
      const read = (f: string) => readFileSync(join(dir, f), "utf8");
      const form = (prefix: "header" | "query") => ({
        canonicalRequest: read(`${prefix}-canonical-request.txt`),
        stringToSign: read(`${prefix}-string-to-sign.txt`),
        signature: read(`${prefix}-signature.txt`).trim(),
      });
      return {
        name: d.name,
        context: JSON.parse(read("context.json")),
        request: parseRawRequest(read("request.txt")),
        expected: { header: form("header"), query: form("query") },
      };
    });
}
