import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../instances/files.js";

/** What `iamdb status --json` prints: what is running, and how to reach it. */
export interface IamdbStatus {
  readonly pid: number;
  readonly startedAt: string;
  readonly dataDir: string;
  readonly apiUrl: string;
  readonly opsUrl: string;
  readonly authLog: string;
  readonly adminCredentials: {
    readonly credentialsFile: string;
    readonly configFile: string;
    readonly profile: string;
  };
  readonly instances: ReadonlyArray<{
    readonly identifier: string;
    readonly engine: string;
    readonly listen: { readonly host: string; readonly port: number };
    readonly endpoints: readonly string[];
    readonly port: number;
    readonly region: string;
    readonly dbiResourceId: string;
    readonly iamAuthEnabled: boolean;
    readonly caFile: string | undefined;
    readonly backend: {
      readonly host: string;
      readonly port: number;
      /** The database clients use when they name none (the embedded server's, or backend.database). */
      readonly database: string;
      readonly embedded: boolean;
    };
  }>;
}

export const STATUS_FILE = "status.json";

export function writeStatus(dataDir: string, status: IamdbStatus): void {
  writeFileAtomic(join(dataDir, STATUS_FILE), `${JSON.stringify(status, null, 2)}\n`);
}

export function removeStatus(dataDir: string): void {
  rmSync(join(dataDir, STATUS_FILE), { force: true });
}

/** The status a running `iamdb up` wrote, or undefined when none is running for this data directory. */
export function readStatus(dataDir: string): IamdbStatus | undefined {
  const file = join(dataDir, STATUS_FILE);
  if (!existsSync(file)) return undefined;
  const status = JSON.parse(readFileSync(file, "utf8")) as IamdbStatus;
  try {
    process.kill(status.pid, 0);
  } catch (err) {
    // ESRCH: the process that wrote it is gone (killed without cleanup). EPERM: it runs as another user.
    if ((err as { code?: string }).code === "ESRCH") return undefined;
  }
  return status;
}
