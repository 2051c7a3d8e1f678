import type { PrincipalPolicies } from "../iam/lookup.js";
import type { Principal } from "../iam/principal.js";
import type { IamService } from "../iam/service.js";
import type { InstanceRegistry } from "../instances/types.js";
import type { RequestContext } from "../policy/index.js";
import type { IamdbServices } from "./iamdb-actions.js";
import type { ParamStyle, QueryParams } from "./params.js";
import type { XmlObject } from "./xml.js";

/** Everything one authenticated action call sees. */
export interface ActionCall {
  readonly iam: IamService;
  readonly instances: InstanceRegistry;
  /** DB users and the fleet, for the `iamdb` service's actions. */
  readonly services: IamdbServices;
  readonly params: QueryParams;
  /** Who signed the request. */
  readonly caller: Principal;
  readonly callerPolicies: PrincipalPolicies;
  /** The region of the request's credential scope. */
  readonly region: string;
  /** Condition keys of the request itself (aws:SourceIp, aws:RequestedRegion, …). */
  readonly context: RequestContext;
  readonly now: Date;
}

/** What an action is authorized against: the resource ARN plus condition keys it adds. */
export interface Target {
  readonly resource: string;
  readonly context?: RequestContext;
}

export interface ActionSpec {
  /**
   * How to authorize: a resource to evaluate `SERVICE:Action` on (or several, each of which must
   * be allowed: a rename is authorized on the old and the new ARN), or `none` for actions every
   * authenticated caller may run (sts:GetCallerIdentity), or `self` for actions whose operation
   * authorizes itself (sts:AssumeRole evaluates trust and identity policies together).
   */
  readonly authorize:
    | ((call: ActionCall) => Target | readonly Target[] | Promise<Target | readonly Target[]>)
    | "none"
    | "self";
  /** The `<ActionResult>` members, or undefined for actions that answer only ResponseMetadata. */
  readonly run: (call: ActionCall) => Promise<XmlObject | undefined>;
}

/** One Query-protocol service the endpoint serves. */
export interface ServiceSpec {
  /** The credential scope's service and the policy action prefix (`iam`, `sts`, `rds`, `iamdb`). */
  readonly name: "iam" | "sts" | "rds" | "iamdb";
  readonly version: string;
  /** The XML namespace of responses and error documents. */
  readonly namespace: string;
  readonly style: ParamStyle;
  readonly actions: Readonly<Record<string, ActionSpec>>;
}
