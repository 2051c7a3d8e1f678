import { ALGORITHM, parseAmzDate, TERMINATOR } from "../sigv4/index.js";
import { failure, type TokenFailure } from "./causes.js";
import {
  ASCII_ESCAPED,
  all,
  DIGIT,
  decode,
  encode,
  escapesKind,
  KEY_ID,
  type Kind,
  kindOf,
  LOWER_HEX,
  NOT_CANONICAL,
  PLAIN,
  SCOPE_PART,
} from "./chars.js";
import { MAX_TOKEN_LENGTH } from "./constants.js";
import { parseLayout } from "./layout.js";

/** A token taken apart. Every field is decoded; nothing here has been checked against a key. */
export interface ParsedToken {
  /** The host:port prefix as the client wrote it (informative only: never what we sign). */
  host: string;
  port: number;
  action: string;
  dbUser: string;
  algorithm: string;
  accessKeyId: string;
  scopeDate: string;
  region: string;
  service: string;
  amzDate: string;
  signedAtMs: number;
  expiresSeconds: number;
  signedHeaders: string;
  signature: string;
  sessionToken?: string;
  /** The canonical query of all parameters but X-Amz-Signature: encoded once, sorted. */
  canonicalQuery: string;
}

export type ParseResult = { ok: true; token: ParsedToken } | TokenFailure;

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

/**
 * The characters of a canonical query (unreserved, escapes, '=' and '&'). Tested once over
 * the whole query, natively: a JavaScript loop over every character costs several times
 * more, and then only the escapes need a closer look (escapesKind).
 */
const SAFE_QUERY = /^[A-Za-z0-9\-_.~=&%]*$/;

function malformedQuery(): TokenFailure {
  return failure(
    "malformed",
    "the token's query has a parameter that is not NAME=VALUE or not valid percent-encoding",
  );
}

/** Sorts pairs by their names (unique); tokens arrive nearly sorted, so insertion sort. */
function sortByName(names: string[], pairs: string[]): string {
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
 * The canonical query of a query already checked by parseAuthToken (every component
 * decodes and encodes), but for the signature at `signatureAt`. `written`: every component
 * is canonical as written, so only the order is wrong (botocore puts X-Amz-Security-Token
 * after X-Amz-SignedHeaders); else each component is decoded and encoded anew.
 */
function canonicalQueryOf(token: string, from: number, signatureAt: number, written: boolean): string {
  const names: string[] = [];
  const pairs: string[] = [];
  for (let at = from; at <= token.length; ) {
    const start = at;
    let end = token.indexOf("&", at);
    if (end < 0) end = token.length;
    at = end + 1;
    if (start === signatureAt) continue;
    const eq = token.indexOf("=", start);
    if (written) {
      names.push(token.slice(start, eq));
      pairs.push(token.slice(start, end));
    } else {
      const name = encode(decode(token.slice(start, eq)) ?? "") ?? "";
      names.push(name);
      pairs.push(`${name}=${encode(decode(token.slice(eq + 1, end)) ?? "") ?? ""}`);
    }
  }
  return sortByName(names, pairs);
}

/**
 * The parameters of a token, numbered in canonical (code-unit) order of their names but
 * for the signature, which is not signed: the number tells whether a query is in order
 * without comparing strings.
 */
const ACTION = 0;
const DB_USER = 1;
const ALGORITHM_PARAM = 2;
const CREDENTIAL = 3;
const DATE = 4;
const EXPIRES = 5;
const SECURITY_TOKEN = 6;
const SIGNED_HEADERS = 7;
const SIGNATURE = 8;
const OTHER = -1;

/** The number of a parameter's (decoded) name; OTHER for a name of its own. */
function paramOf(name: string): number {
  switch (name) {
    case "Action":
      return ACTION;
    case "DBUser":
      return DB_USER;
    case "X-Amz-Algorithm":
      return ALGORITHM_PARAM;
    case "X-Amz-Credential":
      return CREDENTIAL;
    case "X-Amz-Date":
      return DATE;
    case "X-Amz-Expires":
      return EXPIRES;
    case "X-Amz-Security-Token":
      return SECURITY_TOKEN;
    case "X-Amz-SignedHeaders":
      return SIGNED_HEADERS;
    case "X-Amz-Signature":
      return SIGNATURE;
    default:
      return OTHER;
  }
}

/**
 * Takes a token apart without any key: structure, parameters, credential scope, dates.
 * Never throws. Splits on '&' and percent-decodes; '+' stays '+' (URLSearchParams would
 * turn it into a space and break signatures over user names such as "x+y").
 *
 * This runs on every login, so it tests the characters of the query once, natively
 * (SAFE_QUERY), looks closer only at escapes, and, when the client wrote the query canonically and in order (as botocore and
 * rds-signer do, but for where they put the signature and session token), takes the
 * canonical query straight from the input.
 */
export function parseAuthToken(token: unknown): ParseResult {
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
  const port = Number(portText);
  if (!HOST.test(host) || !all(portText, DIGIT, 1, 5) || portText.charCodeAt(0) === 48 || port > 65535) {
    return failure(
      "malformed",
      "the token does not start with HOST:PORT/? (a scheme such as https:// must be removed)",
    );
  }

  const from = split + 2;
  const layout = parseLayout(token, from, host, port);
  if (layout !== undefined) return { ok: true, token: layout };

  let action: string | undefined;
  let dbUser: string | undefined;
  let algorithm: string | undefined;
  let credential: string | undefined;
  /** The credential as written, when its only escapes are of ASCII (the slashes): see below. */
  let credentialEscaped = false;
  let amzDate: string | undefined;
  let expiresText: string | undefined;
  let signedHeaders: string | undefined;
  let signature: string | undefined;
  let sessionToken: string | undefined;
  let extra: string[] | undefined;
  let written = true; // every component canonical as written
  let inOrder = true; // and the names in canonical order
  let previousParam = OTHER;
  let signatureStart = -1;
  let signatureEnd = -1;
  const safe = SAFE_QUERY.test(token.slice(from));
  // The first '%' and the first '=' at or after `at`, each found once (-1: there is none).
  let percent = token.indexOf("%", from);
  let eq = token.indexOf("=", from);
  let at = from;
  while (at <= token.length) {
    let end = token.indexOf("&", at);
    if (end < 0) end = token.length;
    if (eq < 0 || eq > end) return malformedQuery();
    const nextEq = token.indexOf("=", eq + 1);
    let nameKind: Kind;
    let valueKind: Kind;
    if (safe) {
      nameKind = percent < 0 || percent >= eq ? PLAIN : escapesKind(token, percent, eq);
      if (percent >= 0 && percent < eq) percent = token.indexOf("%", eq);
      valueKind =
        nextEq >= 0 && nextEq < end
          ? NOT_CANONICAL // an '=' in the value
          : percent < 0 || percent >= end
            ? PLAIN
            : escapesKind(token, percent, end);
      if (percent >= 0 && percent < end) percent = token.indexOf("%", end);
    } else {
      nameKind = kindOf(token, at, eq);
      valueKind = kindOf(token, eq + 1, end);
    }
    const name = nameKind === PLAIN ? token.slice(at, eq) : decode(token.slice(at, eq));
    if (name === undefined) return malformedQuery();
    const param = paramOf(name);
    const rawValue = token.slice(eq + 1, end);
    // A value whose escapes are all of ASCII always decodes. The credential's escapes are
    // its slashes: it is split at them as written (after the loop) instead of decoded.
    const keepCredential = valueKind === ASCII_ESCAPED && param === CREDENTIAL;
    const value = valueKind === PLAIN || keepCredential ? rawValue : decode(rawValue);
    if (value === undefined) return malformedQuery();
    // Local variables and a switch on the parameter's number: on this hot path they beat
    // a Map or keyed property store, which must hash each sliced-out name first.
    let duplicate = false;
    switch (param) {
      case ACTION:
        duplicate = action !== undefined;
        action = value;
        break;
      case DB_USER:
        duplicate = dbUser !== undefined;
        dbUser = value;
        break;
      case ALGORITHM_PARAM:
        duplicate = algorithm !== undefined;
        algorithm = value;
        break;
      case CREDENTIAL:
        duplicate = credential !== undefined;
        credential = value;
        credentialEscaped = keepCredential;
        break;
      case DATE:
        duplicate = amzDate !== undefined;
        amzDate = value;
        break;
      case EXPIRES:
        duplicate = expiresText !== undefined;
        expiresText = value;
        break;
      case SECURITY_TOKEN:
        duplicate = sessionToken !== undefined;
        sessionToken = value;
        break;
      case SIGNED_HEADERS:
        duplicate = signedHeaders !== undefined;
        signedHeaders = value;
        break;
      case SIGNATURE:
        duplicate = signature !== undefined;
        signature = value;
        break;
      default:
        if (extra === undefined) extra = [];
        else if (extra.includes(name)) return failure("malformed", "the token has a duplicated parameter");
        extra.push(name);
    }
    if (duplicate) return failure("malformed", `the token has a duplicated parameter ${name}`);
    if (param === SIGNATURE) {
      signatureStart = at;
      signatureEnd = end;
    } else if (nameKind === NOT_CANONICAL || valueKind === NOT_CANONICAL) {
      // Re-encoded after the loop; refused here if it cannot be (an unpaired surrogate).
      if (encode(name) === undefined || encode(value) === undefined) return malformedQuery();
      written = false;
    } else {
      // Canonical as written. A name of its own (no AWS tool adds one) is sorted in.
      if (param <= previousParam) inOrder = false;
      previousParam = param;
    }
    at = end + 1;
    eq = nextEq < 0 || nextEq >= at ? nextEq : token.indexOf("=", at);
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

  // KEYID/DATE/REGION/SERVICE/TERMINATOR: exactly five parts. Written canonically, every
  // '/' is a "%2F" and every other '%' starts the escape of a character that no part may
  // hold, so splitting the raw value at "%2F" finds the same parts as decoding first.
  const slash = credentialEscaped ? "%2F" : "/";
  const s1 = credential.indexOf(slash);
  const s2 = s1 < 0 ? -1 : credential.indexOf(slash, s1 + slash.length);
  const s3 = s2 < 0 ? -1 : credential.indexOf(slash, s2 + slash.length);
  const s4 = s3 < 0 ? -1 : credential.indexOf(slash, s3 + slash.length);
  const accessKeyId = credential.slice(0, s1);
  if (s4 < 0 || credential.indexOf(slash, s4 + slash.length) >= 0 || !all(accessKeyId, KEY_ID, 16, 128)) {
    return failure("malformed", "X-Amz-Credential is not KEYID/DATE/REGION/SERVICE/aws4_request");
  }
  const scopeDate = credential.slice(s1 + slash.length, s2);
  const region = credential.slice(s2 + slash.length, s3);
  const service = credential.slice(s3 + slash.length, s4);
  const terminator = credential.slice(s4 + slash.length);
  const who = { accessKeyId };
  if (algorithm !== ALGORITHM) {
    return failure(
      "unsupported-algorithm",
      `X-Amz-Algorithm must be ${ALGORITHM}${/^[A-Za-z0-9-]{1,40}$/.test(algorithm) ? ` (got ${algorithm})` : ""}`,
      who,
    );
  }
  if (
    !all(scopeDate, DIGIT, 8, 8) ||
    !all(region, SCOPE_PART, 1, 64) ||
    !all(service, SCOPE_PART, 1, 64) ||
    terminator !== TERMINATOR
  ) {
    return failure("malformed", "X-Amz-Credential is not KEYID/DATE/REGION/SERVICE/aws4_request", who);
  }
  if (action !== "connect") return failure("malformed", "Action must be connect", who);
  if (dbUser === "") return failure("malformed", "DBUser is empty", who);
  const signedAtMs = parseAmzDate(amzDate);
  if (signedAtMs === undefined)
    return failure("malformed", "X-Amz-Date is not a date of the form YYYYMMDDTHHMMSSZ", who);
  const expiresSeconds = Number(expiresText);
  if (!all(expiresText, DIGIT, 1, 7) || expiresSeconds < 1) {
    return failure("malformed", "X-Amz-Expires must be a whole number of seconds from 1 to 900", who);
  }
  if (signedHeaders !== "host") return failure("malformed", "X-Amz-SignedHeaders must be host", who);
  if (!all(signature, LOWER_HEX, 64, 64)) {
    return failure("malformed", "X-Amz-Signature is not 64 lower-case hexadecimal digits", who);
  }

  let canonicalQuery: string;
  if (!written || !inOrder) {
    canonicalQuery = canonicalQueryOf(token, from, signatureStart, written);
  } else if (signatureEnd === token.length) {
    canonicalQuery = token.slice(from, Math.max(from, signatureStart - 1));
  } else {
    canonicalQuery = token.slice(from, signatureStart) + token.slice(signatureEnd + 1);
  }
  const parsed: ParsedToken = {
    host,
    port,
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
