// The transaction pool's queue without sockets: the bound, FIFO per principal with principals
// served in turn, the borrow timeout, and a connection freed for a waiter of another key.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { describe, it } from "node:test";
import { BorrowTimeoutError, TransactionPool, type TxBackend } from "../../src/engines/postgres/tx-pool.js";

/** A stand-in for a backend socket: open until destroyed or ended. */
function fakeSocket(): Socket {
  const s = new EventEmitter() as EventEmitter & Record<string, unknown>;
  Object.assign(s, {
    destroyed: false,
    readable: true,
    writable: true,
    destroy() {
      s.destroyed = true;
      s.writable = false;
      s.readable = false;
    },
    end() {
      (s.destroy as () => void)();
    },
    pause() {},
    resume() {},
    ref() {},
    unref() {},
  });
  return s as unknown as Socket;
}

let opened = 0;
const open = (key: string) => async (): Promise<TxBackend> => {
  opened++;
  return {
    socket: fakeSocket(),
    processId: opened,
    secretKey: Buffer.alloc(4),
    parameters: new Map(),
    initial: new Map(),
    createdAt: performance.now(),
    server: "fake:5432",
    key,
    prepared: new Map(),
    sets: new Map(),
    invalidated: false,
  };
};

const pool = (max: number, borrowTimeoutMs = 60_000) =>
  new TransactionPool({
    maxBackendConnections: max,
    borrowTimeoutMs,
    idleTimeoutMs: 60_000,
    lifetimeMs: 3_600_000,
  });

describe("TransactionPool", () => {
  it("never opens more than maxBackendConnections, and serves principals in turn, each in FIFO order", async () => {
    const p = pool(1);
    const first = await p.borrow("k", "alice", open("k")).backend;
    const served: string[] = [];
    const waiters = new Map<string, Promise<TxBackend>>();
    for (const [principal, n] of [
      ["alice", 1],
      ["alice", 2],
      ["alice", 3],
      ["bob", 1],
    ] as const) {
      const name = `${principal}${n}`;
      waiters.set(
        name,
        p.borrow("k", principal, open("k")).backend.then((b) => {
          served.push(name);
          return b;
        }),
      );
    }
    assert.equal(p.stats.waiting, 4);
    assert.equal(p.stats.total, 1);
    let b = first;
    for (let i = 0; i < 4; i++) {
      p.release(b, true);
      await new Promise((r) => setImmediate(r));
      b = await (waiters.get(served[i] as string) as Promise<TxBackend>);
    }
    assert.deepEqual(served, ["alice1", "bob1", "alice2", "alice3"]);
    assert.equal(p.stats.total, 1);
    p.close();
  });

  it("refuses a waiter past the borrow timeout with a message naming it", async () => {
    const p = pool(1, 20);
    // The pool's timers do not keep a process alive (its clients' sockets do): this one does.
    const alive = setInterval(() => undefined, 1000);
    await p.borrow("k", "alice", open("k")).backend;
    await assert.rejects(p.borrow("k", "bob", open("k")).backend, (err: unknown) => {
      assert.ok(err instanceof BorrowTimeoutError);
      assert.match((err as Error).message, /pool\.borrowTimeoutMs = 20 ms/);
      return true;
    });
    assert.equal(p.stats.waiting, 0);
    clearInterval(alive);
    p.close();
  });

  it("closes a freed connection of another key and opens one for the waiter, within the bound", async () => {
    const p = pool(1);
    const a = await p.borrow("user-a", "alice", open("user-a")).backend;
    const waiting = p.borrow("user-b", "bob", open("user-b")).backend;
    p.release(a, true);
    const b = await waiting;
    assert.equal(b.key, "user-b");
    assert.equal(a.socket.destroyed, true);
    assert.equal(p.stats.total, 1);
    p.close();
  });

  it("a connection given back dirty is closed and its slot goes to the next waiter", async () => {
    const p = pool(1);
    const a = await p.borrow("k", "alice", open("k")).backend;
    const waiting = p.borrow("k", "bob", open("k")).backend;
    p.release(a, false);
    const b = await waiting;
    assert.notEqual(b, a);
    assert.equal(a.socket.destroyed, true);
    assert.equal(p.stats.total, 1);
    p.close();
  });
});
