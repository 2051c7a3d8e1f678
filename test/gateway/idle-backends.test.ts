// The engine-neutral store of idle backend connections (src/gateway/idle-backends.ts) that both
// engines' pools keep their idle connections in: bounds per key and per server with LRU
// eviction, the sweep by idle timeout and lifetime (on an injected clock), idle sockets that
// close or speak, and close(). Over real loopback sockets; the "backend" is the peer.
import assert from "node:assert/strict";
import { once } from "node:events";
import { type AddressInfo, createServer, type Server, Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { IdleBackends, type IdleBackendsOptions } from "../../src/gateway/idle-backends.js";

interface Backend {
  readonly socket: Socket;
  readonly createdAt: number;
  readonly server: string;
  readonly name: string;
}

let server: Server;
const accepted: Socket[] = [];
const opened: Socket[] = [];
const peers = new Map<Socket, Socket>();
/** The backend's side of a backend's connection. */
const peerOf = (b: Backend) => peers.get(b.socket) as Socket;

before(async () => {
  server = createServer((s) => accepted.push(s));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
});

after(async () => {
  for (const s of [...opened, ...accepted]) s.destroy();
  server.close();
  await once(server, "close");
});

/** A connected socket (the gateway's side); its peer (the backend's side) is in `peers`. */
async function connection(): Promise<Socket> {
  const before = accepted.length;
  const socket = new Socket();
  opened.push(socket);
  socket.connect((server.address() as AddressInfo).port, "127.0.0.1");
  await once(socket, "connect");
  while (accepted.length === before) await new Promise((r) => setImmediate(r));
  const peer = accepted[accepted.length - 1] as Socket;
  peers.set(socket, peer);
  return socket;
}

/** A store on a fake clock whose retired sockets are recorded (by backend name) and closed. */
function store(options: Partial<IdleBackendsOptions> = {}) {
  const clock = { now: 0 };
  const retired: string[] = [];
  const names = new Map<Socket, string>();
  let onRetire: (() => void) | undefined;
  const idle = new IdleBackends<Backend>(
    { maxIdle: 10, maxIdleTotal: 10, idleTimeoutMs: 60_000, lifetimeMs: 3_600_000, ...options },
    {
      retire: (socket) => {
        retired.push(names.get(socket) ?? "?");
        socket.destroy();
        onRetire?.();
      },
      fallbackMaxIdleTotal: 3,
      now: () => clock.now,
    },
  );
  const backend = async (name: string, server = "db1:5432", createdAt = clock.now): Promise<Backend> => {
    const socket = await connection();
    names.set(socket, name);
    return { socket, createdAt, server, name };
  };
  /** Resolves at the next retirement. */
  const nextRetire = () =>
    new Promise<void>((resolve) => {
      onRetire = () => {
        onRetire = undefined;
        resolve();
      };
    });
  return { idle, clock, retired, backend, nextRetire };
}

describe("idle backends: bounds", () => {
  it("idle backends: a full server retires its least recently used idle connection, whatever its key", async () => {
    const { idle, retired, backend } = store({ maxIdleTotal: 2 });
    try {
      const a1 = await backend("a1");
      const b1 = await backend("b1");
      idle.park("A", a1);
      idle.park("B", b1);
      // Another server has its own bound.
      idle.park("X", await backend("x1", "db2:5432"));
      idle.park("A", await backend("a2"));
      assert.deepEqual(retired, ["a1"]);
      assert.equal(idle.take("B"), b1);
      // b1 used again: it is now the most recently used, so a2 goes next.
      idle.park("B", b1);
      idle.park("C", await backend("c1"));
      assert.deepEqual(retired, ["a1", "a2"]);
      assert.equal(idle.idleCount("db1:5432"), 2);
      assert.equal(idle.idleCount("db2:5432"), 1);
      assert.equal(idle.idleCount(), 3);
      assert.equal(idle.take("A"), undefined);
    } finally {
      idle.close();
    }
  });

  it("idle backends: per key at most maxIdle, taken most recently used first", async () => {
    const { idle, retired, backend } = store({ maxIdle: 2 });
    try {
      const k1 = await backend("k1");
      const k2 = await backend("k2");
      idle.park("K", k1);
      idle.park("K", k2);
      assert.equal(idle.accepts("K", await backend("probe")), false);
      idle.park("K", await backend("k3"));
      assert.deepEqual(retired, ["k3"]);
      assert.equal(idle.take("K"), k2);
      assert.equal(idle.take("K"), k1);
      assert.equal(idle.take("K"), undefined);
      assert.equal(idle.idleCount(), 0);
    } finally {
      idle.close();
    }
  });

  it("idle backends: a destroyed idle socket is passed over by take", async () => {
    const { idle, backend } = store();
    try {
      const k1 = await backend("k1");
      const k2 = await backend("k2");
      idle.park("K", k1);
      idle.park("K", k2);
      k2.socket.destroy();
      assert.equal(idle.take("K"), k1);
      assert.equal(idle.idleCount(), 0);
    } finally {
      idle.close();
    }
  });

  it('idle backends: "auto" bounds: one probe at a time; half of what the server allows, the fallback when refused', async () => {
    const { idle, backend } = store({ maxIdleTotal: "auto" });
    try {
      assert.equal(idle.limitFor("db1:5432"), undefined);
      assert.equal(idle.beginProbe("db1:5432"), true);
      assert.equal(idle.beginProbe("db1:5432"), false);
      // Unknown while probing: parking uses the fallback bound (3).
      for (const n of ["p1", "p2", "p3", "p4"]) idle.park(n, await backend(n));
      assert.equal(idle.idleCount("db1:5432"), 3);
      // Not answered: the next reset asks again.
      idle.endProbe("db1:5432", undefined, false);
      assert.equal(idle.limitFor("db1:5432"), undefined);
      assert.equal(idle.beginProbe("db1:5432"), true);
      idle.endProbe("db1:5432", 9, false);
      assert.equal(idle.limitFor("db1:5432"), 4);
      assert.equal(idle.beginProbe("db1:5432"), false);
      assert.equal(idle.beginProbe("db2:5432"), true);
      idle.endProbe("db2:5432", undefined, true);
      assert.equal(idle.limitFor("db2:5432"), 3);
      assert.equal(idle.beginProbe("db3:5432"), true);
      idle.endProbe("db3:5432", 1, false);
      assert.equal(idle.accepts("K", await backend("z", "db3:5432")), false);
    } finally {
      idle.close();
    }
  });

  it("idle backends: evictOne closes the server's least recently used and resolves once it is closed", async () => {
    const { idle, retired, backend } = store();
    try {
      const a = await backend("a");
      idle.park("A", a);
      idle.park("B", await backend("b"));
      assert.equal(await idle.evictOne("db1:5432"), true);
      assert.deepEqual(retired, ["a"]);
      assert.equal(a.socket.destroyed, true);
      assert.equal(await idle.evictOne("db2:5432"), false);
      assert.equal(idle.idleCount(), 1);
    } finally {
      idle.close();
    }
  });
});

describe("idle backends: sweep", () => {
  it("idle backends: a connection idle past idleTimeoutMs is retired; a fresher one stays", async () => {
    const { idle, clock, retired, backend, nextRetire } = store({ idleTimeoutMs: 100 });
    try {
      idle.park("A", await backend("old"));
      clock.now = 60;
      const fresh = await backend("fresh");
      idle.park("A", fresh);
      clock.now = 101;
      await nextRetire();
      assert.deepEqual(retired, ["old"]);
      assert.equal(idle.take("A"), fresh);
    } finally {
      idle.close();
    }
  });

  it("idle backends: a connection past lifetimeMs since its login is retired though not idle long", async () => {
    const { idle, clock, retired, backend, nextRetire } = store({ idleTimeoutMs: 100, lifetimeMs: 1_000 });
    try {
      const aged = await backend("aged", "db1:5432", 0);
      clock.now = 950;
      const young = await backend("young", "db1:5432", 900);
      assert.equal(idle.accepts("A", aged), true);
      idle.park("A", aged);
      idle.park("A", young);
      clock.now = 1_001;
      assert.equal(idle.accepts("B", aged), false);
      await nextRetire();
      assert.deepEqual(retired, ["aged"]);
      assert.equal(idle.take("A"), young);
    } finally {
      idle.close();
    }
  });
});

describe("idle backends: sockets and close", () => {
  it("idle backends: an idle connection the backend closes is dropped", async () => {
    const { idle, backend } = store();
    try {
      const b = await backend("a");
      idle.park("A", b);
      assert.equal(idle.idleCount(), 1);
      peerOf(b).end();
      await once(b.socket, "close");
      assert.equal(idle.idleCount(), 0);
      assert.equal(idle.take("A"), undefined);
    } finally {
      idle.close();
    }
  });

  it("idle backends: an idle connection the backend writes to is closed and dropped", async () => {
    const { idle, backend } = store();
    try {
      const b = await backend("a");
      idle.park("A", b);
      peerOf(b).write("FATAL");
      await once(b.socket, "close");
      assert.equal(idle.idleCount(), 0);
    } finally {
      idle.close();
    }
  });

  it("idle backends: close() retires every idle connection and keeps none from then on", async () => {
    const { idle, retired, backend } = store();
    idle.park("A", await backend("a"));
    idle.park("B", await backend("b", "db2:5432"));
    assert.equal(idle.enabled, true);
    idle.close();
    assert.deepEqual(retired.sort(), ["a", "b"]);
    assert.equal(idle.enabled, false);
    assert.equal(idle.idleCount(), 0);
    const late = await backend("late");
    assert.equal(idle.accepts("A", late), false);
    idle.park("A", late);
    assert.deepEqual(retired, ["a", "b", "late"]);
    assert.equal(idle.take("A"), undefined);
  });

  it("idle backends: maxIdle 0 keeps nothing", async () => {
    const { idle, retired, backend } = store({ maxIdle: 0 });
    assert.equal(idle.enabled, false);
    idle.park("A", await backend("a"));
    assert.deepEqual(retired, ["a"]);
    idle.close();
  });
});
