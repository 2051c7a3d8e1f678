import type { IamService } from "../iam/service.js";
import type { DbAccountStore } from "../instances/accounts.js";
import type { DbInstance, InstanceRegistry } from "../instances/types.js";
import { type Decision, describeDecision, evaluate, type RequestContext } from "../policy/index.js";
import type { RdsErrorCode } from "../token/causes.js";
import { verifyAuthToken } from "../token/verify.js";
import { explainLogin, type LoginExplanation } from "./explain-login.js";
import type { LoginFailureCause } from "./outcome.js";

export interface LoginRequest {
  readonly instance: DbInstance;
  /** The user named in the startup packet / handshake. */
  readonly dbUser: string;
  /** The cleartext password: the auth token. */
  readonly password: string;
  /** The client's IP address, as aws:SourceIp. */
  readonly sourceIp: string;
  readonly secureTransport: boolean;
}

export type LoginResult =
  | {
      readonly ok: true;
      readonly accessKeyId: string;
      readonly principalArn: string;
      /** The gateway-held password for the backend login. */
      readonly backendPassword: string;
      readonly detail: string;
      /** Temporary credentials signed the token; they stop working at `credentialExpiresAt`. */
      readonly temporary: boolean;
      readonly credentialExpiresAt?: Date | undefined;
    }
  | {
      readonly ok: false;
      readonly cause: LoginFailureCause;
      readonly detail: string;
      readonly tokenErrorCode?: RdsErrorCode;
      readonly accessKeyId?: string;
      readonly principalArn?: string;
    };

export interface AuthenticatorOptions {
  readonly iam: IamService;
  readonly accounts: DbAccountStore;
  /** Where the instance's current IAM switch and tags come from (memory, or the store while its change feed is down). */
  readonly instances?: Pick<InstanceRegistry, "current">;
  readonly clockSkewSeconds: number;
  readonly now?: () => Date;
  /**
   * The flags that point iamdb commands at this deployment (`--config FILE`, `--data-dir DIR`),
   * put into the fix hints so that a command copied from the auth log works as written.
   */
  readonly commandFlags?: string;
}

/** The `arn:aws:rds-db:REGION:ACCOUNT:dbuser:DbiResourceId/USER` a login is authorized against. */
export function dbUserArn(
  partition: string,
  accountId: string,
  instance: DbInstance,
  dbUser: string,
): string {
  return `arn:${partition}:rds-db:${instance.region}:${accountId}:dbuser:${instance.dbiResourceId}/${dbUser}`;
}

/** The auth log's sentences for the refusals the authenticator adds to the token's own. */
export const refusalDetail = {
  iamDisabled: (instance: string, flags: string) =>
    `IAM database authentication is disabled on ${instance}; enable it with: iamdb rds modify-db-instance --db-instance-identifier ${instance} --enable-iam-database-authentication${flags}`,
  notIamEnabled: (instance: string, dbUser: string, flags: string) =>
    `DB user "${dbUser}" is not an IAM-enabled account on ${instance}; create it with: iamdb db-user create --db-instance-identifier ${instance} --username ${shellWord(dbUser)}${flags} (or take over an existing role with db-user enable)`,
  principalGone: (arn: string) => `${arn} no longer exists`,
  notAuthorized: (arn: string, explained: string) =>
    `'${arn}' is not authorized to perform rds-db:connect: ${explained}`,
};

/** `word` as a POSIX shell reads it back (a DB user name in a printed command). */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/** IPv4 clients of a dual-stack listener arrive as ::ffff:a.b.c.d; policies name them as a.b.c.d. */
function normalizeIp(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}

/**
 * The condition keys of a login's rds-db:connect request. (Temporary credentials add
 * `aws:TokenIssueTime` through their principal's session context: `IamLookup.policySetFor`.)
 */
export function loginContext(
  req: Pick<LoginRequest, "sourceIp" | "secureTransport">,
  instance: DbInstance,
): RequestContext {
  const context: Record<string, RequestContext[string]> = {
    "aws:SourceIp": normalizeIp(req.sourceIp),
    "aws:SecureTransport": req.secureTransport,
    "aws:RequestedRegion": instance.region,
  };
  for (const tag of instance.tags) context[`aws:ResourceTag/${tag.key}`] = tag.value;
  return context;
}

/** The login's token, checked against this instance's own names, port and region and the login user. */
export function verifyLoginToken(
  options: Pick<AuthenticatorOptions, "iam" | "clockSkewSeconds">,
  instance: DbInstance,
  req: Pick<LoginRequest, "dbUser" | "password">,
  now: () => Date,
) {
  return verifyAuthToken(req.password, {
    hostnames: instance.endpoints,
    port: instance.port,
    region: instance.region,
    dbUser: req.dbUser,
    lookupCredential: (id) => options.iam.lookupCredential(id),
    now,
    clockSkewSeconds: options.clockSkewSeconds,
  });
}

/**
 * `rds-db:connect` on the DB user's ARN under the principal's policies, with the login's
 * condition keys: the one evaluation both a login and `iamdb doctor` (explain-login.ts) make.
 */
export function evaluateConnect(
  set: NonNullable<Awaited<ReturnType<IamService["policySetFor"]>>>,
  req: Pick<LoginRequest, "sourceIp" | "secureTransport">,
  instance: DbInstance,
  resource: string,
  at: Date,
): { decision: Decision; explained: string } {
  const decision = evaluate(
    {
      action: "rds-db:connect",
      resource,
      principal: set.principal,
      context: loginContext(req, instance),
      now: at,
    },
    set.policies,
  );
  return { decision, explained: describeDecision(decision, { action: "rds-db:connect", resource }) };
}

/**
 * Everything between "the client sent a password" and "log in to the backend", the same for
 * every engine: the token (bound to this instance's names, port and the login user), the key
 * or session behind it, the instance's IAM switch, the IAM-only DB account, and
 * `rds-db:connect` under the principal's policies.
 */
export class Authenticator {
  readonly #flags: string;

  constructor(private readonly options: AuthenticatorOptions) {
    this.#flags = options.commandFlags ? ` ${options.commandFlags}` : "";
  }

  /** ` --config FILE` (and/or ` --data-dir DIR`) for the iamdb commands hints print, or "". */
  get commandFlags(): string {
    return this.#flags;
  }

  /**
   * What {@link authenticate} would decide for `req`, check by check, without logging in or
   * recording the key's use (`iamdb doctor`, the admin API's iamdb:ExplainDBLogin).
   */
  explain(req: LoginRequest): Promise<LoginExplanation> {
    return explainLogin(this.options, this.#flags, req);
  }

  async authenticate(req: LoginRequest): Promise<LoginResult> {
    const { iam, accounts } = this.options;
    const now = this.options.now ?? (() => new Date());
    const { dbUser } = req;
    const instance = (await this.options.instances?.current(req.instance.identifier)) ?? req.instance;
    if (!instance.iamAuthEnabled) {
      return {
        ok: false,
        cause: "iam-disabled",
        detail: refusalDetail.iamDisabled(instance.identifier, this.#flags),
      };
    }
    const verified = await verifyLoginToken(this.options, instance, req, now);
    if (!verified.ok) {
      return {
        ok: false,
        cause: verified.cause,
        detail: verified.detail,
        tokenErrorCode: verified.errorCode,
        ...(verified.accessKeyId === undefined ? {} : { accessKeyId: verified.accessKeyId }),
      };
    }
    const { accessKeyId } = verified;
    const principal = verified.credential.principal;
    const backendPassword = await accounts.password(instance.identifier, dbUser);
    if (backendPassword === undefined) {
      return {
        ok: false,
        cause: "db-user-not-iam-enabled",
        detail: refusalDetail.notIamEnabled(instance.identifier, dbUser, this.#flags),
        accessKeyId,
        principalArn: principal.arn,
      };
    }
    const set = await iam.policySetFor(principal);
    if (set === undefined) {
      return {
        ok: false,
        cause: "not-authorized",
        detail: refusalDetail.principalGone(principal.arn),
        accessKeyId,
        principalArn: principal.arn,
      };
    }
    const { accountId, partition } = iam.account;
    const resource = dbUserArn(partition, accountId, instance, dbUser);
    const at = now();
    const credential = verified.credential;
    const { decision, explained } = evaluateConnect(set, req, instance, resource, at);
    if (decision.decision !== "allowed") {
      return {
        ok: false,
        cause: "not-authorized",
        detail: refusalDetail.notAuthorized(principal.arn, explained),
        accessKeyId,
        principalArn: principal.arn,
      };
    }
    void iam.recordKeyUse(accessKeyId, "rds-db", instance.region, at).catch(() => {
      // Last-used bookkeeping is best effort; a store hiccup must not fail a login.
    });
    return {
      ok: true,
      accessKeyId,
      principalArn: principal.arn,
      backendPassword,
      detail: explained,
      temporary: credential.sessionToken !== undefined,
      credentialExpiresAt: credential.expiresAt,
    };
  }

  /**
   * Whether a live session may stay connected after a change: the login's checks again, with
   * the condition keys it logged in with and the time now, except the token's own (it was
   * single-use at login) and the expiry of temporary credentials (RDS keeps such sessions;
   * `gateway.sessionsFollowCredentialExpiry` ends them on a timer instead). `pass` shares
   * look-ups between the sessions of one re-evaluation.
   */
  async recheck(session: SessionCheck, pass: RecheckPass = new RecheckPass()): Promise<RecheckResult> {
    const { iam, accounts } = this.options;
    const id = session.instance.identifier;
    const instance = await pass.once(
      `i\0${id}`,
      async () => (await this.options.instances?.current(id)) ?? session.instance,
    );
    if (!instance.iamAuthEnabled) {
      return {
        ok: false,
        reason: `IAM database authentication was turned off on ${id}`,
        cause: "iam-disabled",
      };
    }
    const credential = await pass.once(`c\0${session.accessKeyId}`, () =>
      iam.lookupCredential(session.accessKeyId),
    );
    if (credential === undefined) {
      return {
        ok: false,
        reason: session.accessKeyId.startsWith("ASIA")
          ? `the temporary credentials ${session.accessKeyId} were revoked (their user or role is gone)`
          : `the access key ${session.accessKeyId} was deleted`,
        cause: "not-authorized",
      };
    }
    if (credential.status !== "Active") {
      return {
        ok: false,
        reason: `the access key ${session.accessKeyId} was deactivated`,
        cause: "not-authorized",
      };
    }
    const hasAccount = await pass.once(
      `a\0${id}\0${session.dbUser}`,
      async () => (await accounts.password(id, session.dbUser)) !== undefined,
    );
    if (!hasAccount) {
      return {
        ok: false,
        reason: `DB user "${session.dbUser}" is no longer an IAM-enabled account on ${id}`,
        cause: "db-user-not-iam-enabled",
      };
    }
    const principal = credential.principal;
    const setKey = `p\0${principal.arn}\0${principal.sessionAccessKeyId ?? ""}`;
    const set = await pass.once(setKey, () => iam.policySetFor(principal));
    if (set === undefined) {
      return { ok: false, reason: refusalDetail.principalGone(principal.arn), cause: "not-authorized" };
    }
    const { accountId, partition } = iam.account;
    const resource = dbUserArn(partition, accountId, instance, session.dbUser);
    const decided = await pass.once(
      `d\0${setKey}\0${resource}\0${session.sourceIp}\0${session.secureTransport}`,
      async () => evaluateConnect(set, session, instance, resource, pass.at),
    );
    if (decided.decision.decision !== "allowed") {
      return {
        ok: false,
        reason: `${principal.arn} is no longer allowed rds-db:connect to ${session.dbUser} on ${id}`,
        cause: "not-authorized",
        detail: refusalDetail.notAuthorized(principal.arn, decided.explained),
      };
    }
    return { ok: true };
  }
}

/** A live session as {@link Authenticator.recheck} sees it. */
export interface SessionCheck {
  readonly instance: DbInstance;
  readonly dbUser: string;
  readonly accessKeyId: string;
  readonly sourceIp: string;
  readonly secureTransport: boolean;
}

export type RecheckResult =
  | { readonly ok: true }
  | {
      readonly ok: false;
      /** One sentence for the client and the log (no secrets). */
      readonly reason: string;
      readonly cause: LoginFailureCause;
      /** The policy's explanation, for the auth log only. */
      readonly detail?: string;
    };

/** One re-evaluation's shared look-ups (a credential, a policy set, a decision is fetched once per pass). */
export class RecheckPass {
  readonly at = new Date();
  readonly #memo = new Map<string, Promise<unknown>>();

  once<T>(key: string, load: () => Promise<T>): Promise<T> {
    let p = this.#memo.get(key) as Promise<T> | undefined;
    if (p === undefined) {
      p = load();
      this.#memo.set(key, p);
    }
    return p;
  }
}
