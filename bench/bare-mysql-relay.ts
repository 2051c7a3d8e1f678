// The least a Node process can do to stand where iamdb's MySQL gateway stands: TLS from the
// client ends here, plaintext TCP goes on to MariaDB, and after the login every chunk read on one
// side is written to the other (`data` listeners, as iamdb's relay does, with no parsing, no
// pooling, no bookkeeping). It authenticates nobody: the client's own password login goes through
// to MariaDB. The MySQL bench runs it as a third path, a ceiling on what any Node relay on this
// machine can reach; how far iamdb sits below it is iamdb's own cost.
//
// Run as a child process: argv[2] is {"backendPort":N,"certFile":"..","keyFile":".."}; it prints
// {"ready":true,"port":N} once listening and exits when stdin closes.
//
// The connection phase, rewritten only where TLS ends here instead of at MariaDB:
//   backend -> HandshakeV10 (seq 0), passed on as is (it offers CLIENT_SSL)
//   client  -> SSLRequest (seq 1): not passed on; TLS starts with the client
//   client  -> HandshakeResponse41 (seq 2): passed on as seq 1 without CLIENT_SSL
//   backend -> OK (seq 2): passed on as seq 3
// @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
import { readFileSync } from "node:fs";
import { createServer, connect as netConnect, type Socket } from "node:net";
import { createSecureContext, TLSSocket } from "node:tls";

const CLIENT_SSL = 0x800;

interface Config {
  backendPort: number;
  certFile: string;
  keyFile: string;
}

const config = JSON.parse(process.argv[2] ?? "{}") as Config;
const secureContext = createSecureContext({
  cert: readFileSync(config.certFile),
  key: readFileSync(config.keyFile),
});

/**
 * Calls `f` with the next whole packet (header included) read from `socket`, once the socket is
 * paused again with what came after the packet put back.
 */
function packets(socket: Socket, f: (packet: Buffer) => void): void {
  let buffered = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length < 4) return;
    const length = buffered.readUIntLE(0, 3) + 4;
    if (buffered.length < length) return;
    socket.off("data", onData);
    socket.pause();
    if (buffered.length > length) socket.unshift(buffered.subarray(length));
    f(buffered.subarray(0, length));
  };
  socket.on("data", onData);
  // A listener alone does not restart a socket paused by an earlier call.
  socket.resume();
}

/** After the login: chunks as read, both ways, with backpressure. */
function relay(client: Socket, backend: Socket): void {
  client.on("data", (chunk: Buffer) => {
    if (!backend.write(chunk)) {
      client.pause();
      backend.once("drain", () => client.resume());
    }
  });
  backend.on("data", (chunk: Buffer) => {
    if (!client.write(chunk)) {
      backend.pause();
      client.once("drain", () => backend.resume());
    }
  });
  client.resume();
  backend.resume();
}

const server = createServer({ noDelay: true }, (raw) => {
  const backend = netConnect({ host: "127.0.0.1", port: config.backendPort, noDelay: true });
  const end = () => {
    raw.destroy();
    backend.destroy();
  };
  raw.on("error", end);
  raw.on("close", end);
  backend.on("error", end);
  backend.on("close", end);
  packets(backend, (greeting) => {
    raw.write(greeting);
  });
  packets(raw, () => {
    raw.off("close", end);
    const client = new TLSSocket(raw, { isServer: true, secureContext });
    client.on("error", end);
    client.on("close", end);
    packets(client, (response) => {
      const flags = response.readUInt32LE(4);
      response.writeUInt32LE((flags & ~CLIENT_SSL) >>> 0, 4);
      response[3] = 1;
      backend.write(response);
      packets(backend, (ok) => {
        ok[3] = 3;
        client.write(ok);
        relay(client, backend);
      });
    });
  });
});

server.listen(0, "127.0.0.1", () => {
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  process.stdout.write(`${JSON.stringify({ ready: true, port })}\n`);
});
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
