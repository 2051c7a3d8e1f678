import { existsSync, readFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import type { SecretBox } from "../iam/secret-box.js";
import { dbAccountSealContext } from "./accounts.js";
import type { DeploymentRepository } from "./repository.js";
import { DBI_RESOURCE_ID } from "./state.js";
import type { InstanceTag } from "./types.js";

/** Where iamdb before the fleet release kept instance state and DB accounts, in the data directory. */
export const LEGACY_FILES = { instances: "instances.json", accounts: "db-accounts.json" } as const;
/** What an imported file is renamed to, so it is never read again but stays for the operator. */
export const IMPORTED_SUFFIX = ".imported";

export class LegacyImportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LegacyImportError";
  }
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new LegacyImportError(
      `${file} (from an earlier iamdb) is not valid JSON (${(err as Error).message}); restore it from a backup, or move it away to start without its contents`,
    );
  }
}

/**
 * Moves an earlier version's per-directory state into the store, once: DbiResourceIds, IAM
 * switches and tags from instances.json, and the sealed gateway-held passwords from
 * db-accounts.json (sealed with the same master key and context, so they are checked and copied
 * as they are). What the store already has wins (another gateway imported first). Each file is
 * renamed to `*.imported` afterwards and never read again.
 */
export async function importLegacyState(
  dataDir: string,
  repo: DeploymentRepository,
  secrets: SecretBox,
): Promise<{ instances: number; accounts: number }> {
  let instances = 0;
  let accounts = 0;
  const instancesFile = join(dataDir, LEGACY_FILES.instances);
  if (existsSync(instancesFile)) {
    const state = readJson(instancesFile) as Record<
      string,
      { dbiResourceId?: string; iamAuthEnabled?: boolean; tags?: InstanceTag[]; createdAt?: string }
    >;
    for (const [identifier, s] of Object.entries(state ?? {})) {
      if (typeof s?.dbiResourceId !== "string" || !DBI_RESOURCE_ID.test(s.dbiResourceId)) continue;
      const stored = await repo.ensureInstance({
        identifier,
        dbiResourceId: s.dbiResourceId,
        iamAuthEnabled: s.iamAuthEnabled ?? true,
        tags: Array.isArray(s.tags) ? s.tags : [],
        createdAt: new Date(s.createdAt ?? Date.now()),
      });
      if (stored.dbiResourceId === s.dbiResourceId) instances++;
    }
    renameSync(instancesFile, instancesFile + IMPORTED_SUFFIX);
  }
  const accountsFile = join(dataDir, LEGACY_FILES.accounts);
  if (existsSync(accountsFile)) {
    const list =
      (
        readJson(accountsFile) as {
          accounts?: Array<{
            instance: string;
            username: string;
            createdAt: string;
            rotatedAt: string;
            sealedPassword: string;
          }>;
        }
      )?.accounts ?? [];
    for (const a of list) {
      // Opening proves the file was sealed with this master key before anything is copied.
      secrets.open(a.sealedPassword, dbAccountSealContext(a.instance, a.username));
      const inserted = await repo.insertDbAccount({
        instance: a.instance,
        username: a.username,
        sealedPassword: a.sealedPassword,
        createdAt: new Date(a.createdAt),
        rotatedAt: new Date(a.rotatedAt),
      });
      if (inserted) accounts++;
    }
    renameSync(accountsFile, accountsFile + IMPORTED_SUFFIX);
  }
  return { instances, accounts };
}
