/**
 * The client kit's side of each engine, in one table: the names `--engine` takes, the ports
 * that imply an engine, and the command line that reaches a local `iamdb proxy` listener. The
 * client kit also talks to RDS, so it keeps this small table of its own instead of importing
 * the gateway's engine registry (`src/engines/`).
 */

export type ClientEngine = "postgres" | "mysql";

export interface ClientEngineFacts {
  /** The spellings `--engine` and a proxy config file take (lower case). */
  readonly names: readonly string[];
  /** How an error message lists it among the engines. */
  readonly label: string;
  /** The database's usual port: `iamdb connect --port` with it implies this engine. */
  readonly serverPort: number;
  /** The usual local port of an `iamdb proxy` listener for it, as the examples say. */
  readonly proxyPort: number;
  /**
   * Why a client for this engine cannot connect through a forward (`--token-host`), with
   * what to do instead; undefined when it can.
   */
  readonly forwardRefusal: string | undefined;
  /** The command line that connects to a local listener, printed by `iamdb proxy` at start. */
  connectLine(host: string, port: number, user: string, database?: string, socketPath?: string): string;
}

export const CLIENT_ENGINES: Readonly<Record<ClientEngine, ClientEngineFacts>> = {
  postgres: {
    names: ["postgres", "postgresql"],
    label: "postgres",
    serverPort: 5432,
    proxyPort: 6432,
    forwardRefusal: undefined,
    connectLine(host, port, user, database, socketPath) {
      const db = database ? ` dbname=${database}` : "";
      const via = socketPath ? ` (or host=${socketPath.replace(/\/\.s\.PGSQL\.\d+$/, "")})` : "";
      return `psql "host=${host} port=${port}${db} user=${user}"${via}`;
    },
  },
  mysql: {
    names: ["mysql", "mariadb"],
    label: "mysql (mariadb)",
    serverPort: 3306,
    proxyPort: 3307,
    forwardRefusal:
      "--token-host with a MySQL client: the mariadb and mysql clients check the certificate against the host they connect to, which a forward does not carry; run `iamdb proxy --engine mysql --target HOST:PORT --token-host NAME:PORT --listen 127.0.0.1:3307 …` and connect to that instead",
    connectLine(host, port, user, database, socketPath) {
      const via = socketPath ? ` (or --socket=${socketPath})` : "";
      return `mariadb -h ${host} -P ${port} --protocol=TCP -u ${user}${database ? ` -D ${database}` : ""}${via}`;
    },
  },
};

const ENGINES = Object.keys(CLIENT_ENGINES) as ClientEngine[];

/** The engine a name means (any case), or undefined. */
export function clientEngineNamed(value: string): ClientEngine | undefined {
  const v = value.toLowerCase();
  return ENGINES.find((e) => CLIENT_ENGINES[e].names.includes(v));
}

/** The engine a server port implies; PostgreSQL when no engine's usual port matches. */
export function clientEngineForPort(port: number): ClientEngine {
  return ENGINES.find((e) => CLIENT_ENGINES[e].serverPort === port) ?? "postgres";
}

/** "postgres or mysql (mariadb)": the names an error message lists. */
export function clientEngineNames(): string {
  return ENGINES.map((e) => CLIENT_ENGINES[e].label).join(" or ");
}
