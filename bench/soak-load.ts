// The soak's clients, in a process of their own (their sockets count against this process's
// descriptor limit, not the gateway's or the bench's): opens `sessions` idle PostgreSQL sessions
// through the gateway over TLS with a token, then keeps them while it runs login churn (log in,
// SELECT 1, log out) and junk connections (garbage, a broken TLS start, a bad token, a bare
// connect). Config as argv[2] JSON; tokens arrive on stdin, one {"token":...} line each; a
// {"ramped":...} line when the sessions are open, then a stats line every `statsEveryMs`.
import { randomBytes } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";
import { createInterface } from "node:readline";
import { type TLSSocket, connect as tlsConnect } from "node:tls";
import { BackendParser } from "../src/wire/postgres/backend.js";
import {
  passwordMessage,
  query,
  sslRequest,
  startupMessage,
  terminate,
} from "../src/wire/postgres/serialize.js";

export interface SoakLoadConfig {
  port: number;
  caPem: string;
  user: string;
  database: string;
  sessions: number;
  /** Logins in flight while the idle sessions are opened. */
  concurrency: number;
  churnPerSecond: number;
  junkPerSecond: number;
  statsEveryMs: number;
}

const config = JSON.parse(process.argv[2] ?? "{}") as SoakLoadConfig;
const send = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
let token = "";
let tokenReady: (() => void) | undefined;
const firstToken = new Promise<void>((r) => {
  tokenReady = r;
});
createInterface({ input: process.stdin })
  .on("line", (line) => {
    token = (JSON.parse(line) as { token: string }).token;
    tokenReady?.();
  })
  .on("close", () => process.exit(0));

const stats = { open: 0, openFailed: 0, lost: 0, churnOk: 0, churnFailed: 0, junk: 0, lastError: "" };
const held = new Set<TLSSocket>();

function withTimeout<T>(p: Promise<T>, ms: number, what: string, cleanup: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no answer within ${ms} ms`));
    }, ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        cleanup();
        reject(e);
      },
    );
  });
}

/** SSLRequest → 'S' → TLS (verified against the CA as localhost). */
function startTls(): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw: Socket = netConnect(config.port, "127.0.0.1");
    // Errors after the login are the gateway closing a connection: each caller looks at 'close'.
    raw.on("error", () => undefined);
    raw.once("error", reject);
    raw.once("connect", () => raw.write(sslRequest()));
    raw.once("data", (b: Buffer) => {
      if (b[0] !== 0x53) return reject(new Error(`SSLRequest answered ${b[0]}`));
      const s = tlsConnect({ socket: raw, ca: config.caPem, servername: "localhost" });
      s.on("error", () => undefined);
      s.once("secureConnect", () => {
        s.off("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
  });
}

/** Reads backend messages until ReadyForQuery, answering the password request with `password`. */
function untilReady(s: TLSSocket, password: string): Promise<void> {
  const parser = new BackendParser();
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      try {
        for (const m of parser.push(chunk)) {
          if (m.kind === "AuthenticationCleartextPassword") s.write(passwordMessage(password));
          else if (m.kind === "ErrorResponse") return fail(new Error(m.fields.M ?? "ErrorResponse"));
          else if (m.kind === "ReadyForQuery") {
            done();
            return resolve();
          }
        }
      } catch (e) {
        fail(e as Error);
      }
    };
    const onClose = () => fail(new Error("closed by the gateway"));
    const done = () => {
      s.off("data", onData);
      s.off("close", onClose);
      s.off("error", fail);
    };
    const fail = (e: Error) => {
      done();
      reject(e);
    };
    s.on("data", onData);
    s.once("close", onClose);
    s.once("error", fail);
  });
}

async function login(): Promise<TLSSocket> {
  let sock: TLSSocket | undefined;
  return withTimeout(
    (async () => {
      sock = await startTls();
      sock.write(startupMessage({ user: config.user, database: config.database }));
      await untilReady(sock, token);
      return sock;
    })(),
    60_000,
    "login",
    () => sock?.destroy(),
  );
}

async function openIdle(): Promise<void> {
  try {
    const s = await login();
    held.add(s);
    stats.open++;
    s.on("data", () => undefined);
    s.on("error", () => undefined);
    s.once("close", () => {
      if (held.delete(s)) {
        stats.open--;
        stats.lost++;
      }
    });
  } catch (e) {
    stats.openFailed++;
    stats.lastError = (e as Error).message;
  }
}

async function churnOnce(): Promise<void> {
  let s: TLSSocket | undefined;
  try {
    s = await login();
    s.write(query("SELECT 1"));
    await withTimeout(untilReady(s, ""), 30_000, "query", () => s?.destroy());
    s.end(terminate());
    stats.churnOk++;
  } catch (e) {
    s?.destroy();
    stats.churnFailed++;
    stats.lastError = (e as Error).message;
  }
}

/** One of four kinds of junk, each closed within a second. */
function junkOnce(n: number): void {
  stats.junk++;
  const raw = netConnect(config.port, "127.0.0.1");
  raw.on("error", () => undefined);
  raw.setTimeout(5_000, () => raw.destroy());
  const kind = n % 4;
  raw.once("connect", () => {
    if (kind === 0) raw.end(randomBytes(64));
    else if (kind === 1) {
      raw.write(sslRequest());
      raw.once("data", () => raw.end(randomBytes(200)));
    } else if (kind === 2) {
      raw.destroy();
      startTls()
        .then((s) => {
          s.on("error", () => undefined);
          s.write(startupMessage({ user: config.user, database: config.database }));
          return untilReady(s, "not-a-token").finally(() => s.destroy());
        })
        .catch(() => undefined);
    } else raw.destroy();
  });
}

function every(perSecond: number, f: (n: number) => void): void {
  if (perSecond <= 0) return;
  let n = 0;
  setInterval(() => f(n++), 1000 / perSecond);
}

await firstToken;
const started = Date.now();
let next = 0;
await Promise.all(
  Array.from({ length: config.concurrency }, async () => {
    while (next < config.sessions) {
      next++;
      await openIdle();
    }
  }),
);
send({ ramped: true, seconds: (Date.now() - started) / 1000, ...stats });
every(config.churnPerSecond, () => void churnOnce());
every(config.junkPerSecond, junkOnce);
setInterval(() => send({ stats: true, ...stats }), config.statsEveryMs);
