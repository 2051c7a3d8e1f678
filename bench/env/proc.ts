// Process plumbing for the proxy benchmarks: running commands, finding or installing the
// Debian tools they need, and reading a process's CPU time and RSS from /proc (proc(5)).
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { promisify } from "node:util";

export const execFileP = promisify(execFile);

/** Clock ticks per second for /proc/PID/stat's utime and stime (sysconf(_SC_CLK_TCK)). */
const CLK_TCK = (() => {
  const r = spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" });
  const n = Number(r.stdout?.trim());
  return Number.isFinite(n) && n > 0 ? n : 100;
})();

/** utime + stime of every thread of `pid`, in seconds (resolution 1 / CLK_TCK). @see proc(5) */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may itself contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of the line; fields[0] here is field 3 (state).
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident set size of `pid` in bytes (VmRSS of /proc/PID/status). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m?.[1] ?? 0) * 1024;
}

/** The uid and gid of the postgres OS user: initdb, postgres and pgbouncer refuse to run as root. */
export function postgresIds(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const [, , uid, gid] = (line ?? "").split(":");
  if (uid === undefined || gid === undefined)
    throw new Error("no postgres OS user: install PostgreSQL (apt-get install postgresql)");
  return { uid: Number(uid), gid: Number(gid) };
}

const which = (name: string) =>
  spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).status === 0;

/**
 * Makes sure a Debian package's command exists, installing the package with apt-get when it
 * is missing and we are root (the issue asks the bench to install pgbouncer itself).
 */
export function ensureCommand(command: string, debPackage: string): void {
  if (which(command) || existsSync(`/usr/sbin/${command}`)) return;
  if (process.getuid?.() !== 0)
    throw new Error(`${command} is missing; install it with: sudo apt-get install -y ${debPackage}`);
  console.error(`bench: installing ${debPackage} (apt-get) ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  spawnSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  const r = spawnSync("apt-get", ["install", "-y", "-qq", debPackage], { stdio: "inherit", env });
  if (r.status !== 0) throw new Error(`apt-get install ${debPackage} failed; install it by hand`);
  // Debian starts a packaged daemon on install; the bench runs its own and wants no stray one.
  spawnSync("systemctl", ["disable", "--now", debPackage], { stdio: "ignore" });
}

/** A free TCP port below the ephemeral range (32768+), so a client port never takes it. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const ok = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free port below 32768 after 50 attempts");
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Children still running; killed if the bench exits without stopping them. */
const live = new Set<ChildProcess>();
process.once("exit", () => {
  for (const c of live) c.kill("SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    for (const c of live) c.kill("SIGTERM");
    process.exit(130);
  });
}

/** Spawns a long-running child that is killed when the bench exits. */
export function spawnTracked(
  command: string,
  args: string[],
  options: Parameters<typeof spawn>[2] & { name: string },
): ChildProcess {
  const child = spawn(command, args, options);
  live.add(child);
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  child.once("exit", (code, signal) => {
    live.delete(child);
    if (code !== 0 && code !== null && signal === null)
      console.error(`bench: ${options.name} exited with ${code}\n${stderr}`);
  });
  return child;
}

/** Sends `signal` and waits for the child to exit (SIGKILL after `graceMs`). */
export async function stopChild(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs = 10_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
