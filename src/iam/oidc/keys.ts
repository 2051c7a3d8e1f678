import { createLocalJWKSet, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import type { OidcProviderRecord } from "../records.js";
import { fetchIssuerJson, type IssuerFetchOptions, IssuerUnreachableError } from "./https.js";

/**
 * The signing keys of each OpenID Connect provider, as IAM gets them: the discovery document at
 * `ISSUER/.well-known/openid-configuration`, then its `jwks_uri`, both over HTTPS trusted by the
 * system store or the provider's thumbprints (https.ts). Keys are cached per provider until they
 * expire (`ttlMs`), fetched again when a token names a `kid` the cache lacks (at most once per
 * `refreshCooldownMs`, so unsigned callers cannot make iamdb hammer the issuer), and used while
 * valid even when the issuer is down. A provider with a static JWKS is never fetched.
 * @see https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderConfig
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html
 */

export interface OidcKeyOptions {
  /** How long fetched keys are used without asking the issuer again. Default 1 hour. */
  readonly ttlMs?: number;
  /** Least time between two fetches for an unknown `kid`. Default 30 s. */
  readonly refreshCooldownMs?: number;
  /** Per HTTPS request. Default 5 s. */
  readonly timeoutMs?: number;
  /** Largest discovery document or JWKS. Default 256 KiB. */
  readonly maxBytes?: number;
  /** Trust anchors (PEM) added to the system's for every issuer. */
  readonly extraCa?: readonly string[];
}

/** The keys of one provider, ready for `jwtVerify`. */
export interface ProviderKeys {
  readonly getKey: JWTVerifyGetKey;
  /** Whether a fetch now could find keys the set lacks (false for static keys or a fresh fetch). */
  readonly refreshable: boolean;
}

interface Entry {
  readonly getKey: JWTVerifyGetKey;
  readonly fetchedAt: number;
  /** What the keys were fetched under: a thumbprint removed from the provider drops them. */
  readonly trust: string;
}

/** A document from the issuer is not what OpenID Connect Discovery specifies. */
export class IssuerDocumentError extends IssuerUnreachableError {}

export class OidcKeyStore {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();
  private readonly staticSets = new Map<string, JWTVerifyGetKey>();
  private readonly ttlMs: number;
  private readonly cooldownMs: number;
  private readonly fetchOptions: IssuerFetchOptions;

  constructor(
    private readonly now: () => Date,
    options: OidcKeyOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 3_600_000;
    this.cooldownMs = options.refreshCooldownMs ?? 30_000;
    this.fetchOptions = {
      timeoutMs: options.timeoutMs ?? 5_000,
      maxBytes: options.maxBytes ?? 256 * 1024,
      now,
      ...(options.extraCa === undefined ? {} : { extraCa: options.extraCa }),
    };
  }

  /**
   * The provider's keys: static, cached while fresh, or fetched. Throws IssuerUnreachableError
   * (or IssuerUntrustedError) when they must be fetched and cannot be.
   */
  async keys(provider: OidcProviderRecord): Promise<ProviderKeys> {
    if (provider.staticJwks !== undefined)
      return { getKey: this.staticSet(provider.staticJwks), refreshable: false };
    const trust = provider.thumbprints.join(",");
    const cached = this.entries.get(provider.url);
    const now = this.now().getTime();
    if (cached !== undefined && cached.trust === trust && now - cached.fetchedAt < this.ttlMs) {
      return { getKey: cached.getKey, refreshable: now - cached.fetchedAt >= this.cooldownMs };
    }
    const fresh = await this.fetch(provider, trust);
    return { getKey: fresh.getKey, refreshable: false };
  }

  /** Fetches again for a `kid` the cached keys lack; the caller checked `refreshable`. */
  async refresh(provider: OidcProviderRecord): Promise<JWTVerifyGetKey> {
    return (await this.fetch(provider, provider.thumbprints.join(","))).getKey;
  }

  /** Drops what is cached for a provider (deleted, or its keys replaced). */
  forget(url: string): void {
    this.entries.delete(url);
  }

  private staticSet(text: string): JWTVerifyGetKey {
    let set = this.staticSets.get(text);
    if (set === undefined) {
      set = createLocalJWKSet(JSON.parse(text) as JSONWebKeySet);
      if (this.staticSets.size >= 100) this.staticSets.clear();
      this.staticSets.set(text, set);
    }
    return set;
  }

  /** One fetch per provider at a time: concurrent callers share it. */
  private fetch(provider: OidcProviderRecord, trust: string): Promise<Entry> {
    const running = this.inflight.get(provider.url);
    if (running !== undefined) return running;
    const p = this.load(provider, trust).finally(() => this.inflight.delete(provider.url));
    this.inflight.set(provider.url, p);
    return p;
  }

  private async load(provider: OidcProviderRecord, trust: string): Promise<Entry> {
    const issuer = `https://${provider.url}`;
    const discoveryUrl = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
    const discovery = await fetchIssuerJson(discoveryUrl, provider.thumbprints, this.fetchOptions);
    if (typeof discovery !== "object" || discovery === null) {
      throw new IssuerDocumentError(`${discoveryUrl} is not an OpenID Connect discovery document.`);
    }
    const doc = discovery as { issuer?: unknown; jwks_uri?: unknown };
    // Discovery 1.0 section 4.3: the document's issuer must be the URL it was fetched for.
    if (doc.issuer !== issuer) {
      throw new IssuerDocumentError(
        `${discoveryUrl} names issuer ${JSON.stringify(doc.issuer)}, not ${issuer}; register the provider with the issuer its tokens carry.`,
      );
    }
    if (typeof doc.jwks_uri !== "string" || !doc.jwks_uri.startsWith("https://")) {
      throw new IssuerDocumentError(`${discoveryUrl} has no https:// jwks_uri.`);
    }
    const jwks = await fetchIssuerJson(doc.jwks_uri, provider.thumbprints, this.fetchOptions);
    let getKey: JWTVerifyGetKey;
    try {
      getKey = createLocalJWKSet(jwks as JSONWebKeySet);
    } catch {
      throw new IssuerDocumentError(`${doc.jwks_uri} is not a JSON Web Key Set.`);
    }
    const entry: Entry = { getKey, fetchedAt: this.now().getTime(), trust };
    this.entries.set(provider.url, entry);
    return entry;
  }
}
