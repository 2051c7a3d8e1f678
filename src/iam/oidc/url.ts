import type { AccountConfig } from "../arns.js";

/**
 * OpenID Connect provider URLs and ARNs. IAM keeps a provider's URL without its `https://`
 * (`HOST/PATH`): that form is the ARN's resource (`oidc-provider/HOST/PATH`), the prefix of the
 * trust-policy condition keys (`HOST/PATH:sub`) and what GetOpenIDConnectProvider returns as Url.
 * @see https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateOpenIDConnectProvider.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
 */

/** Why a provider URL is refused, in words that say what to pass instead; undefined when valid. */
export function providerUrlProblem(url: string): string | undefined {
  if (!url.startsWith("https://")) {
    return `The provider URL must begin with https:// (the issuer as tokens carry it in "iss"), like https://oidc.example.com/id/ABC.`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `The provider URL ${url} is not a valid URL; pass the issuer, like https://oidc.example.com/id/ABC.`;
  }
  if (parsed.search !== "" || parsed.hash !== "" || url.includes("?") || url.includes("#")) {
    return "The provider URL may have a path but no query string or fragment (OpenID Connect Discovery 1.0, section 2).";
  }
  if (parsed.username !== "" || parsed.password !== "") {
    return "The provider URL must not carry a user name or password.";
  }
  return undefined;
}

/**
 * `https://Host.Example/path` -> `host.example/path`: the scheme dropped and the host
 * lower-cased (host names compare without regard to case; paths compare exactly). The input
 * may also be an `iss` value without a scheme, which is kept as is apart from the host's case.
 */
export function providerKey(urlOrIssuer: string): string {
  const rest = urlOrIssuer.startsWith("https://") ? urlOrIssuer.slice("https://".length) : urlOrIssuer;
  const slash = rest.indexOf("/");
  return slash < 0 ? rest.toLowerCase() : rest.slice(0, slash).toLowerCase() + rest.slice(slash);
}

export function oidcProviderArn(a: AccountConfig, key: string): string {
  return `arn:${a.partition}:iam::${a.accountId}:oidc-provider/${key}`;
}

/** The provider key an ARN of this account names, or undefined when it is not such an ARN. */
export function parseOidcProviderArn(a: AccountConfig, arn: string): string | undefined {
  const prefix = `arn:${a.partition}:iam::${a.accountId}:oidc-provider/`;
  if (!arn.startsWith(prefix)) return undefined;
  const key = arn.slice(prefix.length);
  return key === "" ? undefined : key;
}
