import { ALGORITHM, parseAmzDate } from "../sigv4/index.js";
import { decode, escapesKind, NOT_CANONICAL } from "./chars.js";
import type { ParsedToken } from "./parse.js";

/**
 * parseAuthToken's fast path: the query as botocore (`aws rds generate-db-auth-token`,
 * boto3) and @aws-sdk/rds-signer write it, every component canonical, read by one native
 * match. Anything else goes to the general parser (parse.ts), which words every refusal.
 */

/** A value as the AWS tools escape it (unreserved characters and %XX); layoutValue checks the escapes. */
const VALUE = "[A-Za-z0-9\\-_.~%]+";

/**
 * The signed head, which both tools write alike: Action through X-Amz-Expires. Groups: 1 the
 * whole head (the start of the canonical query), 2 DBUser, 3-6 key id, date, region and
 * service of the credential, 7 X-Amz-Date, 8 X-Amz-Expires.
 */
const HEAD =
  `(Action=connect&DBUser=(${VALUE})&X-Amz-Algorithm=AWS4-HMAC-SHA256` +
  "&X-Amz-Credential=([A-Z0-9]{16,128})%2F([0-9]{8})%2F([a-z0-9-]{1,64})%2F([a-z0-9-]{1,64})%2Faws4_request" +
  "&X-Amz-Date=([0-9]{8}T[0-9]{6}Z)&X-Amz-Expires=([0-9]{1,7}))";
const HEAD_GROUPS = 8;

/**
 * The parameters after the head, in the order of the match, with the groups each captures.
 * The two tools differ only in where X-Amz-SignedHeaders goes (see ARMS), so it has a slot
 * at both places, each optional.
 */
const TAIL = [
  { pattern: "(&X-Amz-SignedHeaders=host)?", groups: ["signedHeadersFirst"] },
  // Only temporary credentials have one. Groups: the whole parameter, its value.
  { pattern: `(&X-Amz-Security-Token=(${VALUE}))?`, groups: ["tokenParam", "tokenValue"] },
  { pattern: "&X-Amz-Signature=([0-9a-f]{64})", groups: ["signature"] },
  { pattern: "(&X-Amz-SignedHeaders=host)?", groups: ["signedHeadersLast"] },
] as const;
type Group = (typeof TAIL)[number]["groups"][number];

/** Each group's number in the match. */
const GROUP = {} as Record<Group, number>;
let nextGroup = HEAD_GROUPS + 1;
for (const part of TAIL) for (const group of part.groups) GROUP[group] = nextGroup++;

/**
 * The arms of the fast path, one row per tool, told apart by the SignedHeaders slot it fills:
 * botocore writes it before the session token, rds-signer after the signature (canonical
 * order there: "X-Amz-Signature" < "X-Amz-SignedHeaders"). A token must fill exactly one
 * slot; one with both or neither is the general parser's. (One match with two optional
 * slots: an alternation of the arms, or a match per arm, each costs about a tenth more.)
 */
const ARMS: readonly { readonly writer: string; readonly signedHeaders: Group }[] = [
  { writer: "botocore", signedHeaders: "signedHeadersFirst" },
  { writer: "@aws-sdk/rds-signer", signedHeaders: "signedHeadersLast" },
];
const ARM_SLOTS = ARMS.map((arm) => GROUP[arm.signedHeaders]);
const TOKEN_PARAM = GROUP.tokenParam;
const TOKEN_VALUE = GROUP.tokenValue;
const SIGNATURE = GROUP.signature;

/** The head and the tail, to the end of the token (sticky: from lastIndex). */
const LAYOUT = new RegExp(`${HEAD}${TAIL.map((part) => part.pattern).join("")}$`, "y");

/** A component matched by VALUE, decoded; undefined unless canonical. */
function layoutValue(raw: string): string | undefined {
  const percent = raw.indexOf("%");
  if (percent < 0) return raw;
  return escapesKind(raw, percent, raw.length) === NOT_CANONICAL ? undefined : decode(raw);
}

/**
 * The token's query from `from` read by LAYOUT. Anything else, and anything LAYOUT admits but
 * a token may not hold (a non-canonical escape, a date not in the calendar, X-Amz-Expires 0),
 * is left to the general parser: undefined, so that every refusal is worded in one place.
 */
export function parseLayout(
  token: string,
  from: number,
  host: string,
  port: number,
): ParsedToken | undefined {
  LAYOUT.lastIndex = from;
  const m = LAYOUT.exec(token);
  if (m === null) return undefined;
  let arms = 0;
  for (let i = 0; i < ARM_SLOTS.length; i++) if (m[ARM_SLOTS[i] as number] !== undefined) arms++;
  if (arms !== 1) return undefined;
  const [, head, rawUser = "", accessKeyId = "", scopeDate = "", region = "", service = "", amzDate = ""] = m;
  const dbUser = layoutValue(rawUser);
  const signedAtMs = parseAmzDate(amzDate);
  const expiresSeconds = Number(m[8]);
  if (dbUser === undefined || signedAtMs === undefined || expiresSeconds < 1) return undefined;
  const rawSessionToken = m[TOKEN_VALUE];
  const sessionToken = rawSessionToken === undefined ? undefined : layoutValue(rawSessionToken);
  if (rawSessionToken !== undefined && sessionToken === undefined) return undefined;
  const parsed: ParsedToken = {
    host,
    port,
    action: "connect",
    dbUser,
    algorithm: ALGORITHM,
    accessKeyId,
    scopeDate,
    region,
    service,
    amzDate,
    signedAtMs,
    expiresSeconds,
    signedHeaders: "host",
    signature: m[SIGNATURE] as string,
    // Sorted: the head, X-Amz-Security-Token, X-Amz-SignedHeaders (the signature is not signed).
    canonicalQuery: `${head}${m[TOKEN_PARAM] ?? ""}&X-Amz-SignedHeaders=host`,
  };
  if (sessionToken !== undefined) parsed.sessionToken = sessionToken;
  return parsed;
}
