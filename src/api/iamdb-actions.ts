import type { LoginRequest } from "../gateway/authenticate.js";
import type { LoginExplanation } from "../gateway/explain-login.js";
import type { DbAccount } from "../instances/accounts.js";
import type { FleetMemberRecord } from "../instances/repository.js";
import type { LiveSessionRecord, SessionFilter } from "../sessions/types.js";
import { parseAuthToken } from "../token/parse.js";
import type { ActionCall, ActionSpec, Target } from "./action.js";
import { ApiError } from "./errors.js";
import { requireInstance } from "./rds-actions.js";
import { xmlList } from "./xml.js";

/**
 * iamdb's own actions, in an `iamdb` service namespace of the same Query protocol, signed with
 * SigV4 (credential scope service `iamdb`) and authorized with IAM policy like the AWS ones:
 * `iamdb:CreateDBUser` & co. on the instance ARN (`arn:aws:rds:REGION:ACCOUNT:db:ID`, with the
 * instance's tags as aws:ResourceTag/KEY), `iamdb:DescribeGatewayFleet` on `*`,
 * `iamdb:ListDBSessions` and `iamdb:TerminateDBSessions` on the instance when the request names
 * one, else on `*`.
 */
export const IAMDB_API_VERSION = "2026-12-01";
export const IAMDB_NAMESPACE = `https://iamdb.dev/doc/${IAMDB_API_VERSION}/`;

/** What the iamdb actions need beyond the IAM service and the instances. */
export interface IamdbServices {
  readonly dbUsers?: {
    list(identifier: string): Promise<DbAccount[]>;
    run(
      identifier: string,
      action: "create" | "enable" | "rotate" | "delete",
      username: string,
      options?: { keepRole?: boolean; allowSuperuser?: boolean },
    ): Promise<DbAccount | undefined>;
  };
  /** What a login would meet at this gateway, without logging in (iamdb:ExplainDBLogin). */
  readonly explainLogin?: (req: LoginRequest) => Promise<LoginExplanation>;
  /** The live gateways sharing the store. */
  readonly fleet?: () => readonly FleetMemberRecord[];
  /** The fleet's live sessions (iamdb:ListDBSessions, iamdb:TerminateDBSessions). */
  readonly sessions?: {
    list(filter: SessionFilter, limit: number): Promise<LiveSessionRecord[]>;
    /** Ends the matching sessions on every gateway; returns those the fleet listed when asked. */
    terminate(filter: SessionFilter, requestedBy: string): Promise<LiveSessionRecord[]>;
  };
}

const sessions = (c: ActionCall) => service(c, "sessions", "has no live sessions");

/** ListDBSessions' and TerminateDBSessions' filter; DBInstanceIdentifier must name an instance. */
function sessionFilter(c: ActionCall): SessionFilter {
  const instance = c.params.str("DBInstanceIdentifier");
  return {
    ...(instance === undefined ? {} : { instance: instanceOf(c).identifier }),
    sessionId: c.params.str("SessionId"),
    accessKeyId: c.params.str("AccessKeyId"),
    principalArn: c.params.str("PrincipalArn"),
    dbUser: c.params.str("DBUser"),
  };
}

/** The instance when the request names one (its tags as aws:ResourceTag/*), else every instance (`*`). */
function optionalInstanceTarget(c: ActionCall): Target {
  return c.params.has("DBInstanceIdentifier") ? instanceTarget(c) : { resource: "*" };
}

function sessionXml(s: LiveSessionRecord) {
  return {
    SessionId: s.sessionId,
    GatewayMemberId: s.memberId,
    DBInstanceIdentifier: s.instance,
    Engine: s.engine,
    DBUser: s.dbUser,
    DatabaseName: s.database,
    PrincipalArn: s.principalArn,
    AccessKeyId: s.accessKeyId,
    TemporaryCredentials: s.temporary,
    CredentialExpiration: s.credentialExpiresAt,
    ClientAddress: s.client,
    StartTime: s.started,
    BackendReused: s.backendReused,
  };
}

/** The instance named by DBInstanceIdentifier, in the region the request is signed for (as the RDS actions find it). */
function instanceOf(c: ActionCall) {
  return requireInstance(c, c.params.required("DBInstanceIdentifier"));
}

function instanceTarget(c: ActionCall): Target {
  const i = instanceOf(c);
  const context: Record<string, string> = {};
  for (const t of i.tags) context[`aws:ResourceTag/${t.key}`] = t.value;
  return { resource: c.instances.arn(i), context };
}

/** A gateway's service behind an action, or 503 where the API runs without that gateway part. */
function service<K extends "dbUsers" | "sessions">(
  c: ActionCall,
  name: K,
  what: string,
): NonNullable<IamdbServices[K]> {
  const s = c.services[name];
  if (s === undefined) {
    throw new ApiError("ServiceUnavailable", 503, `This endpoint ${what}; call a gateway's admin API.`);
  }
  return s as NonNullable<IamdbServices[K]>;
}

const dbUsers = (c: ActionCall) => service(c, "dbUsers", "does not manage DB users");

/** PostgreSQL and MySQL user names iamdb provisions: printable, no NUL, at most 63 bytes (NAMEDATALEN − 1). */
function username(c: ActionCall): string {
  const u = c.params.required("Username");
  if (Buffer.byteLength(u, "utf8") > 63 || [...u].some((ch) => (ch.codePointAt(0) ?? 0) < 0x20)) {
    throw new ApiError(
      "InvalidParameterValue",
      400,
      "Username must be 1-63 bytes without control characters (PostgreSQL cuts longer names short, so two would share one role).",
    );
  }
  return u;
}

function dbUserXml(a: DbAccount) {
  return {
    DBInstanceIdentifier: a.instance,
    Username: a.username,
    IAMDatabaseAuthenticationEnabled: true,
    CreateTime: new Date(a.createdAt),
    PasswordRotateTime: new Date(a.rotatedAt),
  };
}

const change = (action: "create" | "enable" | "rotate"): ActionSpec => ({
  authorize: instanceTarget,
  run: async (c) => {
    const a = await dbUsers(c).run(
      instanceOf(c).identifier,
      action,
      username(c),
      action === "enable" ? { allowSuperuser: c.params.bool("AllowSuperuser") ?? false } : {},
    );
    return { DBUser: dbUserXml(a as DbAccount) };
  },
});

/** A LoginExplanation as the Query protocol writes it (`iamdb doctor --json` prints it back as JSON). */
function explanationXml(x: LoginExplanation) {
  const t = x.token;
  return {
    WouldSucceed: x.ok,
    Cause: x.cause,
    StatusCode: x.statusCode,
    ErrorCode: x.errorCode,
    Detail: x.detail,
    Fix: x.fix,
    DBUser: x.dbUser,
    SourceIp: x.sourceIp,
    AccessKeyId: x.accessKeyId,
    PrincipalArn: x.principalArn,
    Resource: x.resource,
    Token: {
      Valid: t.valid,
      Host: t.host,
      Port: t.port,
      DBUser: t.dbUser,
      AccessKeyId: t.accessKeyId,
      KeyType: t.keyType,
      Region: t.region,
      Service: t.service,
      SignedAt: t.signedAt,
      ExpiresAt: t.expiresAt,
      ExpiresInSeconds: t.expiresInSeconds,
      SecondsLeft: t.secondsLeft,
      SessionToken: t.sessionToken,
      Problems: xmlList(t.problems),
    },
    Steps: xmlList(
      x.steps.map((s) => ({ Name: s.name, Outcome: s.outcome, Cause: s.cause, Detail: s.detail })),
    ),
    PolicyDecision:
      x.decision === undefined
        ? undefined
        : {
            Decision: x.decision.decision,
            MatchedStatements: xmlList(
              x.decision.matchedStatements.map((m) => ({
                PolicyType: m.policyType,
                PolicyName: m.policyName ?? m.policyId,
                Sid: m.sid,
                StatementIndex: m.statementIndex,
                Effect: m.effect,
              })),
            ),
            MissingContextValues: xmlList(x.decision.missingContextValues ?? []),
            MissingAllowFrom: xmlList(x.decision.missingAllowFrom ?? []),
          },
  };
}

export const IAMDB_ACTIONS: Readonly<Record<string, ActionSpec>> = {
  /**
   * What would happen to a login with this token, without logging in: the token decoded (never
   * its signature or session token), each check, the DB account, the IAM switch, and the policy
   * decision for the principal that signed the token (not the caller).
   */
  ExplainDBLogin: {
    authorize: instanceTarget,
    run: async (c) => {
      const instance = instanceOf(c);
      if (c.services.explainLogin === undefined) {
        throw new ApiError(
          "ServiceUnavailable",
          503,
          "This endpoint does not run a gateway; call the admin API of a gateway serving the instance.",
        );
      }
      const token = c.params.required("Token");
      const parsed = parseAuthToken(token.trim());
      const dbUser = c.params.str("Username") ?? (parsed.ok ? parsed.token.dbUser : undefined);
      if (dbUser === undefined) {
        throw new ApiError(
          "InvalidParameterValue",
          400,
          "The token names no DB user that can be read; pass Username (the user the client logs in as).",
        );
      }
      const sourceIp = c.params.str("SourceIp") ?? String(c.context["aws:SourceIp"] ?? "127.0.0.1");
      const x = await c.services.explainLogin({
        instance,
        dbUser,
        password: token,
        sourceIp,
        secureTransport: true,
      });
      return { Explanation: explanationXml(x) };
    },
  },
  CreateDBUser: change("create"),
  EnableDBUser: change("enable"),
  RotateDBUserPassword: change("rotate"),
  DeleteDBUser: {
    authorize: instanceTarget,
    run: async (c) => {
      await dbUsers(c).run(instanceOf(c).identifier, "delete", username(c), {
        keepRole: c.params.bool("KeepRole") ?? false,
      });
      return undefined;
    },
  },
  ListDBUsers: {
    authorize: instanceTarget,
    run: async (c) => ({
      DBUsers: xmlList((await dbUsers(c).list(instanceOf(c).identifier)).map(dbUserXml)),
    }),
  },
  ListDBSessions: {
    authorize: optionalInstanceTarget,
    run: async (c) => {
      const max = c.params.int("MaxRecords") ?? 1000;
      if (max < 1 || max > 10_000)
        throw c.params.invalid("MaxRecords", String(max), "Member must be from 1 to 10000");
      return { DBSessions: xmlList((await sessions(c).list(sessionFilter(c), max)).map(sessionXml)) };
    },
  },
  TerminateDBSessions: {
    authorize: optionalInstanceTarget,
    run: async (c) => {
      const filter = sessionFilter(c);
      if (!filter.sessionId && !filter.accessKeyId && !filter.principalArn && !filter.dbUser) {
        throw new ApiError(
          "MissingParameter",
          400,
          "Name the sessions to end: SessionId, AccessKeyId, PrincipalArn or DBUser (DBInstanceIdentifier narrows them further).",
        );
      }
      const ended = await sessions(c).terminate(filter, c.caller.arn);
      return { TerminatedSessions: xmlList(ended.map(sessionXml)) };
    },
  },
  DescribeGatewayFleet: {
    authorize: () => ({ resource: "*" }),
    run: async (c) => ({
      Gateways: xmlList(
        (c.services.fleet?.() ?? []).map((m) => ({
          MemberId: m.memberId,
          MemberNumber: m.memberNo,
          Version: m.info.version,
          Hostname: m.info.hostname,
          Pid: m.info.pid,
          ApiUrl: m.info.apiUrl,
          OpsUrl: m.info.opsUrl,
          StartTime: m.started,
          HeartbeatTime: m.heartbeat,
          Listeners: xmlList(
            Object.entries(m.info.listeners).map(([id, l]) => ({
              DBInstanceIdentifier: id,
              Host: l.host,
              Port: l.port,
            })),
          ),
        })),
      ),
    }),
  },
};
