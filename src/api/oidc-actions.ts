import { oidcProviderArn, providerKey } from "../iam/oidc/url.js";
import type { ActionCall, ActionSpec, Target } from "./action.js";
import type { QueryParams } from "./params.js";
import { pageXml, tagXml } from "./shapes.js";
import { xmlList } from "./xml.js";

/**
 * The IAM OpenID Connect provider actions, authorized as `iam:ACTION` on the provider's ARN
 * (`arn:aws:iam::ACCOUNT:oidc-provider/HOST/PATH`); ListOpenIDConnectProviders on `*`, as the
 * service authorization reference lists no resource for it. Plus iamdb's own static-JWKS actions
 * (`iamdb:PutOpenIDConnectProviderJwks` & co.), in the `iamdb` namespace.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html
 */

const ARN = "OpenIDConnectProviderArn";
const arnOf = (c: ActionCall) => c.params.required(ARN);
const providerTarget = (c: ActionCall): Target => ({ resource: arnOf(c) });

/** aws:RequestTag/KEY and aws:TagKeys for actions that set tags. */
function tagContext(c: ActionCall): Target["context"] {
  const tags = c.params.tags();
  if (tags === undefined) return {};
  const ctx: Record<string, string | string[]> = { "aws:TagKeys": tags.map((t) => t.key) };
  for (const t of tags) ctx[`aws:RequestTag/${t.key}`] = t.value;
  return ctx;
}

const listOf = (p: QueryParams, name: string): string[] => {
  const v = p.strings(name);
  if (v === undefined) throw p.missing(name);
  return v;
};

const done = async (work: Promise<unknown>) => {
  await work;
  return undefined;
};

export const OIDC_PROVIDER_ACTIONS: Readonly<Record<string, ActionSpec>> = {
  CreateOpenIDConnectProvider: {
    authorize: (c) => ({
      resource: oidcProviderArn(c.iam.account, providerKey(c.params.required("Url"))),
      context: tagContext(c),
    }),
    run: async ({ iam, params: p }) => {
      const r = await iam.createOpenIdConnectProvider({
        url: p.required("Url"),
        clientIdList: p.strings("ClientIDList") ?? [],
        thumbprintList: p.strings("ThumbprintList") ?? [],
        tags: p.tags() ?? [],
      });
      return {
        OpenIDConnectProviderArn: r.arn,
        Tags: r.tags.length === 0 ? undefined : xmlList(r.tags.map(tagXml)),
      };
    },
  },
  GetOpenIDConnectProvider: {
    authorize: providerTarget,
    run: async (c) => {
      const p = await c.iam.getOpenIdConnectProvider({ openIdConnectProviderArn: arnOf(c) });
      return {
        Url: p.url,
        ClientIDList: xmlList([...p.clientIdList]),
        ThumbprintList: xmlList([...p.thumbprintList]),
        CreateDate: p.createDate,
        Tags: p.tags.length === 0 ? undefined : xmlList(p.tags.map(tagXml)),
      };
    },
  },
  ListOpenIDConnectProviders: {
    authorize: () => ({ resource: "*" }),
    run: async ({ iam }) => ({
      OpenIDConnectProviderList: xmlList(
        (await iam.listOpenIdConnectProviders()).map((p) => ({ Arn: p.arn })),
      ),
    }),
  },
  DeleteOpenIDConnectProvider: {
    authorize: providerTarget,
    run: (c) => done(c.iam.deleteOpenIdConnectProvider({ openIdConnectProviderArn: arnOf(c) })),
  },
  AddClientIDToOpenIDConnectProvider: {
    authorize: providerTarget,
    run: (c) =>
      done(
        c.iam.addClientIdToOpenIdConnectProvider({
          openIdConnectProviderArn: arnOf(c),
          clientId: c.params.required("ClientID"),
        }),
      ),
  },
  RemoveClientIDFromOpenIDConnectProvider: {
    authorize: providerTarget,
    run: (c) =>
      done(
        c.iam.removeClientIdFromOpenIdConnectProvider({
          openIdConnectProviderArn: arnOf(c),
          clientId: c.params.required("ClientID"),
        }),
      ),
  },
  UpdateOpenIDConnectProviderThumbprint: {
    authorize: providerTarget,
    run: (c) =>
      done(
        c.iam.updateOpenIdConnectProviderThumbprint({
          openIdConnectProviderArn: arnOf(c),
          thumbprintList: listOf(c.params, "ThumbprintList"),
        }),
      ),
  },
  TagOpenIDConnectProvider: {
    authorize: (c) => ({ ...providerTarget(c), context: tagContext(c) }),
    run: (c) =>
      done(
        c.iam.tagOpenIdConnectProvider({
          openIdConnectProviderArn: arnOf(c),
          tags:
            c.params.tags() ??
            (() => {
              throw c.params.missing("Tags");
            })(),
        }),
      ),
  },
  UntagOpenIDConnectProvider: {
    authorize: (c) => ({
      ...providerTarget(c),
      context: { "aws:TagKeys": c.params.strings("TagKeys") ?? [] },
    }),
    run: (c) =>
      done(
        c.iam.untagOpenIdConnectProvider({
          openIdConnectProviderArn: arnOf(c),
          tagKeys: listOf(c.params, "TagKeys"),
        }),
      ),
  },
  ListOpenIDConnectProviderTags: {
    authorize: providerTarget,
    run: async (c) =>
      pageXml(
        "Tags",
        await c.iam.listOpenIdConnectProviderTags({
          openIdConnectProviderArn: arnOf(c),
          marker: c.params.str("Marker"),
          maxItems: c.params.int("MaxItems"),
        }),
        tagXml,
      ),
  },
};

/**
 * iamdb's static-JWKS actions: `iamdb:PutOpenIDConnectProviderJwks` (parameters
 * OpenIDConnectProviderArn and Jwks, the key set as JSON text),
 * `iamdb:GetOpenIDConnectProviderJwks` (answers Jwks, absent when the keys are fetched) and
 * `iamdb:DeleteOpenIDConnectProviderJwks`, authorized on the provider's ARN.
 */
export const OIDC_JWKS_ACTIONS: Readonly<Record<string, ActionSpec>> = {
  PutOpenIDConnectProviderJwks: {
    authorize: providerTarget,
    run: (c) =>
      done(
        c.iam.putOpenIdConnectProviderJwks({
          openIdConnectProviderArn: arnOf(c),
          jwks: c.params.required("Jwks"),
        }),
      ),
  },
  GetOpenIDConnectProviderJwks: {
    authorize: providerTarget,
    run: async (c) => ({
      Jwks: await c.iam.getOpenIdConnectProviderJwks({ openIdConnectProviderArn: arnOf(c) }),
    }),
  },
  DeleteOpenIDConnectProviderJwks: {
    authorize: providerTarget,
    run: (c) => done(c.iam.deleteOpenIdConnectProviderJwks({ openIdConnectProviderArn: arnOf(c) })),
  },
};
