import type { CompiledPolicy, PolicySet, RequestContext, RequestPrincipal } from "../policy/index.js";
import { type AccountConfig, assumedRoleArn, parseIamArn, roleArn, userArn } from "./arns.js";
import { InvalidatingCache } from "./cache.js";
import {
  type CompiledGraph,
  compileManagedSessionPolicy,
  compileRoleGraph,
  compileSessionPolicy,
  compileUserGraph,
  vanishedSessionPolicy,
} from "./compile-graph.js";
import { sealContext } from "./context.js";
import { webIdentityKeys } from "./oidc/context.js";
import { oidcProviderArn } from "./oidc/url.js";
import type { Credential, Principal } from "./principal.js";
import type { WebIdentityClaims } from "./records.js";
import type { IamRepository } from "./repository.js";
import type { SecretBox } from "./secret-box.js";
import { overlayTags, type Tag } from "./tags.js";

/** What the evaluator needs for one principal: pass both halves to the policy module's `evaluate`. */
export interface PrincipalPolicies {
  /** ARN, type, account, `aws:username`, `aws:userid`, principal tags and (sessions) the role ARN. */
  readonly principal: RequestPrincipal;
  /** Identity policies, boundary, session policy. */
  readonly policies: PolicySet;
}

export interface LookupOptions {
  readonly repo: IamRepository;
  readonly secrets: SecretBox;
  readonly account: AccountConfig;
  /** Most credentials and principals kept in memory each. Default 10,000. */
  readonly cacheEntries?: number;
  /** A key's last-used record is written at most this often per key (service or region change writes at once). Default 60 s. */
  readonly keyUseIntervalMs?: number;
}

/** A credential as cached: the secret stays sealed until a signature must be checked. */
interface CachedCredential {
  readonly accessKeyId: string;
  readonly sealedSecret: string;
  readonly sealedSessionToken?: string | undefined;
  readonly status: "Active" | "Inactive";
  readonly expiresAt?: Date | undefined;
  readonly principal: Principal;
  /** Inline session policy first, then the managed ones in the order they were passed. */
  readonly sessionPolicies?: readonly CompiledPolicy[] | undefined;
  readonly sessionTags?: readonly Tag[] | undefined;
  readonly transitiveTagKeys?: readonly string[] | undefined;
  /** Temporary credentials: when they were issued (`aws:TokenIssueTime`). */
  readonly createDate?: Date | undefined;
  readonly webIdentity?: WebIdentityClaims | undefined;
}

/** What a role session carries on to a session it creates (role chaining). */
export interface SessionTagging {
  /** Every session tag (passed and inherited), as stored; role tags are not included. */
  readonly tags: readonly Tag[];
  readonly transitiveTagKeys: readonly string[];
}

/**
 * The authentication/authorization read path. Caches credentials and compiled policy graphs,
 * and drops them on every change the store reports (own writes synchronously; other processes'
 * through the change feed), so a key deactivated, a policy detached or a user deleted affects
 * the very next lookup in this process.
 */
export class IamLookup {
  private readonly credentials: InvalidatingCache<CachedCredential>;
  private readonly graphs: InvalidatingCache<CompiledGraph>;
  private readonly unsubscribe: () => void;
  private readonly keyUse = new Map<string, { at: number; where: string }>();
  private readonly repo: IamRepository;
  private readonly secrets: SecretBox;
  private readonly account: AccountConfig;
  private readonly keyUseIntervalMs: number;

  constructor(options: LookupOptions) {
    this.repo = options.repo;
    this.secrets = options.secrets;
    this.account = options.account;
    this.keyUseIntervalMs = options.keyUseIntervalMs ?? 60_000;
    const size = options.cacheEntries ?? 10_000;
    this.credentials = new InvalidatingCache(this.repo.changes, size);
    this.graphs = new InvalidatingCache(this.repo.changes, size);
    this.unsubscribe = this.repo.changes.subscribe((change) => {
      if (change.scope === "credential") {
        this.credentials.delete(change.accessKeyId);
      } else if (change.scope === "all") {
        this.credentials.clear();
        this.graphs.clear();
      }
    });
  }

  /**
   * The credential behind an access key id, or undefined when no such key or session exists.
   * Expired sessions are still returned (with `expiresAt`) so the caller can name the cause.
   */
  async lookupCredential(accessKeyId: string): Promise<Credential | undefined> {
    const c = await this.credentials.get(accessKeyId, () => this.loadCredential(accessKeyId));
    if (c === undefined) return undefined;
    return {
      accessKeyId: c.accessKeyId,
      secretAccessKey: this.secrets.open(c.sealedSecret, sealContext.secret(c.accessKeyId)),
      status: c.status,
      sessionToken:
        c.sealedSessionToken === undefined
          ? undefined
          : this.secrets.open(c.sealedSessionToken, sealContext.sessionToken(c.accessKeyId)),
      expiresAt: c.expiresAt,
      principal: c.principal,
    };
  }

  /**
   * Everything the evaluator needs for `principal`, or undefined when the user, role or
   * session no longer exists.
   */
  async policySetFor(principal: Principal): Promise<PrincipalPolicies | undefined> {
    if (principal.type === "user") {
      const g = await this.graphs.get(`user:${principal.userId}`, () => this.loadUserGraph(principal.userId));
      if (g === undefined) return undefined;
      let sessionContext: RequestContext | undefined;
      if (principal.sessionAccessKeyId !== undefined) {
        const session = await this.credentials.get(principal.sessionAccessKeyId, () =>
          this.loadCredential(principal.sessionAccessKeyId as string),
        );
        if (session === undefined) return undefined;
        sessionContext = this.sessionContext(session);
      }
      return {
        principal: {
          arn: g.arn,
          type: "User",
          accountId: this.account.accountId,
          username: g.name,
          userId: g.id,
          tags: g.tags,
          ...(sessionContext === undefined ? {} : { sessionContext }),
        },
        policies: { identity: g.identity, ...(g.boundary ? { boundary: g.boundary } : {}) },
      };
    }
    const g = await this.graphs.get(`role:${principal.roleId}`, () => this.loadRoleGraph(principal.roleId));
    const session = await this.credentials.get(principal.sessionAccessKeyId, () =>
      this.loadCredential(principal.sessionAccessKeyId),
    );
    if (g === undefined || session === undefined) return undefined;
    return {
      principal: {
        arn: principal.arn,
        type: "AssumedRole",
        accountId: this.account.accountId,
        userId: principal.principalId,
        // Session tags override the role's tags with the same key, whatever its case.
        tags: overlayTags(g.tags, session.sessionTags ?? []),
        roleArn: g.arn,
        sessionContext: this.sessionContext(session),
      },
      policies: {
        identity: g.identity,
        ...(g.boundary ? { boundary: g.boundary } : {}),
        ...(session.sessionPolicies?.length ? { session: session.sessionPolicies } : {}),
      },
    };
  }

  /**
   * The session tags and transitive keys of a role session, for AssumeRole called with its
   * credentials; undefined for anything else or a session that no longer exists.
   */
  async sessionTagging(principal: Principal): Promise<SessionTagging | undefined> {
    if (principal.type !== "assumed-role") return undefined;
    const s = await this.credentials.get(principal.sessionAccessKeyId, () =>
      this.loadCredential(principal.sessionAccessKeyId),
    );
    if (s === undefined) return undefined;
    return { tags: s.sessionTags ?? [], transitiveTagKeys: s.transitiveTagKeys ?? [] };
  }

  /**
   * Last-used bookkeeping for GetAccessKeyLastUsed. AWS reports this approximately, so writes
   * are coalesced per key (`keyUseIntervalMs`) to keep fsyncs off the login path. Temporary
   * credentials are not tracked, as in AWS.
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_access-keys.html#Using_RotateAccessKey
   */
  async recordKeyUse(accessKeyId: string, service: string, region: string, when: Date): Promise<void> {
    if (accessKeyId.startsWith("ASIA")) return;
    const where = `${service}\n${region}`;
    const last = this.keyUse.get(accessKeyId);
    if (last !== undefined && last.where === where && when.getTime() - last.at < this.keyUseIntervalMs)
      return;
    if (this.keyUse.size >= 100_000) this.keyUse.clear();
    this.keyUse.set(accessKeyId, { at: when.getTime(), where });
    await this.repo.recordAccessKeyUse(accessKeyId, when, service, region);
  }

  close(): void {
    this.unsubscribe();
  }

  /**
   * Keys a session carries into each of its requests: `aws:TokenIssueTime` (what the AWS way of
   * revoking a role's sessions tests) and a web-identity session's token keys.
   * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html
   */
  private sessionContext(session: CachedCredential): RequestContext {
    return {
      ...(session.createDate === undefined ? {} : { "aws:TokenIssueTime": session.createDate }),
      ...(session.webIdentity === undefined
        ? {}
        : webIdentityKeys(oidcProviderArn(this.account, session.webIdentity.provider), session.webIdentity)),
    };
  }

  private async loadUserGraph(userId: string): Promise<CompiledGraph | undefined> {
    const g = await this.repo.loadUserPolicyGraph(userId);
    return g && compileUserGraph(this.account, g);
  }

  private async loadRoleGraph(roleId: string): Promise<CompiledGraph | undefined> {
    const g = await this.repo.loadRolePolicyGraph(roleId);
    return g && compileRoleGraph(this.account, g);
  }

  private async loadCredential(accessKeyId: string): Promise<CachedCredential | undefined> {
    if (accessKeyId.startsWith("ASIA")) return this.loadSession(accessKeyId);
    const key = await this.repo.getAccessKey(accessKeyId);
    const user = key && (await this.repo.getUserById(key.userId));
    if (!key || !user) return undefined;
    return {
      accessKeyId,
      sealedSecret: key.sealedSecret,
      status: key.status,
      principal: {
        type: "user",
        arn: userArn(this.account, user.path, user.userName),
        userId: user.userId,
        userName: user.userName,
      },
    };
  }

  private async loadSession(accessKeyId: string): Promise<CachedCredential | undefined> {
    const s = await this.repo.getSession(accessKeyId);
    if (!s) return undefined;
    const base = {
      accessKeyId,
      sealedSecret: s.sealedSecret,
      sealedSessionToken: s.sealedSessionToken,
      status: "Active" as const,
      expiresAt: s.expiresAt,
      createDate: s.createDate,
    };
    if (s.subject.kind === "user") {
      const user = await this.repo.getUserById(s.subject.userId);
      if (!user) return undefined;
      return {
        ...base,
        principal: {
          type: "user",
          arn: userArn(this.account, user.path, user.userName),
          userId: user.userId,
          userName: user.userName,
          sessionAccessKeyId: accessKeyId,
        },
      };
    }
    const role = await this.repo.getRoleById(s.subject.roleId);
    if (!role) return undefined;
    const arn = assumedRoleArn(this.account, role.roleName, s.subject.sessionName);
    return {
      ...base,
      principal: {
        type: "assumed-role",
        arn,
        roleArn: roleArn(this.account, role.path, role.roleName),
        roleId: role.roleId,
        roleName: role.roleName,
        sessionName: s.subject.sessionName,
        principalId: `${role.roleId}:${s.subject.sessionName}`,
        sessionAccessKeyId: accessKeyId,
      },
      sessionPolicies: [
        ...(s.sessionPolicy === undefined ? [] : [compileSessionPolicy(s.sessionPolicy, arn)]),
        ...(await Promise.all((s.sessionPolicyArns ?? []).map((a) => this.loadManagedSessionPolicy(a)))),
      ],
      sessionTags: s.sessionTags,
      transitiveTagKeys: s.transitiveTagKeys,
      webIdentity: s.webIdentity,
    };
  }

  /**
   * A managed session policy by ARN, at its current default version. The credential cache that
   * holds it is dropped on every policy change, so a new default version applies at once. A
   * policy deleted since AssumeRole leaves a session policy that allows nothing (fail closed).
   */
  private async loadManagedSessionPolicy(arn: string): Promise<CompiledPolicy> {
    const parsed = parseIamArn(this.account, arn);
    const policy = parsed?.kind === "policy" ? await this.repo.getPolicyByName(parsed.name) : undefined;
    if (
      policy === undefined ||
      parsed === undefined ||
      policy.path !== parsed.path ||
      policy.policyName !== parsed.name
    ) {
      return vanishedSessionPolicy(arn);
    }
    const version = await this.repo.getPolicyVersion(policy.policyId, policy.defaultVersionId);
    if (version === undefined) return vanishedSessionPolicy(arn);
    return compileManagedSessionPolicy(this.account, { policy, document: version.document });
  }
}
