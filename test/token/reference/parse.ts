// The token parser as it was before the single-pass rewrite (commit 59890c4: regular
// expressions, decodeURIComponent on every escaped component, canonical query rebuilt by
// sorting), with the date parser of that time: the oracle of parse.differential.test.ts.
// Slower but plainly written; the two must agree on every input, failures included.
import { ALGORITHM, TERMINATOR, uriEncode } from "../../../src/sigv4/index.js";
import { failure, type TokenFailure } from "../../../src/token/causes.js";
import { MAX_TOKEN_LENGTH } from "../../../src/token/constants.js";
import type { ParsedToken, ParseResult } from "../../../src/token/parse.js";

const AMZ_DATE = /^\d{8}T\d{6}Z$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function referenceParseAmzDate(value: string): number | undefined {
  if (!AMZ_DATE.test(value)) return undefined;
  const y = Number(value.slice(0, 4));
  const mo = Number(value.slice(4, 6));
  const d = Number(value.slice(6, 8));
  const h = Number(value.slice(9, 11));
  const mi = Number(value.slice(11, 13));
  const s = Number(value.slice(13, 15));
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 && leap ? 29 : (DAYS[mo - 1] ?? 0);
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || s > 59) return undefined;
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

const REQUIRED = [
  "Action",
  "DBUser",
  "X-Amz-Algorithm",
  "X-Amz-Credential",
  "X-Amz-Date",
  "X-Amz-Expires",
  "X-Amz-SignedHeaders",
  "X-Amz-Signature",
] as const;

// What we echo into a log must pass these first: a "token" may be a pasted password.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])$/;
const PORT = /^[1-9][0-9]{0,4}$/;
/** KEYID/DATE/REGION/SERVICE/TERMINATOR: exactly five parts. */
const CREDENTIAL = /^([^/]*)\/([^/]*)\/([^/]*)\/([^/]*)\/([^/]*)$/;
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;
const SCOPE_DATE = /^\d{8}$/;
const REGION = /^[a-z0-9-]{1,64}$/;
const SERVICE = /^[a-z0-9-]{1,64}$/;
const SIGNATURE = /^[0-9a-f]{64}$/;
const EXPIRES = /^[0-9]{1,7}$/;

const UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;
const PERCENT_ENCODED = /^(?:[A-Za-z0-9\-_.~]|%[0-9A-F]{2})*$/;
/** %XX escapes of unreserved characters: canonical encoding leaves those characters bare. */
const ESCAPED_UNRESERVED = /%(?:2[DE]|3\d|4[1-9A-F]|5[0-9AF]|6[1-9A-F]|7[0-9AE])/;

/** Decodes a query component; undefined for invalid percent-encoding or invalid UTF-8. */
function decode(raw: string): string | undefined {
  if (raw.indexOf("%") < 0) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}

/**
 * The canonical (SigV4) encoding of a component. Most components of a token are already
 * canonical (botocore and rds-signer both encode canonically) and are kept as written
 * instead of being encoded again.
 */
function canonical(raw: string, decoded: string): string | undefined {
  if (UNRESERVED.test(raw) || (PERCENT_ENCODED.test(raw) && !ESCAPED_UNRESERVED.test(raw))) return raw;
  try {
    return uriEncode(decoded);
  } catch {
    return undefined; // an unpaired surrogate
  }
}

/** Sorts names (unique) and their pairs together; tokens arrive nearly sorted, so insertion sort. */
function malformedQuery(): TokenFailure {
  return failure(
    "malformed",
    "the token's query has a parameter that is not NAME=VALUE or not valid percent-encoding",
  );
}

function sortedQuery(names: string[], pairs: string[]): string {
  for (let i = 1; i < names.length; i++) {
    const name = names[i] as string;
    const pair = pairs[i] as string;
    let j = i - 1;
    while (j >= 0 && (names[j] as string) > name) {
      names[j + 1] = names[j] as string;
      pairs[j + 1] = pairs[j] as string;
      j--;
    }
    names[j + 1] = name;
    pairs[j + 1] = pair;
  }
  return pairs.join("&");
}

/**
 * Takes a token apart without any key: structure, parameters, credential scope, dates.
 * Never throws. Splits on '&' and percent-decodes; '+' stays '+' (URLSearchParams would
 * turn it into a space and break signatures over user names such as "x+y").
 *
 * This runs on every login, so it scans the string once and, when the client wrote the
 * query canonically and in order (as botocore and rds-signer do, but for where they put
 * the signature and session token), takes the canonical query straight from the input.
 */
export function referenceParseAuthToken(token: unknown): ParseResult {
  if (typeof token !== "string") return failure("malformed", "the password is not a string");
  if (token.length > MAX_TOKEN_LENGTH) {
    return failure(
      "malformed",
      `the password is ${token.length} characters, longer than any auth token (${MAX_TOKEN_LENGTH})`,
    );
  }
  const split = token.indexOf("/?");
  if (split < 0) {
    return failure(
      "malformed",
      "the password is not an RDS auth token (no '/?' after host:port); generate one with `aws rds generate-db-auth-token` or `iamdb token`",
    );
  }
  const colon = token.lastIndexOf(":", split);
  const host = colon > 0 ? token.slice(0, colon) : "";
  const portText = colon > 0 ? token.slice(colon + 1, split) : "";
  if (!HOST.test(host) || !PORT.test(portText) || Number(portText) > 65535) {
    return failure(
      "malformed",
      "the token does not start with HOST:PORT/? (a scheme such as https:// must be removed)",
    );
  }

  let action: string | undefined;
  let dbUser: string | undefined;
  let algorithm: string | undefined;
  let credential: string | undefined;
  let amzDate: string | undefined;
  let expiresText: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  let sessionToken: string | undefined;
  let extra: string[] | undefined;
  const names: string[] = [];
  const pairs: string[] = [];
  let asWritten = true; // every component canonical as written, and names in order
  let signatureStart = -1;
  let signatureEnd = -1;
  let at = split + 2;
  while (at <= token.length) {
    let end = token.indexOf("&", at);
    if (end < 0) end = token.length;
    const eq = token.indexOf("=", at);
    const rawName = eq < 0 || eq > end ? undefined : token.slice(at, eq);
    const rawValue = rawName === undefined ? undefined : token.slice(eq + 1, end);
    const name = rawName === undefined ? undefined : decode(rawName);
    const value = rawValue === undefined ? undefined : decode(rawValue);
    if (name === undefined || value === undefined) return malformedQuery();
    // Local variables and a switch of string comparisons: on this hot path they beat a
    // Map or keyed property store, which must hash each sliced-out name first.
    let duplicate = false;
    switch (name) {
      case "Action":
        duplicate = action !== undefined;
        action = value;
        break;
      case "DBUser":
        duplicate = dbUser !== undefined;
        dbUser = value;
        break;
      case "X-Amz-Algorithm":
        duplicate = algorithm !== undefined;
        algorithm = value;
        break;
      case "X-Amz-Credential":
        duplicate = credential !== undefined;
        credential = value;
        break;
      case "X-Amz-Date":
        duplicate = amzDate !== undefined;
        amzDate = value;
        break;
      case "X-Amz-Expires":
        duplicate = expiresText !== undefined;
        expiresText = value;
        break;
      case "X-Amz-SignedHeaders":
        duplicate = signedHeaders !== undefined;
        signedHeaders = value;
        break;
      case "X-Amz-Signature":
        duplicate = signature !== undefined;
        signature = value;
        break;
      case "X-Amz-Security-Token":
        duplicate = sessionToken !== undefined;
        sessionToken = value;
        break;
      default:
        if (extra === undefined) extra = [];
        else if (extra.includes(name)) return failure("malformed", "the token has a duplicated parameter");
        extra.push(name);
    }
    if (duplicate) return failure("malformed", `the token has a duplicated parameter ${name}`);
    if (name === "X-Amz-Signature") {
      signatureStart = at;
      signatureEnd = end;
    } else {
      const canonicalName = canonical(rawName as string, name);
      const canonicalValue = canonical(rawValue as string, value);
      if (canonicalName === undefined || canonicalValue === undefined) return malformedQuery();
      if (canonicalName !== rawName || canonicalValue !== rawValue) asWritten = false;
      const previous = names[names.length - 1];
      if (previous !== undefined && previous > canonicalName) asWritten = false;
      names.push(canonicalName);
      pairs.push(`${canonicalName}=${canonicalValue}`);
    }
    at = end + 1;
  }
  let canonicalQuery: string;
  if (!asWritten) {
    canonicalQuery = sortedQuery(names, pairs);
  } else if (signatureEnd === token.length) {
    canonicalQuery = token.slice(split + 2, Math.max(split + 2, signatureStart - 1));
  } else {
    canonicalQuery = token.slice(split + 2, signatureStart) + token.slice(signatureEnd + 1);
  }
  if (
    action === undefined ||
    dbUser === undefined ||
    algorithm === undefined ||
    credential === undefined ||
    amzDate === undefined ||
    expiresText === undefined ||
    signedHeaders === undefined ||
    signature === undefined
  ) {
    const given = { action, dbUser, algorithm, credential, amzDate, expiresText, signedHeaders, signature };
    const missing = REQUIRED.filter((_, i) => Object.values(given)[i] === undefined);
    return failure("malformed", `the token lacks ${missing.join(", ")}`);
  }

  const m = CREDENTIAL.exec(credential);
  const [, accessKeyId = "", scopeDate = "", region = "", service = "", terminator = ""] = m ?? [];
  if (!m || !ACCESS_KEY_ID.test(accessKeyId)) {
    return failure("malformed", "X-Amz-Credential is not KEYID/DATE/REGION/SERVICE/aws4_request");
  }
  const who = { accessKeyId };
  if (algorithm !== ALGORITHM) {
    return failure(
      "unsupported-algorithm",
      `X-Amz-Algorithm must be ${ALGORITHM}${/^[A-Za-z0-9-]{1,40}$/.test(algorithm) ? ` (got ${algorithm})` : ""}`,
      who,
    );
  }
  if (
    !SCOPE_DATE.test(scopeDate) ||
    !REGION.test(region) ||
    !SERVICE.test(service) ||
    terminator !== TERMINATOR
  ) {
    return failure("malformed", "X-Amz-Credential is not KEYID/DATE/REGION/SERVICE/aws4_request", who);
  }
  if (action !== "connect") return failure("malformed", "Action must be connect", who);
  if (dbUser === "") return failure("malformed", "DBUser is empty", who);
  const signedAtMs = referenceParseAmzDate(amzDate);
  if (signedAtMs === undefined)
    return failure("malformed", "X-Amz-Date is not a date of the form YYYYMMDDTHHMMSSZ", who);
  const expiresSeconds = Number(expiresText);
  if (!EXPIRES.test(expiresText) || expiresSeconds < 1) {
    return failure("malformed", "X-Amz-Expires must be a whole number of seconds from 1 to 900", who);
  }
  if (signedHeaders !== "host") return failure("malformed", "X-Amz-SignedHeaders must be host", who);
  if (!SIGNATURE.test(signature)) {
    return failure("malformed", "X-Amz-Signature is not 64 lower-case hexadecimal digits", who);
  }
  const parsed: ParsedToken = {
    host,
    port: Number(portText),
    action,
    dbUser,
    algorithm,
    accessKeyId,
    scopeDate,
    region,
    service,
    amzDate,
    signedAtMs,
    expiresSeconds,
    signedHeaders,
    signature,
    canonicalQuery,
  };
  if (sessionToken !== undefined) parsed.sessionToken = sessionToken;
  return { ok: true, token: parsed };
}
