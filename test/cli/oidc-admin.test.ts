import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Command, CommanderError } from "commander";
import { ensureAdministrator } from "../../src/api/bootstrap.js";
import { registerAdminCommands } from "../../src/cli/admin/register.js";
import { oidcJwksCommand } from "../../src/cli/commands/oidc-jwks.js";
import { EXIT_USAGE } from "../../src/cli/errors.js";
import type { CliIO } from "../../src/cli/io.js";
import { ACCOUNT, type Harness, policy, startHarness } from "../api/helpers.js";
import { signingKey, startTestIssuer, type TestIssuer } from "../helpers/oidc-issuer.js";

/** Runs `iamdb ARGS` through the admin commands as src/cli/main.ts registers them. */
async function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIO = { out: (t) => out.push(t), err: (t) => err.push(t), readStdin: async () => "", env: {} };
  let code = 0;
  const program = new Command("iamdb")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  registerAdminCommands(program, io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    code = e.exitCode === 0 ? 0 : EXIT_USAGE;
  }
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("iamdb iam …-open-id-connect-provider and iamdb sts assume-role-with-web-identity", () => {
  let h: Harness;
  let issuer: TestIssuer;
  let dd: string[];
  before(async () => {
    issuer = await startTestIssuer();
    h = await startHarness();
    await ensureAdministrator({ iam: h.iam, dataDir: h.dir, endpointUrl: h.api.url, region: "us-east-1" });
    dd = ["--data-dir", h.dir];
  });
  after(async () => {
    await h.dispose();
    await issuer.close();
  });

  it("creates, reads, changes and lists a provider; a role trusts it; a token file becomes credentials", async () => {
    const created = await run([
      "iam",
      "create-open-id-connect-provider",
      "--url",
      issuer.url,
      "--client-id-list",
      "sts.amazonaws.com",
      "--thumbprint-list",
      issuer.chain.intermediate.thumbprint,
      ...dd,
    ]);
    assert.equal(created.code, 0, created.err);
    const arn = (JSON.parse(created.out) as { OpenIDConnectProviderArn: string }).OpenIDConnectProviderArn;
    assert.equal(arn, `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer.host}`);
    const add = await run([
      "iam",
      "add-client-id-to-open-id-connect-provider",
      "--open-id-connect-provider-arn",
      arn,
      "--client-id",
      "other",
      ...dd,
    ]);
    assert.equal(add.code, 0, add.err);
    const got = await run([
      "iam",
      "get-open-id-connect-provider",
      "--open-id-connect-provider-arn",
      arn,
      ...dd,
    ]);
    assert.equal(got.code, 0, got.err);
    const shown = JSON.parse(got.out) as { Url: string; ClientIDList: string[] };
    assert.equal(shown.Url, issuer.host);
    assert.deepEqual(shown.ClientIDList, ["sts.amazonaws.com", "other"]);
    const listed = await run(["iam", "list-open-id-connect-providers", ...dd]);
    assert.deepEqual(JSON.parse(listed.out), { OpenIDConnectProviderList: [{ Arn: arn }] });

    const role = await run([
      "iam",
      "create-role",
      "--role-name",
      "cli-wif",
      "--assume-role-policy-document",
      policy({ Effect: "Allow", Principal: { Federated: arn }, Action: "sts:AssumeRoleWithWebIdentity" }),
      ...dd,
    ]);
    assert.equal(role.code, 0, role.err);
    const tokenFile = join(h.dir, "token");
    writeFileSync(tokenFile, await issuer.token({}));
    const assumed = await run([
      "sts",
      "assume-role-with-web-identity",
      "--role-arn",
      `arn:aws:iam::${ACCOUNT}:role/cli-wif`,
      "--role-session-name",
      "cli",
      "--web-identity-token",
      `file://${tokenFile}`,
      ...dd,
    ]);
    assert.equal(assumed.code, 0, assumed.err);
    const r = JSON.parse(assumed.out) as { AssumedRoleUser: { Arn: string }; Provider: string };
    assert.equal(r.AssumedRoleUser.Arn, `arn:aws:sts::${ACCOUNT}:assumed-role/cli-wif/cli`);
    assert.equal(r.Provider, arn);

    const bad = await run([
      "sts",
      "assume-role-with-web-identity",
      "--role-arn",
      `arn:aws:iam::${ACCOUNT}:role/cli-wif`,
      "--role-session-name",
      "cli",
      "--web-identity-token",
      "not-a-jwt",
      ...dd,
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.err,
      /An error occurred \(InvalidIdentityToken(Exception)?\) when calling the AssumeRoleWithWebIdentity operation: The web identity token is not a JWT/,
    );

    const del = await run([
      "iam",
      "delete-open-id-connect-provider",
      "--open-id-connect-provider-arn",
      arn,
      ...dd,
    ]);
    assert.equal(del.code, 0, del.err);
    assert.deepEqual(JSON.parse((await run(["iam", "list-open-id-connect-providers", ...dd])).out), {
      OpenIDConnectProviderList: [],
    });
  });

  it("iamdb oidc-jwks put|get|delete: static keys used instead of the issuer's", async () => {
    const created = await run([
      "iam",
      "create-open-id-connect-provider",
      "--url",
      "https://offline.example/id/K",
      ...dd,
    ]);
    const arn = (JSON.parse(created.out) as { OpenIDConnectProviderArn: string }).OpenIDConnectProviderArn;
    const key = await signingKey("offline", "ES256");
    const file = join(h.dir, "jwks.json");
    writeFileSync(file, JSON.stringify({ keys: [key.publicJwk] }));
    const out: string[] = [];
    const io: CliIO = { out: (t) => out.push(t), err: () => {}, readStdin: async () => "", env: {} };
    const base = { openIdConnectProviderArn: arn, dataDir: h.dir };
    assert.equal(await oidcJwksCommand("put", { ...base, jwksFile: file }, io), 0);
    assert.equal(await oidcJwksCommand("get", base, io), 0);
    assert.deepEqual(JSON.parse(out.at(-1) ?? ""), { keys: [key.publicJwk] });
    assert.equal(await oidcJwksCommand("delete", base, io), 0);
    assert.equal(await oidcJwksCommand("get", base, io), 0);
    assert.deepEqual(JSON.parse(out.at(-1) ?? ""), { Jwks: null });
    writeFileSync(file, JSON.stringify({ keys: [{ ...key.publicJwk, d: "eA" }] }));
    await assert.rejects(
      oidcJwksCommand("put", { ...base, jwksFile: file }, io),
      /InvalidInput.*private member/,
    );
  });
});
