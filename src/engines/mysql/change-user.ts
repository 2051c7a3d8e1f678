import type { Socket } from "node:net";
import {
  authMoreData,
  authSwitchRequest,
  CachingSha2,
  type ChangeUserRequest,
  clearPasswordFrom,
  encodePacket,
  MysqlProtocolError,
  type Packet,
  PacketParser,
  Plugin,
  parseChangeUser,
} from "../../wire/mysql/index.js";

/** The token a client gave with COM_CHANGE_USER, and the sequence id our answer carries. */
export type ChangeUserToken =
  | { readonly ok: true; readonly request: ChangeUserRequest; readonly token: string; readonly seq: number }
  | {
      readonly ok: false;
      readonly request: ChangeUserRequest | undefined;
      /** `malformed`: no token; `protocol-violation`: the client broke the exchange. */
      readonly cause: "malformed" | "protocol-violation";
      readonly detail: string;
      readonly seq: number;
    };

/**
 * Reads a COM_CHANGE_USER from the client (`first`: the bytes from its packet on) and the
 * token that goes with it, the way a login takes it: mysql_clear_password in the command
 * itself; otherwise an AuthSwitch to caching_sha2_password, whose scramble is answered with
 * "perform full authentication" so that the client sends its password as is (a client without
 * a password, which gets its token from a plugin, is switched to mysql_clear_password). One
 * switch at most, each packet bounded by `maxPacket`, the whole bounded by `timeoutMs`. The
 * client's socket is read only here, and left paused.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_change_user.html
 */
export function readChangeUserToken(
  client: Socket,
  first: Buffer,
  capabilities: number,
  scramble: Buffer,
  maxPacket: number,
  timeoutMs: number,
): Promise<ChangeUserToken> {
  const parser = new PacketParser(maxPacket);
  const packets: Packet[] = [];
  let failure: string | undefined;
  let wake: (() => void) | undefined;
  const push = (chunk: Buffer) => {
    for (const e of parser.push(chunk)) {
      if (e.kind === "error") failure ??= e.message;
      else packets.push(e);
    }
    wake?.();
  };
  const onGone = () => {
    failure ??= "the client closed the connection during COM_CHANGE_USER";
    wake?.();
  };
  const timer = setTimeout(() => {
    failure ??= `no token within ${timeoutMs} ms after COM_CHANGE_USER`;
    wake?.();
  }, timeoutMs);
  const next = async (): Promise<Packet> => {
    for (;;) {
      if (failure !== undefined) throw new MysqlProtocolError(failure);
      const p = packets.shift();
      if (p) return p;
      await new Promise<void>((r) => {
        wake = r;
      });
      wake = undefined;
    }
  };
  client.on("data", push);
  client.on("close", onGone);
  client.on("error", onGone);
  client.resume();
  push(first);
  let request: ChangeUserRequest | undefined;
  let seq = 1;
  const send = (payload: Buffer) => client.write(encodePacket(seq, payload));
  const read = async () => {
    const p = await next();
    seq = (p.seq + 1) & 0xff;
    return p.payload;
  };
  return (async (): Promise<ChangeUserToken> => {
    try {
      request = parseChangeUser(await read(), capabilities);
      let token: string;
      if (request.authPlugin === Plugin.CLEAR) token = clearPasswordFrom(request.authResponse);
      else if (request.authResponse.length === 0) {
        send(authSwitchRequest(Plugin.CLEAR));
        token = clearPasswordFrom(await read());
      } else {
        // The scramble NUL-terminated, as mysqld sends it.
        send(authSwitchRequest(Plugin.CACHING_SHA2, Buffer.concat([scramble, Buffer.of(0)])));
        const proof = await read();
        if (proof.length === 0) {
          return { ok: false, request, cause: "malformed", detail: "COM_CHANGE_USER without a token", seq };
        }
        send(authMoreData(Buffer.of(CachingSha2.PERFORM_FULL_AUTHENTICATION)));
        const reply = await read();
        if (reply.length === 1 && reply[0] === CachingSha2.REQUEST_PUBLIC_KEY) {
          return {
            ok: false,
            request,
            cause: "protocol-violation",
            detail:
              "the client asked for the server's RSA public key during COM_CHANGE_USER; iamdb takes the token only over TLS: configure the client's TLS options so that it sends it",
            seq,
          };
        }
        token = clearPasswordFrom(reply);
      }
      if (packets.length > 0 || parser.buffered > 0) {
        return {
          ok: false,
          request,
          cause: "protocol-violation",
          detail: "the client sent data before COM_CHANGE_USER completed",
          seq,
        };
      }
      return { ok: true, request, token, seq };
    } catch (err) {
      if (!(err instanceof MysqlProtocolError)) throw err;
      return { ok: false, request, cause: "protocol-violation", detail: err.message, seq };
    } finally {
      clearTimeout(timer);
      client.off("data", push);
      client.off("close", onGone);
      client.off("error", onGone);
      client.pause();
    }
  })();
}
