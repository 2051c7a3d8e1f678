import { evaluate, evaluateTrust, policySize, type RequestContext } from "../../policy/index.js";
import { assumedRoleArn, parseIamArn, roleArn } from "../arns.js";
import { type ServiceContext, sealContext } from "../context.js";
import { AccessDeniedError, ValidationError } from "../errors.js";
import { newAccessKeyId, newSecretAccessKey, newSessionToken } from "../ids.js";
import type { IamLookup, PrincipalPolicies } from "../lookup.js";
import { validatePolicy } from "../policy-port.js";
import type { Principal } from "../principal.js";
import type { SessionSubject } from "../records.js";
import { checkInteger, checkRoleSessionName, checkString } from "../validation.js";

/** @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html */
export const ASSUME_ROLE_DURATION = { min: 900, max: 43200, default: 3600, chained: 3600 } as const;
/** @see https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html */
export const SESSION_TOKEN_DURATION = { min: 900, max: 129600, default: 43200 } as const;
/** Expired sessions are kept this long, so a late token is reported as expired rather than unknown. */
const EXPIRED_SESSION_RETENTION_MS = 24 * 3600 * 1000;
const PURGE_INTERVAL_MS = 3600 * 1000;
const SESSION_POLICY = /^(?:[\t\n\r\u0020-\u00FF]+)$/;

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
 * STS AssumeRole and GetSessionToken. `caller` is the principal that signed the request (what
 * lookupCredential answered for its access key); `context` carries request keys such as
 * aws:SourceIp for trust-policy conditions.
 */
export function stsOperations(ctx: ServiceContext, lookup: IamLookup) {
  let lastPurge = Number.NEGATIVE_INFINITY;

  async function issue(
    subject: SessionSubject,
    durationSeconds: number,
    sessionPolicy?: string,
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
      sessionPolicy,
      createDate: now,
      expiresAt: expiration,
    });
    return { accessKeyId, secretAccessKey, sessionToken, expiration };
  }

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
     * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
     * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_terms-and-concepts.html#iam-term-role-chaining
     */
    async assumeRole(input: {
      caller: Principal;
      roleArn: string;
      roleSessionName: string;
      durationSeconds?: number;
      policy?: string;
      context?: RequestContext;
    }): Promise<AssumeRoleResult> {
      const requested = checkString("roleArn", input.roleArn, 20, 2048);
      const sessionName = checkRoleSessionName("roleSessionName", input.roleSessionName);
      const duration = checkInteger(
        "durationSeconds",
        input.durationSeconds ?? ASSUME_ROLE_DURATION.default,
        ASSUME_ROLE_DURATION.min,
        ASSUME_ROLE_DURATION.max,
      );
      let packedPolicySize: number | undefined;
      if (input.policy !== undefined) {
        checkString("policy", input.policy, 1, 2048, SESSION_POLICY);
        validatePolicy(input.policy, "session");
        packedPolicySize = Math.ceil((policySize(input.policy) / 2048) * 100);
      }
      const caller = await callerPolicies(input.caller);
      const denied = new AccessDeniedError(
        `User: ${input.caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${requested}`,
      );
      const parsed = parseIamArn(ctx.account, requested);
      const role = parsed?.kind === "role" ? await ctx.repo.getRoleByName(parsed.name) : undefined;
      if (!role || parsed === undefined || role.path !== parsed.path || role.roleName !== parsed.name)
        throw denied;
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
      const context: RequestContext = { ...principalKeys(caller), ...input.context };
      const trust = evaluateTrust(validatePolicy(role.assumeRolePolicyDocument, "trust"), {
        principalArn: input.caller.arn,
        principalType: input.caller.type === "user" ? "User" : "AssumedRole",
        ...(input.caller.type === "assumed-role" ? { roleArn: input.caller.roleArn } : {}),
        context,
        now,
      });
      if (trust.decision !== "allowed") throw denied;
      const identity = evaluate(
        {
          action: "sts:AssumeRole",
          resource: roleArn(ctx.account, role.path, role.roleName),
          principal: caller.principal,
          ...(input.context === undefined ? {} : { context: input.context }),
          now,
        },
        caller.policies,
      );
      if (identity.decision === "explicitDeny") throw denied;
      if (trust.requiresIdentityAllow && identity.decision !== "allowed") throw denied;

      const credentials = await issue(
        { kind: "role", roleId: role.roleId, sessionName },
        duration,
        input.policy,
      );
      return {
        credentials,
        assumedRoleUser: {
          assumedRoleId: `${role.roleId}:${sessionName}`,
          arn: assumedRoleArn(ctx.account, role.roleName, sessionName),
        },
        packedPolicySize,
      };
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
