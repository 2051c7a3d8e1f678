import { createLocalJWKSet, type JSONWebKeySet } from "jose";
import type { ServiceContext } from "../context.js";
import {
  EntityAlreadyExistsError,
  InvalidInputError,
  LimitExceededError,
  NoSuchEntityError,
} from "../errors.js";
import type { OidcKeyStore } from "../oidc/keys.js";
import { oidcProviderArn, parseOidcProviderArn, providerKey, providerUrlProblem } from "../oidc/url.js";
import { type PageRequest, paginate } from "../paginate.js";
import type { OidcProviderRecord } from "../records.js";
import { checkTags, mergeTags, removeTags, type Tag } from "../tags.js";
import { checkListLength, checkString } from "../validation.js";
import type { Page } from "../views.js";

/** @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html (client IDs per provider; thumbprints per provider) */
export const OIDC_QUOTAS = { clientIds: 100, thumbprints: 5, staticJwksBytes: 256 * 1024 } as const;
const THUMBPRINT = /^(?:[0-9A-Fa-f]{40})$/;

/** GetOpenIDConnectProvider's answer; `url` without `https://`, as IAM returns it. */
export interface OidcProvider {
  readonly arn: string;
  readonly url: string;
  readonly clientIdList: readonly string[];
  readonly thumbprintList: readonly string[];
  readonly createDate: Date;
  readonly tags: readonly Tag[];
}

const checkClientId = (field: string, v: unknown) => checkString(field, v, 1, 255);

function checkThumbprints(list: readonly string[]): readonly string[] {
  checkListLength("thumbprintList", list, OIDC_QUOTAS.thumbprints);
  list.forEach((t, i) => {
    checkString(`thumbprintList.${i + 1}.member`, t, 40, 40, THUMBPRINT);
  });
  return list;
}

/**
 * A JWKS an operator uploads for an issuer the control plane cannot reach: JSON with a `keys`
 * list of public keys only (a private member would turn an upload mistake into a key leak).
 */
export function checkStaticJwks(text: string): string {
  if (Buffer.byteLength(text, "utf8") > OIDC_QUOTAS.staticJwksBytes) {
    throw new InvalidInputError(`The JWKS is larger than ${OIDC_QUOTAS.staticJwksBytes} bytes.`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidInputError(
      'The JWKS is not JSON; pass the issuer\'s key set, like {"keys":[{"kty":"RSA",...}]}.',
    );
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new InvalidInputError(
      'The JWKS must be an object with a non-empty "keys" list (RFC 7517, section 5).',
    );
  }
  for (const k of keys) {
    if (
      typeof k !== "object" ||
      k === null ||
      !["RSA", "EC", "OKP"].includes((k as { kty?: string }).kty ?? "")
    ) {
      throw new InvalidInputError("Each key of the JWKS must be an RSA, EC or OKP public key (kty).");
    }
    for (const secret of ["d", "p", "q", "dp", "dq", "qi", "k", "oth"]) {
      if (Object.hasOwn(k, secret)) {
        throw new InvalidInputError(
          `A key of the JWKS has the private member "${secret}": upload the issuer's public keys only (its jwks_uri document), and treat the private key as leaked.`,
        );
      }
    }
  }
  try {
    createLocalJWKSet(parsed as JSONWebKeySet);
  } catch {
    throw new InvalidInputError("The JWKS is not a valid JSON Web Key Set.");
  }
  return text;
}

/**
 * IAM OpenID Connect identity providers: the issuers whose tokens AssumeRoleWithWebIdentity
 * accepts, with the audiences (client ids) and the certificate thumbprints that trust them.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_providers_create_oidc.html
 */
export function oidcProviderOperations(ctx: ServiceContext, keys: OidcKeyStore) {
  const view = (p: OidcProviderRecord): OidcProvider => ({
    arn: oidcProviderArn(ctx.account, p.url),
    url: p.url,
    clientIdList: p.clientIds,
    thumbprintList: p.thumbprints,
    createDate: p.createDate,
    tags: p.tags,
  });

  const keyOf = (arn: string): string => {
    checkString("openIDConnectProviderArn", arn, 20, 2048);
    const key = parseOidcProviderArn(ctx.account, arn);
    if (key === undefined) {
      throw new InvalidInputError(
        `ARN ${arn} is not valid: pass the OpenIDConnectProviderArn create-open-id-connect-provider printed (arn:${ctx.account.partition}:iam::${ctx.account.accountId}:oidc-provider/HOST/PATH).`,
      );
    }
    return key;
  };
  const notFound = (arn: string) => new NoSuchEntityError(`OpenIDConnect Provider not found for arn ${arn}`);

  async function require(arn: string): Promise<OidcProviderRecord> {
    const p = await ctx.repo.getOidcProvider(keyOf(arn));
    if (p === undefined) throw notFound(arn);
    return p;
  }

  async function update(
    arn: string,
    change: Parameters<ServiceContext["repo"]["updateOidcProvider"]>[1],
  ): Promise<void> {
    const key = keyOf(arn);
    if (!(await ctx.repo.updateOidcProvider(key, change))) throw notFound(arn);
    keys.forget(key);
  }

  return {
    /** @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html */
    async createOpenIdConnectProvider(input: {
      url: string;
      clientIdList?: readonly string[];
      thumbprintList?: readonly string[];
      tags?: readonly Tag[];
    }): Promise<{ arn: string; tags: readonly Tag[] }> {
      const url = checkString("url", input.url, 1, 255);
      const problem = providerUrlProblem(url);
      if (problem !== undefined) throw new InvalidInputError(problem);
      const clientIds = [...new Set(input.clientIdList ?? [])];
      checkListLength("clientIDList", clientIds, OIDC_QUOTAS.clientIds);
      clientIds.forEach((c, i) => {
        checkClientId(`clientIDList.${i + 1}.member`, c);
      });
      const thumbprints = checkThumbprints(input.thumbprintList ?? []);
      const tags = checkTags("tags", input.tags ?? []);
      mergeTags([], tags);
      const record: OidcProviderRecord = {
        url: providerKey(url),
        clientIds,
        thumbprints,
        tags,
        createDate: ctx.now(),
      };
      if (!(await ctx.repo.insertOidcProvider(record))) {
        throw new EntityAlreadyExistsError(`Provider with url ${url} already exists.`);
      }
      return { arn: oidcProviderArn(ctx.account, record.url), tags };
    },

    async getOpenIdConnectProvider(input: { openIdConnectProviderArn: string }): Promise<OidcProvider> {
      return view(await require(input.openIdConnectProviderArn));
    },

    async listOpenIdConnectProviders(): Promise<{ arn: string }[]> {
      return (await ctx.repo.listOidcProviders()).map((p) => ({ arn: oidcProviderArn(ctx.account, p.url) }));
    },

    /**
     * Role sessions created through the provider keep working (they follow their role); new
     * AssumeRoleWithWebIdentity calls for its tokens are refused.
     */
    async deleteOpenIdConnectProvider(input: { openIdConnectProviderArn: string }): Promise<void> {
      const arn = input.openIdConnectProviderArn;
      const key = keyOf(arn);
      if (!(await ctx.repo.deleteOidcProvider(key))) throw notFound(arn);
      keys.forget(key);
    },

    /** Idempotent, as IAM's. */
    async addClientIdToOpenIdConnectProvider(input: {
      openIdConnectProviderArn: string;
      clientId: string;
    }): Promise<void> {
      const clientId = checkClientId("clientID", input.clientId);
      await update(input.openIdConnectProviderArn, (cur) => {
        if (cur.clientIds.includes(clientId)) return {};
        if (cur.clientIds.length >= OIDC_QUOTAS.clientIds) {
          throw new LimitExceededError(
            `Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: ${OIDC_QUOTAS.clientIds}. Remove a client id first.`,
          );
        }
        return { clientIds: [...cur.clientIds, clientId] };
      });
    },

    /** Removing a client id the provider does not have is not an error, as in IAM. */
    async removeClientIdFromOpenIdConnectProvider(input: {
      openIdConnectProviderArn: string;
      clientId: string;
    }): Promise<void> {
      const clientId = checkClientId("clientID", input.clientId);
      await update(input.openIdConnectProviderArn, (cur) => ({
        clientIds: cur.clientIds.filter((c) => c !== clientId),
      }));
    },

    /** Replaces the whole list. Keys fetched under the old list are fetched again. */
    async updateOpenIdConnectProviderThumbprint(input: {
      openIdConnectProviderArn: string;
      thumbprintList: readonly string[];
    }): Promise<void> {
      const thumbprints = checkThumbprints(input.thumbprintList);
      await update(input.openIdConnectProviderArn, () => ({ thumbprints }));
    },

    async tagOpenIdConnectProvider(input: {
      openIdConnectProviderArn: string;
      tags: readonly Tag[];
    }): Promise<void> {
      const tags = checkTags("tags", input.tags);
      await update(input.openIdConnectProviderArn, (cur) => ({ tags: mergeTags(cur.tags, tags) }));
    },

    async untagOpenIdConnectProvider(input: {
      openIdConnectProviderArn: string;
      tagKeys: readonly string[];
    }): Promise<void> {
      await update(input.openIdConnectProviderArn, (cur) => ({ tags: removeTags(cur.tags, input.tagKeys) }));
    },

    async listOpenIdConnectProviderTags(
      input: { openIdConnectProviderArn: string } & PageRequest,
    ): Promise<Page<Tag>> {
      const p = await require(input.openIdConnectProviderArn);
      return paginate(p.tags, (t) => t.key.toLowerCase(), input);
    },

    /**
     * iamdb only: the provider's keys as a static JWKS, used instead of fetching them (issuers the
     * control plane cannot reach, such as a cluster's in-cluster issuer).
     */
    async putOpenIdConnectProviderJwks(input: {
      openIdConnectProviderArn: string;
      jwks: string;
    }): Promise<void> {
      const jwks = checkStaticJwks(input.jwks);
      await update(input.openIdConnectProviderArn, () => ({ staticJwks: jwks }));
    },

    async getOpenIdConnectProviderJwks(input: {
      openIdConnectProviderArn: string;
    }): Promise<string | undefined> {
      return (await require(input.openIdConnectProviderArn)).staticJwks;
    },

    /** Back to fetching the keys from the issuer. */
    async deleteOpenIdConnectProviderJwks(input: { openIdConnectProviderArn: string }): Promise<void> {
      await update(input.openIdConnectProviderArn, () => ({ staticJwks: null }));
    },
  };
}

export type OidcProviderOperations = ReturnType<typeof oidcProviderOperations>;
