import { evaluate, evaluateTrust, policySize, type RequestContext } from "../../policy/index.js";
import { assumedRoleArn, parseIamArn, policyArn, roleArn } from "../arns.js";
import { type ServiceContext, sealContext } from "../context.js";
import { requirePolicy } from "../entities.js";
import {
  AccessDeniedError,
  InvalidParameterValueError,
  MalformedPolicyDocumentError,
  NoSuchEntityError,
  PackedPolicyTooLargeError,
  ValidationError,
} from "../errors.js";
import { newAccessKeyId, newSecretAccessKey, newSessionToken } from "../ids.js";
import type { IamLookup, PrincipalPolicies } from "../lookup.js";
import { validatePolicy } from "../policy-port.js";
import type { Principal } from "../principal.js";
import type { SessionRecord, SessionSubject } from "../records.js";
import type { Tag } from "../tags.js";
import { compiledTrustPolicy } from "../trust.js";
import { checkInteger, checkListLength, checkRoleSessionName, checkString } from "../validation.js";

/** @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html */
export const ASSUME_ROLE_DURATION = { min: 900, max: 43200, default: 3600, chained: 3600 } as const;
/** @see https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html */
export const SESSION_TOKEN_DURATION = { min: 900, max: 129600, default: 43200 } as const;
/** Expired sessions are kept this long, so a late token is reported as expired rather than unknown. */
const EXPIRED_SESSION_RETENTION_MS = 24 * 3600 * 1000;
const PURGE_INTERVAL_MS = 3600 * 1000;
export const SESSION_POLICY = /^(?:[\t\n\r\u0020-\u00FF]+)$/;
/** @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html (PolicyArns, Tags, TransitiveTagKeys) */
export const MAX_SESSION_POLICY_ARNS = 10;
export const MAX_SESSION_TAGS = 50;
/** @see https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html */
const TAG_KEY = /^(?:[\p{L}\p{Z}\p{N}_.:/=+\-@]+)$/u;
const TAG_VALUE = /^(?:[\p{L}\p{Z}\p{N}_.:/=+\-@]*)$/u;
/**
 * The packed session quota, in characters: the inline policy (white space not counted), the
 * managed policy ARNs and the session tags' keys and values together. AWS packs these into a
 * compressed binary form whose exact size is not documented; iamdb counts the plain text
 * against the 2,048 characters the API reference allows the session policies.
 */
const PACKED_QUOTA = 2048;

export interface Credentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

export interface AssumeRoleResult {
  readonly credentials: Credentials;
  readonly assumedRoleUser: { readonly assumedRoleId: string; readonly arn: string };
  /** Percentage of the session policy quota used, when a session policy was passed. */
  readonly packedPolicySize?: number | undefined;
}

/**
 * Mints temporary credentials and stores the session (secret and token sealed); expired sessions
 * are purged at most hourly, on the way.
 */
/** Issues a role session's credentials and names its assumed-role user, as every AssumeRole* answers. */
export async function issueRoleSession(
  ctx: ServiceContext,
  issue: ReturnType<typeof sessionIssuer>,
  role: { readonly roleId: string; readonly roleName: string },
  sessionName: string,
  duration: number,
  session: Parameters<ReturnType<typeof sessionIssuer>>[2],
): Promise<Pick<AssumeRoleResult, "credentials" | "assumedRoleUser">> {
  const credentials = await issue({ kind: "role", roleId: role.roleId, sessionName }, duration, session);
  return {
    credentials,
    assumedRoleUser: {
      assumedRoleId: `${role.roleId}:${sessionName}`,
      arn: assumedRoleArn(ctx.account, role.roleName, sessionName),
    },
  };
}

export function sessionIssuer(ctx: ServiceContext) {
  let lastPurge = Number.NEGATIVE_INFINITY;

  return async function issue(
    subject: SessionSubject,
    durationSeconds: number,
    session: Pick<
      SessionRecord,
      "sessionPolicy" | "sessionPolicyArns" | "sessionTags" | "transitiveTagKeys" | "webIdentity"
    > = {},
  ): Promise<Credentials> {
    const now = ctx.now();
    if (now.getTime() - lastPurge > PURGE_INTERVAL_MS) {
      lastPurge = now.getTime();
      await ctx.repo.deleteExpiredSessions(new Date(now.getTime() - EXPIRED_SESSION_RETENTION_MS));
    }
    const accessKeyId = newAccessKeyId("ASIA");
    const secretAccessKey = newSecretAccessKey();
    const sessionToken = newSessionToken();
    // Whole seconds, as STS reports Expiration.
    const expiration = new Date(Math.floor(now.getTime() / 1000) * 1000 + durationSeconds * 1000);
    await ctx.repo.insertSession({
      accessKeyId,
      sealedSecret: ctx.secrets.seal(secretAccessKey, sealContext.secret(accessKeyId)),
      sealedSessionToken: ctx.secrets.seal(sessionToken, sealContext.sessionToken(accessKeyId)),
      subject,
      ...session,
      createDate: now,
      expiresAt: expiration,
    });
    return { accessKeyId, secretAccessKey, sessionToken, expiration };
  };
}

/**
 * Managed session policies by ARN, canonical (path and name as stored). STS has no
 * NoSuchEntity: an unusable session policy is a MalformedPolicyDocument.
 */
export async function resolveSessionPolicyArns(
  ctx: ServiceContext,
  policyArns: readonly string[],
): Promise<string[]> {
  const out: string[] = [];
  for (const [i, arn] of policyArns.entries()) {
    const p = await requirePolicy(ctx, arn, `policyArns.${i + 1}.member.arn`).catch((e: unknown) => {
      if (e instanceof NoSuchEntityError)
        throw new MalformedPolicyDocumentError(e.message, undefined, { cause: e });
      throw e;
    });
    out.push(policyArn(ctx.account, p.path, p.policyName));
  }
  return out;
}

/**
 * STS AssumeRole and GetSessionToken. `caller` is the principal that signed the request (what
 * lookupCredential answered for its access key); `context` carries request keys such as
 * aws:SourceIp for trust-policy conditions.
 */
export function stsOperations(ctx: ServiceContext, lookup: IamLookup) {
  const issue = sessionIssuer(ctx);

  async function callerPolicies(caller: Principal): Promise<PrincipalPolicies> {
    const p = await lookup.policySetFor(caller);
    if (p === undefined)
      throw new AccessDeniedError(`The security token included in the request is invalid.`);
    return p;
  }

  return {
    /**
     * Same-account AssumeRole: the trust policy must allow the caller, an explicit Deny in the
     * caller's policies refuses, and when the trust policy names only the account (delegation)
     * the caller's own policies must allow sts:AssumeRole on the role too.
     * A role that does not exist is refused like one that does not trust the caller, as STS does.
     * Session tags (passed, or inherited as transitive from a calling role session) need
     * sts:TagSession by the same rules, with aws:RequestTag/*, aws:TagKeys and
     * sts:TransitiveTagKeys in the request context. Session policies (inline and managed) narrow
     * the session to what both they and the role's policies allow.
     * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html
     * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
     * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
     * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
     */
    async assumeRole(input: {
      caller: Principal;
      roleArn: string;
      roleSessionName: string;
      durationSeconds?: number;
      policy?: string;
      /** Managed policies used as session policies (at most 10). */
      policyArns?: readonly string[];
      /** Session tags (at most 50): `aws:PrincipalTag/*` of the session; needs sts:TagSession. */
      tags?: readonly Tag[];
      /** Keys of `tags` that carry on to sessions this session creates. */
      transitiveTagKeys?: readonly string[];
      context?: RequestContext;
    }): Promise<AssumeRoleResult> {
      const requested = checkString("roleArn", input.roleArn, 20, 2048);
      const sessionName = checkRoleSessionName("roleSessionName", input.roleSessionName);
      const { duration, policyArns } = checkSessionRequest(input, ASSUME_ROLE_DURATION);
      const tags = checkSessionTags(input.tags ?? []);
      const transitiveTagKeys = checkTransitiveTagKeys(input.transitiveTagKeys ?? [], tags);

      // Role chaining: the calling session's transitive tags pass on and cannot be overridden.
      const calling = await lookup.sessionTagging(input.caller);
      const inheritedKeys = new Set((calling?.transitiveTagKeys ?? []).map((k) => k.toLowerCase()));
      const inherited = (calling?.tags ?? []).filter((t) => inheritedKeys.has(t.key.toLowerCase()));
      if (tags.some((t) => inheritedKeys.has(t.key.toLowerCase()))) {
        throw new InvalidParameterValueError(
          "One of the specified transitive tag keys can't be set because it conflicts with a transitive tag key from the calling session.",
        );
      }
      const sessionTags = [...inherited, ...tags];
      const sessionTransitiveKeys = [
        ...inherited.map((t) => t.key),
        ...transitiveTagKeys.filter((k) => !inheritedKeys.has(k.toLowerCase())),
      ];
      const packedPolicySize = packedSize(input.policy, policyArns, sessionTags);

      const caller = await callerPolicies(input.caller);
      const denied = (action: string) =>
        new AccessDeniedError(
          `User: ${input.caller.arn} is not authorized to perform: ${action} on resource: ${requested}`,
        );
      const parsed = parseIamArn(ctx.account, requested);
      const role = parsed?.kind === "role" ? await ctx.repo.getRoleByName(parsed.name) : undefined;
      if (!role || parsed === undefined || role.path !== parsed.path || role.roleName !== parsed.name)
        throw denied("sts:AssumeRole");
      if (input.caller.type === "assumed-role" && duration > ASSUME_ROLE_DURATION.chained) {
        throw new ValidationError(
          "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining.",
        );
      }
      if (duration > role.maxSessionDuration) {
        throw new ValidationError(
          "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        );
      }
      const now = ctx.now();
      // The tags this request sets, as the condition keys trust and identity policies can test.
      // Inherited transitive tags are the caller's aws:PrincipalTag/* already.
      const tagKeys: RequestContext =
        tags.length === 0
          ? {}
          : {
              ...Object.fromEntries(tags.map((t) => [`aws:RequestTag/${t.key}`, t.value])),
              "aws:TagKeys": tags.map((t) => t.key),
              ...(transitiveTagKeys.length === 0 ? {} : { "sts:TransitiveTagKeys": transitiveTagKeys }),
            };
      const requestContext: RequestContext = { ...input.context, ...tagKeys };
      const context: RequestContext = { ...principalKeys(caller), ...requestContext };
      const trustPolicy = await compiledTrustPolicy(ctx, role);
      const resource = roleArn(ctx.account, role.path, role.roleName);
      /**
       * Same-account rules for one action: the trust policy must allow the caller, an explicit
       * Deny in the caller's policies refuses, and a trust policy that names only the account
       * delegates to the caller's own policies, which must then allow the action on the role.
       */
      const authorize = (action: string) => {
        const trust = evaluateTrust(trustPolicy, {
          principalArn: input.caller.arn,
          principalType: input.caller.type === "user" ? "User" : "AssumedRole",
          principalId: input.caller.type === "user" ? input.caller.userId : input.caller.principalId,
          ...(input.caller.type === "assumed-role" ? { roleArn: input.caller.roleArn } : {}),
          action,
          context,
          now,
        });
        if (trust.decision !== "allowed") throw denied(action);
        const identity = evaluate(
          { action, resource, principal: caller.principal, context: requestContext, now },
          caller.policies,
        );
        if (identity.decision === "explicitDeny") throw denied(action);
        if (trust.requiresIdentityAllow && identity.decision !== "allowed") throw denied(action);
      };
      authorize("sts:AssumeRole");
      // Passing tags, or carrying transitive ones on, is sts:TagSession on the role as well.
      // @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html#id_session-tags_permissions-required
      if (sessionTags.length > 0) authorize("sts:TagSession");

      // Resolved after authorization, so a caller the role does not trust learns nothing of policies.
      const sessionPolicyArns = await resolveSessionPolicyArns(ctx, policyArns);

      const issued = await issueRoleSession(ctx, issue, role, sessionName, duration, {
        sessionPolicy: input.policy,
        sessionPolicyArns,
        sessionTags,
        transitiveTagKeys: sessionTransitiveKeys,
      });
      return { ...issued, packedPolicySize };
    },

    /** Only an IAM user's long-term key may call it; the session acts as the user. */
    async getSessionToken(input: {
      caller: Principal;
      durationSeconds?: number;
    }): Promise<{ credentials: Credentials }> {
      const duration = checkInteger(
        "durationSeconds",
        input.durationSeconds ?? SESSION_TOKEN_DURATION.default,
        SESSION_TOKEN_DURATION.min,
        SESSION_TOKEN_DURATION.max,
      );
      if (input.caller.type !== "user" || input.caller.sessionAccessKeyId !== undefined) {
        throw new AccessDeniedError("Cannot call GetSessionToken with session credentials");
      }
      await callerPolicies(input.caller);
      return { credentials: await issue({ kind: "user", userId: input.caller.userId }, duration) };
    },
  };
}

/** PolicyArns: at most 10, each an ARN-sized string (existence is checked after authorization). */
/**
 * What AssumeRole and AssumeRoleWithWebIdentity check alike: DurationSeconds within the
 * action's bounds (the default when absent), the inline session policy, the managed ones.
 */
export function checkSessionRequest(
  input: {
    durationSeconds?: number | undefined;
    policy?: string | undefined;
    policyArns?: readonly string[] | undefined;
  },
  bounds: { readonly min: number; readonly max: number; readonly default: number },
): { duration: number; policyArns: readonly string[] } {
  const duration = checkInteger(
    "durationSeconds",
    input.durationSeconds ?? bounds.default,
    bounds.min,
    bounds.max,
  );
  if (input.policy !== undefined) {
    checkString("policy", input.policy, 1, 2048, SESSION_POLICY);
    validatePolicy(input.policy, "session");
  }
  return { duration, policyArns: checkPolicyArns(input.policyArns ?? []) };
}

export function checkPolicyArns(arns: readonly string[]): readonly string[] {
  checkListLength("policyArns", arns, MAX_SESSION_POLICY_ARNS);
  arns.forEach((arn, i) => {
    checkString(`policyArns.${i + 1}.member.arn`, arn, 20, 2048);
  });
  return arns;
}

/**
 * Session tags: at most 50; keys 1..128 and values 0..256 characters of the tag alphabet; keys
 * unique without regard to case (AWS answers InvalidParameterValue for a duplicate).
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_Tag.html
 */
function checkSessionTags(tags: readonly Tag[]): readonly Tag[] {
  checkListLength(
    "tags",
    tags.map((t) => `{Key: ${t.key}, Value: ${t.value}}`),
    MAX_SESSION_TAGS,
  );
  const seen = new Set<string>();
  tags.forEach((t, i) => {
    checkString(`tags.${i + 1}.member.key`, t.key, 1, 128, TAG_KEY);
    checkString(`tags.${i + 1}.member.value`, t.value, 0, 256, TAG_VALUE);
    if (t.key.toLowerCase().startsWith("aws:")) {
      throw new InvalidParameterValueError(
        `Tag keys starting with 'aws:' are reserved for AWS use: ${t.key}`,
      );
    }
    const k = t.key.toLowerCase();
    if (seen.has(k)) {
      throw new InvalidParameterValueError(
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
      );
    }
    seen.add(k);
  });
  return tags;
}

/** TransitiveTagKeys: at most 50, each the key of a tag passed in the same request. */
function checkTransitiveTagKeys(keys: readonly string[], tags: readonly Tag[]): readonly string[] {
  checkListLength("transitiveTagKeys", keys, MAX_SESSION_TAGS);
  const passed = new Set(tags.map((t) => t.key.toLowerCase()));
  keys.forEach((k, i) => {
    checkString(`transitiveTagKeys.${i + 1}.member`, k, 1, 128, TAG_KEY);
    if (!passed.has(k.toLowerCase())) {
      throw new InvalidParameterValueError(
        "The specified transitive tag key must be included in the requested tags.",
      );
    }
  });
  // One entry per key, in the case the tag was passed with.
  const byKey = new Map(tags.map((t) => [t.key.toLowerCase(), t.key]));
  return [...new Set(keys.map((k) => byKey.get(k.toLowerCase()) ?? k))];
}

/**
 * PackedPolicySize: the percentage of the packed quota the session policies and tags use;
 * undefined when the request passes none. Over 100 % is PackedPolicyTooLarge.
 */
export function packedSize(
  policy: string | undefined,
  policyArns: readonly string[],
  tags: readonly Tag[],
): number | undefined {
  if (policy === undefined && policyArns.length === 0 && tags.length === 0) return undefined;
  let chars = policy === undefined ? 0 : policySize(policy);
  for (const arn of policyArns) chars += arn.length;
  for (const t of tags) chars += t.key.length + t.value.length;
  const percent = Math.ceil((chars / PACKED_QUOTA) * 100);
  if (percent > 100) {
    throw new PackedPolicyTooLargeError(
      `Packed policy consumes ${percent}% of allotted space, please use smaller policy.`,
    );
  }
  return percent;
}

/** Keys the trust evaluation reads about the caller (aws:username, aws:userid, aws:PrincipalTag/*). */
function principalKeys(p: PrincipalPolicies): Record<string, string> {
  const out: Record<string, string> = {};
  if (p.principal.username !== undefined) out["aws:username"] = p.principal.username;
  if (p.principal.userId !== undefined) out["aws:userid"] = p.principal.userId;
  if (p.principal.accountId !== undefined) out["aws:PrincipalAccount"] = p.principal.accountId;
  for (const [k, v] of Object.entries(p.principal.tags ?? {})) out[`aws:PrincipalTag/${k}`] = v;
  return out;
}

export type StsOperations = ReturnType<typeof stsOperations>;
