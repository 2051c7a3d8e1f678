import { renameSync, writeFileSync } from "node:fs";

/** Writes a file so readers see the old or the new content, never a torn one; mode applies to the new file. */
export function writeFileAtomic(path: string, content: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, path);
}
