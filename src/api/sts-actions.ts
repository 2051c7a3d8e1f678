import type { Credentials } from "../iam/ops/sts.js";
import type { IamService } from "../iam/service.js";
import type { RequestContext } from "../policy/index.js";
import type { ActionSpec } from "./action.js";
import { ApiError } from "./errors.js";
import type { QueryParams } from "./params.js";
import type { XmlObject } from "./xml.js";

/**
 * The STS actions. GetCallerIdentity needs no permission (as in AWS); AssumeRole authorizes
 * itself (trust policy plus the caller's identity policies, in the control plane, for
 * sts:AssumeRole and, with session tags, sts:TagSession) and takes PolicyArns.member.N.arn,
 * Tags.member.N.Key/Value and TransitiveTagKeys.member.N; GetSessionToken
 * needs no permission either, but an explicit Deny of sts:GetSessionToken is honoured. The
 * credentials it issues cannot call IAM nor STS besides AssumeRole / GetCallerIdentity (iamdb has
 * no MFA; see handler.ts).
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html
 */
const credentialsXml = (c: Credentials): XmlObject => ({
  AccessKeyId: c.accessKeyId,
  SecretAccessKey: c.secretAccessKey,
  SessionToken: c.sessionToken,
  Expiration: c.expiration,
});

export const STS_ACTIONS: Readonly<Record<string, ActionSpec>> = {
  GetCallerIdentity: {
    authorize: "none",
    run: async ({ caller, iam }) => ({
      UserId: caller.type === "user" ? caller.userId : caller.principalId,
      Account: iam.account.accountId,
      Arn: caller.arn,
    }),
  },
  AssumeRole: {
    authorize: "self",
    run: async ({ iam, params: p, caller, context }) => {
      if (p.has("SerialNumber") || p.has("TokenCode"))
        throw new ApiError(
          "ValidationError",
          400,
          "iamdb has no MFA devices; omit SerialNumber and TokenCode.",
        );
      const policyArns = p.structs("PolicyArns")?.map((d) => d.required("arn"));
      const tags = p.tags("Tags");
      const transitiveTagKeys = p.strings("TransitiveTagKeys");
      const r = await iam.assumeRole({
        caller,
        roleArn: p.required("RoleArn"),
        roleSessionName: p.required("RoleSessionName"),
        durationSeconds: p.int("DurationSeconds"),
        policy: p.str("Policy"),
        ...(policyArns === undefined ? {} : { policyArns }),
        ...(tags === undefined ? {} : { tags }),
        ...(transitiveTagKeys === undefined ? {} : { transitiveTagKeys }),
        context: {
          ...context,
          ...(p.str("ExternalId") === undefined ? {} : { "sts:ExternalId": p.str("ExternalId") }),
          ...(p.str("SourceIdentity") === undefined ? {} : { "sts:SourceIdentity": p.str("SourceIdentity") }),
          "sts:RoleSessionName": p.required("RoleSessionName"),
        },
      });
      return {
        Credentials: credentialsXml(r.credentials),
        AssumedRoleUser: { AssumedRoleId: r.assumedRoleUser.assumedRoleId, Arn: r.assumedRoleUser.arn },
        PackedPolicySize: r.packedPolicySize,
        SourceIdentity: p.str("SourceIdentity"),
      };
    },
  },
  GetSessionToken: {
    authorize: "self",
    run: async ({ iam, params: p, caller }) => {
      if (p.has("SerialNumber") || p.has("TokenCode"))
        throw new ApiError(
          "ValidationError",
          400,
          "iamdb has no MFA devices; omit SerialNumber and TokenCode.",
        );
      const r = await iam.getSessionToken({ caller, durationSeconds: p.int("DurationSeconds") });
      return { Credentials: credentialsXml(r.credentials) };
    },
  },
};

/** What an unsigned action sees: no caller, the request's own keys only. */
export interface UnsignedCall {
  readonly iam: IamService;
  readonly params: QueryParams;
  /** aws:SourceIp, aws:SecureTransport, aws:UserAgent. */
  readonly context: RequestContext;
}

export interface UnsignedActionSpec {
  readonly run: (call: UnsignedCall) => Promise<XmlObject & { AssumedRoleUser?: { Arn: string } }>;
}

/**
 * STS actions called without AWS credentials: the request carries its own proof (a web identity
 * token). They are served whether or not the request is signed, as STS serves them.
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRoleWithWebIdentity.html
 */
export const STS_UNSIGNED_ACTIONS: Readonly<Record<string, UnsignedActionSpec>> = {
  AssumeRoleWithWebIdentity: {
    run: async ({ iam, params: p, context }) => {
      const policyArns = p.structs("PolicyArns")?.map((d) => d.required("arn"));
      const r = await iam.assumeRoleWithWebIdentity({
        roleArn: p.required("RoleArn"),
        roleSessionName: p.required("RoleSessionName"),
        webIdentityToken: p.required("WebIdentityToken"),
        providerId: p.str("ProviderId"),
        durationSeconds: p.int("DurationSeconds"),
        policy: p.str("Policy"),
        ...(policyArns === undefined ? {} : { policyArns }),
        context,
      });
      return {
        Credentials: credentialsXml(r.credentials),
        SubjectFromWebIdentityToken: r.subjectFromWebIdentityToken,
        AssumedRoleUser: { AssumedRoleId: r.assumedRoleUser.assumedRoleId, Arn: r.assumedRoleUser.arn },
        PackedPolicySize: r.packedPolicySize,
        Provider: r.provider,
        Audience: r.audience,
      };
    },
  },
};
