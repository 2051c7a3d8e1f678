import { createHmac } from "node:crypto";
import type { ChangeFeed } from "../iam/repository.js";
import type { SecretBox } from "../iam/secret-box.js";
import { MasterKeyError } from "../store/errors.js";
import type { IssuedPair } from "../tls/generate.js";
import { DbAccountStore } from "./accounts.js";
import { importLegacyState } from "./legacy.js";
import { StoreInstanceRegistry } from "./registry.js";
import type { DeploymentRepository } from "./repository.js";
import type { DbInstance } from "./types.js";

/** The name the listener CA is stored under. */
export const LISTENER_CA = "listener-ca";
const CA_KEY_CONTEXT = "iamdb:tls:listener-ca";

/**
 * A short public fingerprint of the master key (HMAC of a fixed label, so it reveals nothing
 * about the key): stored once, compared by every gateway that starts on the store.
 */
export function masterKeyFingerprint(masterKey: Uint8Array): string {
  return createHmac("sha256", masterKey).update("iamdb master key fingerprint v1").digest("hex").slice(0, 16);
}

/**
 * Refuses to run with a master key other than the one the store's secrets are sealed with: a
 * gateway with another key would decrypt nothing and half-work. The first gateway records its
 * key's fingerprint.
 */
export async function checkMasterKey(
  repo: DeploymentRepository,
  masterKey: Uint8Array,
  where: string,
): Promise<void> {
  const mine = masterKeyFingerprint(masterKey);
  const stored = await repo.ensureFact("master-key-fingerprint", mine);
  if (stored !== mine) {
    throw new MasterKeyError(
      `The store (${where}) was created with another master key (fingerprint ${stored}); this gateway's key has fingerprint ${mine}. ` +
        "Every gateway sharing a store must start with the same key: set IAMDB_MASTER_KEY (or master.key) to the key the first gateway used.",
    );
  }
}

export interface DeploymentOptions {
  readonly repo: DeploymentRepository;
  readonly changes: ChangeFeed;
  readonly secrets: SecretBox;
  readonly masterKey: Uint8Array;
  /** Names the store in errors (a file path or host:port/database). */
  readonly storeName: string;
  readonly dataDir: string;
  readonly configured: readonly DbInstance[];
  readonly accountId: string;
  readonly partition?: string;
}

export interface Deployment {
  readonly registry: StoreInstanceRegistry;
  readonly accounts: DbAccountStore;
  /** For `ensureListenerTls({ authority })`: the fleet's one listener CA, sealed in the store. */
  readonly listenerCa: (candidate: IssuedPair) => Promise<IssuedPair>;
  readonly imported: { readonly instances: number; readonly accounts: number };
  close(): void;
}

/** Everything a gateway keeps in the store besides the IAM model, opened in order. */
export async function openDeployment(o: DeploymentOptions): Promise<Deployment> {
  await checkMasterKey(o.repo, o.masterKey, o.storeName);
  const imported = await importLegacyState(o.dataDir, o.repo, o.secrets);
  const registry = await StoreInstanceRegistry.open({
    repo: o.repo,
    changes: o.changes,
    configured: o.configured,
    accountId: o.accountId,
    ...(o.partition === undefined ? {} : { partition: o.partition }),
  });
  const accounts = new DbAccountStore(o.repo, o.changes, o.secrets);
  const listenerCa = async (candidate: IssuedPair): Promise<IssuedPair> => {
    const stored = await o.repo.ensureTlsAuthority({
      name: LISTENER_CA,
      certPem: candidate.certPem,
      sealedKey: o.secrets.seal(candidate.keyPem, CA_KEY_CONTEXT),
      createdAt: new Date(),
    });
    return { certPem: stored.certPem, keyPem: o.secrets.open(stored.sealedKey, CA_KEY_CONTEXT) };
  };
  return {
    registry,
    accounts,
    listenerCa,
    imported,
    close() {
      registry.close();
      accounts.close();
    },
  };
}
