import type { SessionTracker } from "./engine.js";

/** The sessions a gateway relays, so shutdown can wait for them and then close what is left. */
export class Sessions implements SessionTracker {
  readonly #open = new Set<() => void>();
  #waiters: Array<() => void> = [];

  opened(close: () => void): () => void {
    this.#open.add(close);
    return () => {
      this.#open.delete(close);
      if (this.#open.size === 0) {
        for (const w of this.#waiters) w();
        this.#waiters = [];
      }
    };
  }

  get size(): number {
    return this.#open.size;
  }

  /** Waits up to `deadlineMs` for sessions to end on their own, then closes the rest. */
  async drain(deadlineMs: number): Promise<void> {
    if (this.#open.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadlineMs);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    for (const close of [...this.#open]) close();
  }
}
