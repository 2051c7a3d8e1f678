import { PayloadReader, PayloadWriter } from "./packets.js";

/** The prefix of the connection attributes the gateway sets; a client's own with it are dropped. */
export const GATEWAY_ATTRIBUTE_PREFIX = "iamdb.";

/**
 * A HandshakeResponse41 connection-attributes block (lenenc total length, then lenenc key /
 * lenenc value pairs) with the client's attributes whose key starts with
 * {@link GATEWAY_ATTRIBUTE_PREFIX} (any case) removed and `add` appended: what the backend
 * shows in performance_schema.session_connect_attrs is then the gateway's word, not the
 * client's. `raw` may be absent (a client that sent none). A malformed block is replaced by
 * `add` alone.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_response.html
 */
export function withGatewayAttributes(
  raw: Buffer | undefined,
  add: Readonly<Record<string, string>>,
): Buffer {
  const pairs: Array<[Buffer, Buffer]> = [];
  if (raw !== undefined && raw.length > 0) {
    try {
      const r = new PayloadReader(raw, "connection attributes");
      const body = new PayloadReader(r.lenencBytes(), "connection attributes");
      while (body.remaining > 0) {
        const key = body.lenencBytes();
        const value = body.lenencBytes();
        if (!key.toString("utf8").toLowerCase().startsWith(GATEWAY_ATTRIBUTE_PREFIX))
          pairs.push([key, value]);
      }
    } catch {
      pairs.length = 0;
    }
  }
  for (const [k, v] of Object.entries(add)) pairs.push([Buffer.from(k, "utf8"), Buffer.from(v, "utf8")]);
  const body = new PayloadWriter();
  for (const [k, v] of pairs) body.lenencBytes(k).lenencBytes(v);
  return new PayloadWriter().lenencBytes(body.build()).build();
}
