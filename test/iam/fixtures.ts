import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { IamRepository } from "../../src/iam/repository.js";
import { createIamService, type IamService } from "../../src/iam/service.js";
import { openSqliteStore } from "../../src/store/sqlite/open.js";

export const ACCOUNT = "123456789012";

/** A clock tests move by hand. */
export class FakeClock {
  constructor(private t = Date.parse("2026-01-01T12:00:00Z")) {}
  now = (): Date => new Date(this.t);
  advance(seconds: number): void {
    this.t += seconds * 1000;
  }
}

export function tempDir(prefix = "iamdb-test-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function doc(...statements: object[]): string {
  return JSON.stringify({ Version: "2012-10-17", Statement: statements });
}

export const allow = (action: string | string[], resource: string | string[] = "*", extra: object = {}) => ({
  Effect: "Allow",
  Action: action,
  Resource: resource,
  ...extra,
});

export const deny = (action: string | string[], resource: string | string[] = "*", extra: object = {}) => ({
  Effect: "Deny",
  Action: action,
  Resource: resource,
  ...extra,
});

export const trust = (...principals: string[]) =>
  doc({ Effect: "Allow", Principal: { AWS: principals }, Action: "sts:AssumeRole" });

export const DB_ARN = `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:db-ABCDEFGHIJKLMNOPQRSTUVWXYZ/jane`;

export function serviceOver(
  repository: IamRepository,
  clock = new FakeClock(),
  masterKey: Uint8Array = randomBytes(32),
): IamService {
  return createIamService({ repository, masterKey, accountId: ACCOUNT, now: clock.now });
}

/** A service over a fresh SQLite store in a temp dir; `dispose` closes and deletes it. */
export function sqliteService(clock = new FakeClock()): {
  iam: IamService;
  dir: string;
  dispose: () => Promise<void>;
} {
  const t = tempDir();
  const iam = serviceOver(openSqliteStore({ dataDir: t.dir }), clock);
  return {
    iam,
    dir: t.dir,
    dispose: async () => {
      await iam.close();
      t.remove();
    },
  };
}
