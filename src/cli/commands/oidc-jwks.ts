import { readFileSync } from "node:fs";
import { callIamdb, child } from "../admin/iamdb-client.js";
import { UsageError, UserError } from "../errors.js";
import type { CliIO } from "../io.js";
import { type AdminApiOptions, adminApiConnection } from "./context.js";

export interface OidcJwksOptions extends AdminApiOptions {
  openIdConnectProviderArn?: string;
  jwksFile?: string;
}

const ACTIONS = {
  put: "PutOpenIDConnectProviderJwks",
  get: "GetOpenIDConnectProviderJwks",
  delete: "DeleteOpenIDConnectProviderJwks",
} as const;

/**
 * `iamdb oidc-jwks put|get|delete`: an OpenID Connect provider's static keys, for issuers the
 * control plane cannot reach (`iamdb:PutOpenIDConnectProviderJwks` & co.; docs/WORKLOAD-IDENTITY.md).
 */
export async function oidcJwksCommand(action: string, opts: OidcJwksOptions, io: CliIO): Promise<number> {
  const arn = opts.openIdConnectProviderArn;
  if (!arn) throw new UsageError("--open-id-connect-provider-arn is required");
  if (!Object.hasOwn(ACTIONS, action))
    throw new UsageError(`unknown oidc-jwks action ${action}: use put, get or delete`);
  const params: Record<string, string> = { OpenIDConnectProviderArn: arn };
  if (action === "put") {
    if (!opts.jwksFile)
      throw new UsageError("--jwks-file is required (e.g. the output of kubectl get --raw /openid/v1/jwks)");
    try {
      params.Jwks = readFileSync(opts.jwksFile, "utf8");
    } catch (e) {
      throw new UserError(`cannot read ${opts.jwksFile}: ${(e as Error).message}`);
    }
  }
  const { connection } = await adminApiConnection(opts);
  const result = await callIamdb(connection, ACTIONS[action as keyof typeof ACTIONS], params);
  if (action === "get") {
    const text = child(result, "Jwks")?.text;
    io.out(text === undefined ? JSON.stringify({ Jwks: null }) : JSON.stringify(JSON.parse(text), null, 2));
  }
  return 0;
}
