// Interactive sessions of the real psql and mariadb CLIs, kept open between statements (stdin
// piped), so a test can change IAM while a session is live and see what the client sees next.
import { type ChildProcess, spawn } from "node:child_process";

export interface LiveCli {
  /** Sends one statement and resolves with the next line it prints on stdout. */
  query(sql: string): Promise<string>;
  /** Sends a statement without waiting for output (the session is expected to be gone). */
  send(sql: string): void;
  /** Resolves when the client exits: its code and everything it printed on stderr. */
  readonly exited: Promise<{ code: number | null; stderr: string }>;
  close(): void;
}

function live(child: ChildProcess): LiveCli {
  let stdout = "";
  let stderr = "";
  const waiting: Array<(line: string) => void> = [];
  child.stdout?.on("data", (c: Buffer) => {
    stdout += c.toString();
    let nl = stdout.indexOf("\n");
    while (nl >= 0 && waiting.length > 0) {
      const line = stdout.slice(0, nl);
      stdout = stdout.slice(nl + 1);
      waiting.shift()?.(line);
      nl = stdout.indexOf("\n");
    }
  });
  child.stderr?.on("data", (c: Buffer) => {
    stderr += c.toString();
  });
  const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on("exit", (code) => resolve({ code, stderr })),
  );
  return {
    query(sql) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no output for ${sql}; stderr: ${stderr}`)), 15_000);
        waiting.push((line) => {
          clearTimeout(timer);
          resolve(line);
        });
        child.stdin?.write(`${sql}\n`);
      });
    },
    send(sql) {
      child.stdin?.write(`${sql}\n`);
    },
    exited,
    close() {
      child.stdin?.end();
      child.kill();
    },
  };
}

/** psql to the gateway with the token in PGPASSWORD, verify-full, errors verbose (with their SQLSTATE). */
export function livePsql(port: number, caFile: string, user: string, token: string): LiveCli {
  // psql's stdout to a pipe is block-buffered: stdbuf makes it print each result as it comes.
  return live(
    spawn(
      "stdbuf",
      [
        "-oL",
        "psql",
        `host=localhost port=${port} user=${user} dbname=test sslmode=verify-full sslrootcert=${caFile}`,
        "-XAtq",
        "-v",
        "VERBOSITY=verbose",
      ],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", PGPASSWORD: token, PGCONNECT_TIMEOUT: "10" },
        stdio: ["pipe", "pipe", "pipe"],
      },
    ),
  );
}

/** The mariadb CLI to the gateway over verified TLS, the token in MYSQL_PWD, batch mode. */
export function liveMariadb(port: number, caFile: string, user: string, token: string): LiveCli {
  return live(
    spawn(
      "mariadb",
      [
        "--no-defaults",
        "--protocol=TCP",
        "-h",
        "127.0.0.1",
        "-P",
        String(port),
        `--ssl-ca=${caFile}`,
        "--ssl-verify-server-cert",
        "-u",
        user,
        "-D",
        "test",
        "-N",
        "-B",
        "--unbuffered",
      ],
      {
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin", MYSQL_PWD: token },
        stdio: ["pipe", "pipe", "pipe"],
      },
    ),
  );
}

/** Resolves once `check` is true (polled every 10 ms), or rejects after `ms`. */
export async function until(check: () => boolean, ms = 5_000, what = "the condition"): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
