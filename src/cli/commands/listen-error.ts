import { createServer } from "node:net";
import type { Config } from "../../config/types.js";
import { UserError } from "../errors.js";

/** A socket error from `listen()`: Node puts the address and port on it. */
interface ListenErrno extends Error {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
}

const WHY: Record<string, string> = {
  EADDRINUSE: "the port is in use",
  EACCES: "this user may not listen on that port (below 1024 needs privileges)",
  EADDRNOTAVAIL: "the address is not one of this machine's",
};

/** One of the sockets `iamdb up` listens on, and the configuration key that moves it. */
interface Listener {
  what: string;
  key: string;
  host: string;
  port: number;
}

function listeners(config: Config): Listener[] {
  return [
    { what: "the admin API", key: "api.port", ...config.api },
    { what: "the ops endpoint (/metrics, /healthz)", key: "ops.port", ...config.ops },
    ...config.instances.map((i, n) => ({
      what: `instance ${i.identifier}`,
      key: `instances[${n}].listen.port`,
      ...i.listen,
    })),
  ];
}

const where = (configFile: string | undefined) =>
  configFile === undefined ? "a configuration file passed with --config" : configFile;

function samePort(wanted: Listener[], configFile: string | undefined): UserError {
  return new UserError(
    `${wanted.map((w) => w.what).join(" and ")} are configured on the same port, ${wanted[0]?.port}: give each its own (${wanted.map((w) => `\`${w.key}\``).join(", ")} in ${where(configFile)}; 0 picks any free port).`,
  );
}

/**
 * Turns a listener's failure to bind at `iamdb up` into what the operator needs: which of
 * iamdb's listeners (admin API, ops, an instance) wanted which address, why it could not
 * have it, and which configuration key moves it. Undefined for any other error.
 */
export function listenFailure(
  err: unknown,
  config: Config,
  configFile: string | undefined,
): UserError | undefined {
  const e = err as ListenErrno;
  if (!(err instanceof Error) || e.syscall !== "listen" || e.code === undefined || !(e.code in WHY)) {
    return undefined;
  }
  const port = e.port;
  const wanted = port ? listeners(config).filter((l) => l.port === port) : [];
  // Two of iamdb's own listeners on one port: the second finds the first there.
  if (wanted.length > 1) return samePort(wanted, configFile);
  const [only] = wanted;
  const fix =
    only === undefined
      ? "free that port, or run with another configuration (docs/CONFIGURATION.md)"
      : `set \`${only.key}\` in ${where(configFile)} to a free port (0 picks any free port; see docs/CONFIGURATION.md)`;
  const inUse =
    e.code === "EADDRINUSE"
      ? ` Something else listens there (another \`iamdb up\`? \`iamdb status\` tells; \`ss -ltnp 'sport = :${port}'\` names the process). Stop it, or`
      : " To fix it,";
  return new UserError(
    `${only?.what ?? "iamdb"} cannot listen on ${e.address ?? "?"}:${port ?? "?"}: ${WHY[e.code]}.${inUse} ${fix}.`,
  );
}

function tryListen(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}

/**
 * Before `iamdb up` starts anything slow (the store, an embedded PostgreSQL): the configured
 * ports are distinct and free now. A port taken between this check and the real listen is
 * still reported the same way, by `listenFailure`.
 */
export async function checkPorts(config: Config, configFile: string | undefined): Promise<void> {
  const fixed = listeners(config).filter((l) => l.port !== 0);
  for (const l of fixed) {
    const same = fixed.filter((o) => o.port === l.port);
    if (same.length > 1) throw samePort(same, configFile);
  }
  for (const l of fixed) {
    await tryListen(l.host, l.port).catch((err: unknown) => {
      throw listenFailure(err, config, configFile) ?? err;
    });
  }
}
