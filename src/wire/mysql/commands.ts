import { MAX_PACKET_PAYLOAD } from "./constants.js";

/**
 * Follows packet boundaries in the client-to-server byte stream after login without
 * buffering payloads, and reports the command byte of every packet that starts a command
 * (sequence id 0, not the continuation of a 0xFFFFFF-byte packet). The relay uses it to stop
 * COM_CHANGE_USER before it reaches the backend.
 *
 * Fails closed: a LOAD DATA LOCAL upload of more than 255 packets wraps its sequence id to
 * 0, and a data packet there that happens to start with a forbidden byte is treated as that
 * command (the session is refused, never an identity switch let through).
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_command_phase.html
 */
export class CommandTracker {
  /** Header bytes collected so far, plus the first payload byte. */
  #header = Buffer.alloc(5);
  #headerLength = 0;
  /** Payload bytes still to skip in the current packet. */
  #skip = 0;
  #continuation = false;

  /** Feeds a chunk; returns the first command in `forbidden` that it starts, if any. */
  scan(chunk: Buffer, forbidden: ReadonlySet<number>): number | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      this.#header[this.#headerLength++] = chunk[i] as number;
      i++;
      if (this.#headerLength === 4) {
        const length = this.#header.readUIntLE(0, 3);
        if (length === 0) {
          this.#headerLength = 0;
          this.#continuation = false;
          continue;
        }
      }
      if (this.#headerLength < 5) continue;
      const length = this.#header.readUIntLE(0, 3);
      const seq = this.#header[3] as number;
      const first = this.#header[4] as number;
      const isCommand = seq === 0 && !this.#continuation;
      this.#continuation = length === MAX_PACKET_PAYLOAD;
      this.#headerLength = 0;
      this.#skip = length - 1;
      if (isCommand && forbidden.has(first)) {
        return first;
      }
    }
    return undefined;
  }
}
