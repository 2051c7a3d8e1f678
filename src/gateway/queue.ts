/** Items arriving from a socket, awaited one at a time by a handshake written as straight-line code. */
export class EventQueue<T> {
  #items: T[] = [];
  #waiter: { resolve: (v: T) => void; reject: (e: Error) => void } | undefined;
  #error: Error | undefined;

  push(items: readonly T[]): void {
    for (const item of items) {
      const w = this.#waiter;
      if (w) {
        this.#waiter = undefined;
        w.resolve(item);
      } else {
        this.#items.push(item);
      }
    }
  }

  /** Ends the queue: the pending and every later `next()` reject with `error`. */
  fail(error: Error): void {
    if (this.#error) return;
    this.#error = error;
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(error);
  }

  /** Items received and not yet taken. */
  get size(): number {
    return this.#items.length;
  }

  next(): Promise<T> {
    const item = this.#items.shift();
    if (item !== undefined) return Promise.resolve(item);
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }
}

/** The peer went away or a deadline passed: the handshake stops, without anything more to say. */
export class ConnectionClosed extends Error {
  constructor(
    readonly reason: string,
    /** How the auth log files it. */
    override readonly cause: "client-closed" | "login-timeout" | "protocol-violation" = "client-closed",
  ) {
    super(reason);
    this.name = "ConnectionClosed";
  }
}
