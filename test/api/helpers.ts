import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { IAMClient } from "@aws-sdk/client-iam";
import { RDSClient } from "@aws-sdk/client-rds";
import { STSClient } from "@aws-sdk/client-sts";
import type { IamdbServices } from "../../src/api/iamdb-actions.js";
import { type AdminApi, startAdminApi } from "../../src/api/server.js";
import { quietSdkNodeVersionWarning } from "../../src/cli/sdk.js";
import { createIamService, type IamService, type IamServiceOptions } from "../../src/iam/service.js";
import { MemoryInstanceRegistry } from "../../src/instances/memory.js";
import type { DbInstance } from "../../src/instances/types.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";

export const ACCOUNT = "123456789012";
export const REGION = "us-east-1";

export function instance(identifier: string, overrides: Partial<DbInstance> = {}): DbInstance {
  return {
    identifier,
    engine: "postgres",
    region: REGION,
    dbiResourceId: `db-${identifier
      .toUpperCase()
      .replace(/[^A-Z0-9]/g, "")
      .padEnd(26, "X")
      .slice(0, 26)}`,
    listen: { host: "127.0.0.1", port: 15432 },
    endpoints: [`${identifier}.local`],
    port: 15432,
    iamAuthEnabled: false,
    tags: [],
    backend: { host: "127.0.0.1", port: 5432, database: "postgres", tls: "disable", adminUser: "postgres" },
    createdAt: new Date("2026-01-01T00:00:00Z"),
    ...overrides,
  };
}

export interface Keys {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface Harness {
  iam: IamService;
  instances: MemoryInstanceRegistry;
  api: AdminApi;
  dir: string;
  admin: Keys;
  logs: object[];
  /** SDK clients signing with `keys` (the administrator's by default) for `region` (us-east-1). */
  clients(keys?: Keys, region?: string): { iam: IAMClient; sts: STSClient; rds: RDSClient };
  dispose(): Promise<void>;
}

/** A control plane over a fresh SQLite store, an admin API on port 0, and an administrator key. */
export async function startHarness(
  options: {
    maxBodyBytes?: number;
    instances?: DbInstance[];
    regions?: readonly string[];
    services?: IamdbServices;
    oidc?: IamServiceOptions["oidc"];
  } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "iamdb-api-"));
  const iam = createIamService({
    repository: openSqliteStore({ dataDir: dir }),
    masterKey: randomBytes(32),
    accountId: ACCOUNT,
    ...(options.oidc === undefined ? {} : { oidc: options.oidc }),
  });
  const instances = new MemoryInstanceRegistry(
    options.instances ?? [instance("orders"), instance("billing", { engine: "mysql" })],
    {
      accountId: ACCOUNT,
    },
  );
  const logs: object[] = [];
  const api = await startAdminApi({
    iam,
    instances,
    host: "127.0.0.1",
    port: 0,
    log: (l) => logs.push(l),
    ...(options.maxBodyBytes === undefined ? {} : { maxBodyBytes: options.maxBodyBytes }),
    ...(options.regions === undefined ? {} : { regions: options.regions }),
    ...(options.services === undefined ? {} : { services: options.services }),
  });
  await iam.createUser({ userName: "root-admin" });
  await iam.putUserPolicy({
    userName: "root-admin",
    policyName: "all",
    policyDocument: JSON.stringify({
      Version: "2012-10-17",
      Statement: [{ Effect: "Allow", Action: "*", Resource: "*" }],
    }),
  });
  const k = await iam.createAccessKey({ userName: "root-admin" });
  const admin = { accessKeyId: k.accessKeyId, secretAccessKey: k.secretAccessKey };
  const clients = (keys: Keys = admin, region = REGION) => {
    quietSdkNodeVersionWarning();
    const config = { region, endpoint: api.url, credentials: keys, maxAttempts: 1 };
    return { iam: new IAMClient(config), sts: new STSClient(config), rds: new RDSClient(config) };
  };
  return {
    iam,
    instances,
    api,
    dir,
    admin,
    logs,
    clients,
    dispose: async () => {
      await api.close();
      await iam.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The AWS error code (SDK exception name) a promise rejects with. */
export async function errorOf(
  p: Promise<unknown>,
): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, message: err.message, status: err.$metadata?.httpStatusCode };
  }
  throw new Error("expected the call to fail");
}

export const policy = (...statements: object[]) =>
  JSON.stringify({ Version: "2012-10-17", Statement: statements });

export interface RawCall {
  /** The form body, sent as is. */
  body?: string;
  service?: string;
  region?: string;
  keys?: Keys;
  signingDate?: Date;
  /** Change the body after signing (a tampered request). */
  tamper?: (body: string) => string;
  /** No Authorization header at all. */
  unsigned?: boolean;
}

/** Sends a hand-signed Query request and returns the status, error code and document. */
export async function rawCall(
  h: Harness,
  o: RawCall,
): Promise<{ status: number; code: string | undefined; message: string | undefined; text: string }> {
  const { signRequest } = await import("../../src/sigv4/index.js");
  const url = new URL(h.api.url);
  const body = o.body ?? "";
  const headers: Array<[string, string]> = [
    ["host", url.host],
    ["content-type", "application/x-www-form-urlencoded; charset=utf-8"],
  ];
  const signed = o.unsigned
    ? headers
    : signRequest(
        { method: "POST", path: "/", query: [], headers, body },
        {
          credentials: o.keys ?? h.admin,
          region: o.region ?? REGION,
          service: o.service ?? "iam",
          signingDate: o.signingDate ?? new Date(),
        },
      ).headers;
  const res = await fetch(`${h.api.url}/`, {
    method: "POST",
    headers: signed.filter(([k]) => k.toLowerCase() !== "host"),
    body: o.tamper ? o.tamper(body) : body,
  });
  const text = await res.text();
  return {
    status: res.status,
    code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1],
    message: /<Message>([^<]*)<\/Message>/.exec(text)?.[1],
    text,
  };
}
