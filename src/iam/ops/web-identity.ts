import { evaluateTrust, type RequestContext } from "../../policy/index.js";
import { parseIamArn } from "../arns.js";
import type { ServiceContext } from "../context.js";
import {
  AccessDeniedError,
  InvalidIdentityTokenError,
  InvalidParameterValueError,
  ValidationError,
} from "../errors.js";
import { webIdentityKeys } from "../oidc/context.js";
import type { OidcKeyStore } from "../oidc/keys.js";
import { unverifiedIssuer, verifyWebIdentityToken } from "../oidc/token.js";
import { oidcProviderArn, providerKey } from "../oidc/url.js";
import type { WebIdentityClaims } from "../records.js";
import { compiledTrustPolicy } from "../trust.js";
import { checkRoleSessionName, checkString } from "../validation.js";
import {
  type AssumeRoleResult,
  checkSessionRequest,
  issueRoleSession,
  packedSize,
  resolveSessionPolicyArns,
  sessionIssuer,
} from "./sts.js";

/** @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html */
export const WEB_IDENTITY_DURATION = { min: 900, max: 43200, default: 3600 } as const;

export interface WebIdentityOptions {
  /** Tolerance for the token's exp, nbf and iat. Default 60 s. */
  readonly clockSkewSeconds?: number;
}

export interface AssumeRoleWithWebIdentityResult extends AssumeRoleResult {
  readonly subjectFromWebIdentityToken: string;
  /** The provider's ARN. */
  readonly provider: string;
  readonly audience: string;
}

/**
 * STS AssumeRoleWithWebIdentity: unsigned, the token is the credential. The token is checked
 * (token.ts), then the role's trust policy must allow `{"Federated": PROVIDER_ARN}` to
 * `sts:AssumeRoleWithWebIdentity` with the token's keys. A missing role and an untrusting one
 * are refused alike, as STS does. Session policies and DurationSeconds as for AssumeRole.
 */
export function webIdentityOperations(
  ctx: ServiceContext,
  keys: OidcKeyStore,
  options: WebIdentityOptions = {},
) {
  const issue = sessionIssuer(ctx);
  const skew = options.clockSkewSeconds ?? 60;

  return {
    async assumeRoleWithWebIdentity(input: {
      roleArn: string;
      roleSessionName: string;
      webIdentityToken: string;
      providerId?: string;
      durationSeconds?: number;
      policy?: string;
      policyArns?: readonly string[];
      /** Request keys (aws:SourceIp, …). */
      context?: RequestContext;
    }): Promise<AssumeRoleWithWebIdentityResult> {
      const requested = checkString("roleArn", input.roleArn, 20, 2048);
      const sessionName = checkRoleSessionName("roleSessionName", input.roleSessionName);
      if (typeof input.webIdentityToken !== "string") {
        throw new ValidationError(
          "1 validation error detected: Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null",
        );
      }
      if (input.providerId !== undefined) {
        throw new InvalidParameterValueError(
          "iamdb accepts OpenID Connect ID tokens only: omit ProviderId (it names OAuth 2.0 providers such as www.amazon.com).",
        );
      }
      const { duration, policyArns } = checkSessionRequest(input, WEB_IDENTITY_DURATION);

      const issuer = unverifiedIssuer(input.webIdentityToken);
      const provider = await ctx.repo.getOidcProvider(providerKey(issuer));
      if (provider === undefined) {
        throw new InvalidIdentityTokenError(
          `No OpenIDConnect provider found in your account for ${issuer}. Create one with create-open-id-connect-provider --url ${issuer.startsWith("https://") ? issuer : `https://${issuer}`}.`,
        );
      }
      const now = ctx.now();
      const verified = await verifyWebIdentityToken(input.webIdentityToken, provider, keys, {
        now,
        clockSkewSeconds: skew,
      });
      const providerArn = oidcProviderArn(ctx.account, provider.url);
      const claims: WebIdentityClaims = {
        provider: provider.url,
        subject: verified.subject,
        audience: verified.audience,
        ...(verified.amr === undefined ? {} : { amr: verified.amr }),
      };

      const denied = () =>
        new AccessDeniedError(
          `Not authorized to perform sts:AssumeRoleWithWebIdentity. The role's trust policy must allow {"Federated": "${providerArn}"} the action sts:AssumeRoleWithWebIdentity, with conditions this token meets (${provider.url}:sub is ${JSON.stringify(verified.subject)}, ${provider.url}:aud is ${JSON.stringify(verified.audience)}).`,
        );
      const parsed = parseIamArn(ctx.account, requested);
      const role = parsed?.kind === "role" ? await ctx.repo.getRoleByName(parsed.name) : undefined;
      if (!role || parsed === undefined || role.path !== parsed.path || role.roleName !== parsed.name)
        throw denied();
      const context: RequestContext = {
        ...input.context,
        ...webIdentityKeys(providerArn, claims),
        "sts:RoleSessionName": sessionName,
      };
      const trust = evaluateTrust(await compiledTrustPolicy(ctx, role), {
        principalArn: providerArn,
        principalType: "Federated",
        action: "sts:AssumeRoleWithWebIdentity",
        context,
        now,
      });
      if (trust.decision !== "allowed") throw denied();
      if (duration > role.maxSessionDuration) {
        throw new ValidationError(
          `The requested DurationSeconds exceeds the MaxSessionDuration set for this role (${role.maxSessionDuration} s).`,
        );
      }
      const packedPolicySize = packedSize(input.policy, policyArns, []);
      const sessionPolicyArns = await resolveSessionPolicyArns(ctx, policyArns);
      const issued = await issueRoleSession(ctx, issue, role, sessionName, duration, {
        sessionPolicy: input.policy,
        sessionPolicyArns,
        webIdentity: claims,
      });
      return {
        ...issued,
        packedPolicySize,
        subjectFromWebIdentityToken: verified.subject,
        provider: providerArn,
        audience: verified.audience,
      };
    },
  };
}

export type WebIdentityOperations = ReturnType<typeof webIdentityOperations>;
