import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config, InstanceConfig } from "../config/types.js";
import { writeFileAtomic } from "./files.js";
import type { BackendSpec, DbInstance, InstanceTag } from "./types.js";

/** What an instance keeps across restarts: its identity and what the RDS API changed. */
interface PersistedInstance {
  dbiResourceId: string;
  iamAuthEnabled: boolean;
  tags: InstanceTag[];
  createdAt: string;
}

export const INSTANCE_STATE_FILE = "instances.json";
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/** `db-` + 26 upper-case letters and digits, as RDS writes a DbiResourceId. */
export function newDbiResourceId(): string {
  const bytes = randomBytes(26);
  let id = "db-";
  for (const b of bytes) id += ALPHABET[b % ALPHABET.length];
  return id;
}

export const DBI_RESOURCE_ID = /^db-[A-Z0-9]{26}$/;

function readState(file: string): Record<string, PersistedInstance> {
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, PersistedInstance>;
  } catch (err) {
    throw new Error(
      `${file} is not valid JSON (${(err as Error).message}); restore it from a backup or delete it to mint new DbiResourceIds`,
    );
  }
}

/**
 * The configured instances with their persisted state: the DbiResourceId minted on first
 * start (policies name it, so it must never change), and IAM enablement and tags as the
 * RDS API last set them (the config gives only the initial values).
 */
export function loadInstances(
  config: Config,
  backendOf: (i: InstanceConfig) => BackendSpec,
): { instances: DbInstance[]; persist: (list: readonly DbInstance[]) => void } {
  const file = join(config.dataDir, INSTANCE_STATE_FILE);
  const state = readState(file);
  const instances = config.instances.map((c): DbInstance => {
    const saved = state[c.identifier];
    return {
      identifier: c.identifier,
      engine: c.engine,
      region: c.region,
      dbiResourceId:
        saved && DBI_RESOURCE_ID.test(saved.dbiResourceId) ? saved.dbiResourceId : newDbiResourceId(),
      listen: c.listen,
      endpoints: c.endpoints,
      port: c.port,
      iamAuthEnabled: saved?.iamAuthEnabled ?? c.iamAuthEnabled,
      tags: saved?.tags ?? c.tags,
      backend: backendOf(c),
      createdAt: saved ? new Date(saved.createdAt) : new Date(),
    };
  });
  const persist = (list: readonly DbInstance[]) => {
    const out: Record<string, PersistedInstance> = { ...readState(file) };
    for (const i of list) {
      out[i.identifier] = {
        dbiResourceId: i.dbiResourceId,
        iamAuthEnabled: i.iamAuthEnabled,
        tags: [...i.tags],
        createdAt: i.createdAt.toISOString(),
      };
    }
    writeFileAtomic(file, `${JSON.stringify(out, null, 2)}\n`);
  };
  persist(instances);
  return { instances, persist };
}
