import type { RequestContext } from "../../policy/index.js";
import type { WebIdentityClaims } from "../records.js";

/**
 * The condition keys a web-identity request carries, in trust policies and (stored with the
 * session) in every later request of the session.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
 */
export function webIdentityKeys(arnOfProvider: string, w: WebIdentityClaims): RequestContext {
  return {
    [`${w.provider}:sub`]: w.subject,
    [`${w.provider}:aud`]: w.audience,
    ...(w.amr === undefined ? {} : { [`${w.provider}:amr`]: w.amr }),
    "aws:FederatedProvider": arnOfProvider,
  };
}
