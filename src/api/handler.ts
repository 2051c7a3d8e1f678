import { randomUUID } from "node:crypto";
import type { Principal } from "../iam/principal.js";
import type { IamService } from "../iam/service.js";
import type { InstanceRegistry } from "../instances/types.js";
import { describeDecision, evaluate, type RequestContext } from "../policy/index.js";
import { type RequestAuthErrorCode, verifyRequest } from "../sigv4/index.js";
import type { ActionCall, ServiceSpec, Target } from "./action.js";
import { ApiError, accessDenied, invalidAction, toApiError } from "./errors.js";
import { IAM_ACTIONS } from "./iam-actions.js";
import { IAMDB_ACTIONS, IAMDB_API_VERSION, IAMDB_NAMESPACE, type IamdbServices } from "./iamdb-actions.js";
import { OIDC_JWKS_ACTIONS, OIDC_PROVIDER_ACTIONS } from "./oidc-actions.js";
import { parseForm, QueryParams } from "./params.js";
import { RDS_ACTIONS } from "./rds-actions.js";
import { validRequestRegions } from "./regions.js";
import { STS_ACTIONS, STS_UNSIGNED_ACTIONS } from "./sts-actions.js";
import { children, escapeXml, type XmlObject } from "./xml.js";

/**
 * The admin API without sockets: one Query-protocol request in, one response out.
 * authenticate (SigV4) -> route (credential scope service + Action) -> authorize (policy
 * evaluation of SERVICE:Action on the resource ARN) -> run -> XML.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/iam-api.pdf (Making Query requests)
 */

export const SERVICES: Readonly<Record<string, ServiceSpec>> = {
  iam: {
    name: "iam",
    version: "2010-05-08",
    namespace: "https://iam.amazonaws.com/doc/2010-05-08/",
    style: "iam",
    actions: { ...IAM_ACTIONS, ...OIDC_PROVIDER_ACTIONS },
  },
  sts: {
    name: "sts",
    version: "2011-06-15",
    namespace: "https://sts.amazonaws.com/doc/2011-06-15/",
    style: "iam",
    actions: STS_ACTIONS,
  },
  rds: {
    name: "rds",
    version: "2014-10-31",
    namespace: "http://rds.amazonaws.com/doc/2014-10-31/",
    style: "rds",
    actions: RDS_ACTIONS,
  },
  iamdb: {
    name: "iamdb",
    version: IAMDB_API_VERSION,
    namespace: IAMDB_NAMESPACE,
    style: "iam",
    actions: { ...IAMDB_ACTIONS, ...OIDC_JWKS_ACTIONS },
  },
};

export interface ApiRequest {
  readonly method: string;
  /** The path without the query string. */
  readonly path: string;
  /** The decoded query pairs. */
  readonly query: ReadonlyArray<readonly [string, string]>;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array;
  /** The peer's address, for aws:SourceIp. */
  readonly remoteAddress?: string | undefined;
  /** Whether the request arrived over TLS, for aws:SecureTransport. */
  readonly secure?: boolean;
}

export interface ApiResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface ApiHandlerOptions {
  readonly iam: IamService;
  readonly instances: InstanceRegistry;
  /** What the `iamdb` service's actions run on (DB users, the fleet). */
  readonly services?: IamdbServices;
  readonly now?: () => Date;
  /** One structured line per request; never carries secrets, signatures or bodies. */
  readonly log?: (line: object) => void;
  /**
   * The deployment's own regions (the configured region); with the instances' regions and the
   * partition's AWS regions, the regions a request may be signed for (see regions.ts).
   */
  readonly regions?: readonly string[];
}

/** HTTP status AWS answers each authentication failure with. */
const AUTH_STATUS: Readonly<Record<RequestAuthErrorCode, number>> = {
  MissingAuthenticationToken: 403,
  IncompleteSignature: 400,
  InvalidClientTokenId: 403,
  SignatureDoesNotMatch: 403,
  RequestExpired: 400,
  ExpiredToken: 403,
};

const IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/";

/** NoSuchVersion when the request names a Version other than the service's (absent is fine). */
function versionError(service: ServiceSpec, version: string | undefined): ApiError | undefined {
  if (version === undefined || version === service.version) return undefined;
  return new ApiError(
    "NoSuchVersion",
    400,
    `The requested version (${version}) of service ${service.name} does not exist; use ${service.version}.`,
  );
}

export function errorDocument(namespace: string, error: ApiError, requestId: string): string {
  return (
    `<ErrorResponse xmlns="${namespace}"><Error><Type>${error.type}</Type>` +
    `<Code>${escapeXml(error.code)}</Code><Message>${escapeXml(error.message)}</Message></Error>` +
    `<RequestId>${requestId}</RequestId></ErrorResponse>`
  );
}

export function resultDocument(
  service: ServiceSpec,
  action: string,
  result: XmlObject | undefined,
  requestId: string,
): string {
  const body = result === undefined ? "" : `<${action}Result>${children(result)}</${action}Result>`;
  return (
    `<${action}Response xmlns="${service.namespace}">${body}` +
    `<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${action}Response>`
  );
}

/** The service named in the request's credential scope, read without verifying, for the error namespace. */
function claimedService(request: ApiRequest): ServiceSpec | undefined {
  const auth = request.headers.find(([k]) => k.toLowerCase() === "authorization")?.[1];
  const credential = auth ?? request.query.find(([k]) => k === "X-Amz-Credential")?.[1] ?? "";
  const m = /(?:^|[\s,=])[^/\s,]+\/\d{8}\/[^/]*\/([^/]+)\/aws4_request/.exec(credential);
  return m?.[1] === undefined ? undefined : SERVICES[m[1]];
}

function requestContext(request: ApiRequest, region: string): RequestContext {
  const ip = request.remoteAddress?.replace(/^::ffff:/, "");
  const agent = request.headers.find(([k]) => k.toLowerCase() === "user-agent")?.[1];
  return {
    "aws:SourceIp": ip,
    "aws:SecureTransport": request.secure ?? false,
    "aws:RequestedRegion": region,
    "aws:UserAgent": agent,
  };
}

/**
 * The request's parameters (query without the X-Amz- ones, then the form body); a later value
 * wins. Throws MalformedQueryString for a body that is not form-encoded.
 */
function queryValues(request: ApiRequest): Map<string, string> {
  const values = new Map<string, string>();
  for (const [k, v] of request.query) if (!k.startsWith("X-Amz-")) values.set(k, v);
  for (const [k, v] of parseForm(Buffer.from(request.body).toString("utf8"))) values.set(k, v);
  return values;
}

/** What STS allows GetSessionToken credentials without MFA to call. */
const STS_WITHOUT_MFA = new Set(["AssumeRole", "GetCallerIdentity"]);

/**
 * GetSessionToken credentials obtained without MFA (iamdb has no MFA devices, so all of them)
 * cannot call IAM, nor STS other than AssumeRole and GetCallerIdentity. IAM answers such calls
 * InvalidClientTokenId, STS AccessDenied "Cannot call ACTION with session credentials"; iamdb
 * adds what to do to IAM's opaque sentence.
 * @see https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html
 */
function sessionTokenRefusal(caller: Principal, service: string, action: string): ApiError | undefined {
  if (caller.type !== "user" || caller.sessionAccessKeyId === undefined) return undefined;
  if (service === "iam") {
    return new ApiError(
      "InvalidClientTokenId",
      403,
      "The security token included in the request is invalid. Credentials from GetSessionToken without MFA cannot call IAM: sign with the user's access key, or with a role's credentials from AssumeRole.",
    );
  }
  if (service === "sts" && !STS_WITHOUT_MFA.has(action)) {
    return new ApiError("AccessDenied", 403, `Cannot call ${action} with session credentials`);
  }
  return undefined;
}

export function createApiHandler(options: ApiHandlerOptions): (request: ApiRequest) => Promise<ApiResponse> {
  const { iam, instances } = options;
  const clock = options.now ?? (() => new Date());
  // Instances are declared by the configuration: their regions are fixed for the handler's life.
  const deploymentRegions = new Set([...(options.regions ?? []), ...instances.list().map((i) => i.region)]);
  const validRegions = validRequestRegions(iam.account.partition, deploymentRegions);
  const log = options.log ?? (() => {});

  return async function handle(request: ApiRequest): Promise<ApiResponse> {
    const requestId = randomUUID();
    const started = Date.now();
    let service = claimedService(request);
    let action: string | undefined;
    let accessKeyId: string | undefined;
    let principalArn: string | undefined;

    const respond = (status: number, body: string, extra: object = {}): ApiResponse => {
      log({
        event: "admin-api",
        requestId,
        service: service?.name,
        action,
        status,
        accessKeyId,
        principal: principalArn,
        ms: Date.now() - started,
        ...extra,
      });
      return {
        status,
        headers: { "content-type": "text/xml", "x-amzn-requestid": requestId },
        body,
      };
    };
    const fail = (error: ApiError, extra: object = {}) =>
      respond(error.httpStatus, errorDocument(service?.namespace ?? IAM_NAMESPACE, error, requestId), {
        code: error.code,
        ...extra,
      });

    try {
      const now = clock();
      const values = queryValues(request);
      // AssumeRoleWithWebIdentity needs no signature: the token in the body is the credential.
      const unsignedName = values.get("Action");
      const unsigned =
        unsignedName !== undefined && Object.hasOwn(STS_UNSIGNED_ACTIONS, unsignedName)
          ? STS_UNSIGNED_ACTIONS[unsignedName]
          : undefined;
      if (unsigned !== undefined && (service === undefined || service.name === "sts")) {
        service = SERVICES.sts as ServiceSpec;
        action = unsignedName;
        const wrongVersion = versionError(service, values.get("Version"));
        if (wrongVersion) return fail(wrongVersion);
        const result = await unsigned.run({
          iam,
          params: new QueryParams(values, service.style),
          // No credential scope, so no aws:RequestedRegion.
          context: { ...requestContext(request, ""), "aws:RequestedRegion": undefined },
        });
        principalArn = result.AssumedRoleUser?.Arn;
        return respond(200, resultDocument(service, action as string, result, requestId));
      }
      const auth = await verifyRequest(
        {
          method: request.method,
          path: request.path,
          query: request.query,
          headers: request.headers,
          body: request.body,
        },
        { lookupCredential: (id) => iam.lookupCredential(id), now: () => now },
      );
      if (!auth.ok) {
        accessKeyId = auth.accessKeyId;
        return fail(new ApiError(auth.code, AUTH_STATUS[auth.code], auth.message));
      }
      accessKeyId = auth.accessKeyId;
      service = SERVICES[auth.service];
      if (service === undefined) {
        return fail(
          new ApiError(
            "SignatureDoesNotMatch",
            403,
            `Credential should be scoped to a valid service: iam, sts, rds or iamdb, not '${auth.service}'.`,
          ),
        );
      }
      if (!validRegions.has(auth.region)) {
        return fail(
          new ApiError(
            "SignatureDoesNotMatch",
            403,
            `Credential should be scoped to a valid region, not '${auth.region}'. Sign for this deployment's region (${[...deploymentRegions].sort().join(", ")}) or another region of the ${iam.account.partition} partition.`,
          ),
        );
      }
      action = values.get("Action");
      if (action === undefined || action === "") {
        return fail(new ApiError("MissingAction", 400, "The request must contain the parameter Action."));
      }
      const wrongVersion = versionError(service, values.get("Version"));
      if (wrongVersion) return fail(wrongVersion);
      const spec = Object.hasOwn(service.actions, action) ? service.actions[action] : undefined;
      if (spec === undefined) return fail(invalidAction(action, service.version));

      const caller = auth.credential.principal;
      principalArn = caller.arn;
      const refusal = sessionTokenRefusal(caller, service.name, action);
      if (refusal !== undefined) return fail(refusal);
      const callerPolicies = await iam.policySetFor(caller);
      if (callerPolicies === undefined) {
        return fail(
          new ApiError("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
        );
      }
      iam.recordKeyUse(auth.accessKeyId, service.name, auth.region, now).catch(() => {});
      const call: ActionCall = {
        iam,
        instances,
        services: options.services ?? {},
        params: new QueryParams(values, service.style),
        caller,
        callerPolicies,
        region: auth.region,
        context: requestContext(request, auth.region),
        now,
      };
      const policyAction = `${service.name}:${action}`;
      if (spec.authorize !== "none") {
        const targets = spec.authorize === "self" ? { resource: "*" } : await spec.authorize(call);
        for (const target of Array.isArray(targets) ? targets : [targets as Target]) {
          const decision = evaluate(
            {
              action: policyAction,
              resource: target.resource,
              principal: callerPolicies.principal,
              context: { ...call.context, ...target.context },
              now,
            },
            callerPolicies.policies,
          );
          const refused =
            spec.authorize === "self"
              ? decision.decision === "explicitDeny"
              : decision.decision !== "allowed";
          if (refused) {
            return fail(accessDenied(caller.arn, policyAction, target.resource), {
              reason: describeDecision(decision, { action: policyAction, resource: target.resource }),
            });
          }
        }
      }
      const result = await spec.run(call);
      return respond(200, resultDocument(service, action, result, requestId));
    } catch (err) {
      const { error, internal } = toApiError(err);
      return fail(
        error,
        internal ? { internal: err instanceof Error ? (err.stack ?? err.message) : String(err) } : {},
      );
    }
  };
}
