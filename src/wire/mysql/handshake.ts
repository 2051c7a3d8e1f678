import { Capability, DEFAULT_CHARSET, SERVER_STATUS_AUTOCOMMIT } from "./constants.js";
import { PayloadReader, PayloadWriter } from "./packets.js";

/**
 * The connection phase, both sides: what the gateway says to clients and reads from them,
 * and what it says to a backend and reads from it.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */

export interface ServerHandshake {
  readonly protocolVersion: number;
  readonly serverVersion: string;
  readonly connectionId: number;
  /** The auth-plugin-data (scramble / nonce), both parts, without the trailing NUL. */
  readonly scramble: Buffer;
  readonly capabilities: number;
  readonly charset: number;
  readonly status: number;
  readonly authPlugin: string;
}

/** Protocol::HandshakeV10 @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_v10.html */
export function handshakeV10(h: Omit<ServerHandshake, "protocolVersion" | "status" | "charset">): Buffer {
  if (h.scramble.length !== 20) throw new RangeError("the scramble is 20 bytes");
  return new PayloadWriter()
    .uint8(10)
    .cstring(h.serverVersion)
    .uint32(h.connectionId)
    .bytes(h.scramble.subarray(0, 8))
    .uint8(0)
    .uint16(h.capabilities & 0xffff)
    .uint8(DEFAULT_CHARSET)
    .uint16(SERVER_STATUS_AUTOCOMMIT)
    .uint16((h.capabilities >>> 16) & 0xffff)
    .uint8(21)
    .zeros(10)
    .bytes(h.scramble.subarray(8))
    .uint8(0)
    .cstring(h.authPlugin)
    .build();
}

export function parseServerHandshake(payload: Buffer): ServerHandshake {
  const r = new PayloadReader(payload, "server handshake");
  const protocolVersion = r.uint8();
  if (protocolVersion !== 10) r.fail(`protocol version ${protocolVersion}, expected 10`);
  const serverVersion = r.cstring().toString("utf8");
  const connectionId = r.uint32();
  const part1 = r.bytes(8);
  r.skip(1);
  let capabilities = r.uint16();
  let charset = DEFAULT_CHARSET;
  let status = 0;
  let part2: Buffer = Buffer.alloc(0);
  let authPlugin = "mysql_native_password";
  if (r.remaining > 0) {
    charset = r.uint8();
    status = r.uint16();
    capabilities = (capabilities | (r.uint16() << 16)) >>> 0;
    const dataLength = r.uint8();
    r.skip(10);
    if (capabilities & Capability.SECURE_CONNECTION) {
      part2 = r.bytes(Math.max(13, dataLength - 8));
      // The scramble is NUL-terminated on the wire; the NUL is not part of it.
      if (part2[part2.length - 1] === 0) part2 = part2.subarray(0, part2.length - 1);
    }
    if (capabilities & Capability.PLUGIN_AUTH) authPlugin = r.cstring(true).toString("utf8");
  }
  return {
    protocolVersion,
    serverVersion,
    connectionId,
    scramble: Buffer.concat([part1, part2]),
    capabilities,
    charset,
    status,
    authPlugin,
  };
}

/** The client's reply to the handshake: an SSLRequest (then TLS) or a HandshakeResponse41. */
export interface HandshakeResponse {
  readonly capabilities: number;
  readonly maxPacketSize: number;
  readonly charset: number;
  /** True for the 32-byte SSLRequest: nothing else follows until TLS is up. */
  readonly sslRequest: boolean;
  readonly username: string;
  readonly authResponse: Buffer;
  readonly database: string | undefined;
  readonly authPlugin: string | undefined;
  /** The connection attributes block, raw (lenenc length included), when the client sent one. */
  readonly attributes: Buffer | undefined;
}

/** Protocol::SSLRequest and Protocol::HandshakeResponse41 @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_handshake_response.html */
export function parseHandshakeResponse(payload: Buffer): HandshakeResponse {
  const r = new PayloadReader(payload, "handshake response");
  if (payload.length < 4) r.fail("shorter than the capability flags");
  const capabilities = payload.readUInt32LE(0);
  if (!(capabilities & Capability.PROTOCOL_41)) {
    r.fail("the client does not speak protocol 4.1 (HandshakeResponse320 is not supported)");
  }
  r.skip(4);
  const maxPacketSize = r.uint32();
  const charset = r.uint8();
  r.skip(23);
  const base = { capabilities, maxPacketSize, charset };
  if (r.remaining === 0 && capabilities & Capability.SSL) {
    return {
      ...base,
      sslRequest: true,
      username: "",
      authResponse: Buffer.alloc(0),
      database: undefined,
      authPlugin: undefined,
      attributes: undefined,
    };
  }
  const username = r.cstring().toString("utf8");
  let authResponse: Buffer;
  if (capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) authResponse = r.lenencBytes();
  else if (capabilities & Capability.SECURE_CONNECTION) authResponse = r.bytes(r.uint8());
  else authResponse = r.cstring(true);
  let database: string | undefined;
  if (capabilities & Capability.CONNECT_WITH_DB && r.remaining > 0) {
    database = r.cstring(true).toString("utf8");
  }
  let authPlugin: string | undefined;
  if (capabilities & Capability.PLUGIN_AUTH && r.remaining > 0) {
    authPlugin = r.cstring(true).toString("utf8");
  }
  let attributes: Buffer | undefined;
  if (capabilities & Capability.CONNECT_ATTRS && r.remaining > 0) {
    const start = payload.length - r.remaining;
    r.lenencBytes();
    attributes = payload.subarray(start, payload.length - r.remaining);
  }
  return {
    ...base,
    sslRequest: false,
    username,
    authResponse: Buffer.from(authResponse),
    database,
    authPlugin,
    attributes: attributes ? Buffer.from(attributes) : undefined,
  };
}

/** An SSLRequest, as the gateway sends it to a TLS backend. */
export function sslRequest(capabilities: number, charset: number): Buffer {
  return new PayloadWriter()
    .uint32(capabilities | Capability.SSL)
    .uint32(0x01000000)
    .uint8(charset)
    .zeros(23)
    .build();
}

/** HandshakeResponse41, as the gateway sends it to a backend. */
export function handshakeResponse41(r: {
  capabilities: number;
  charset: number;
  username: string;
  authResponse: Buffer;
  database: string | undefined;
  authPlugin: string;
  attributes: Buffer | undefined;
}): Buffer {
  const w = new PayloadWriter()
    .uint32(r.capabilities)
    .uint32(0x01000000)
    .uint8(r.charset)
    .zeros(23)
    .cstring(r.username);
  if (r.capabilities & Capability.PLUGIN_AUTH_LENENC_CLIENT_DATA) w.lenencBytes(r.authResponse);
  else w.uint8(r.authResponse.length).bytes(r.authResponse);
  if (r.capabilities & Capability.CONNECT_WITH_DB) w.cstring(r.database ?? "");
  if (r.capabilities & Capability.PLUGIN_AUTH) w.cstring(r.authPlugin);
  if (r.capabilities & Capability.CONNECT_ATTRS && r.attributes) w.bytes(r.attributes);
  return w.build();
}

/** Protocol::AuthSwitchRequest @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_switch_request.html */
export function authSwitchRequest(plugin: string, data: Buffer = Buffer.alloc(0)): Buffer {
  return new PayloadWriter().uint8(0xfe).cstring(plugin).bytes(data).build();
}

/**
 * Protocol::AuthMoreData: 0x01 and the plugin's data. For caching_sha2_password,
 * {@link CachingSha2.PERFORM_FULL_AUTHENTICATION} asks the client for its password as is
 * (over TLS), as a server does when its cache has no entry for the account.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase_packets_protocol_auth_more_data.html
 */
export function authMoreData(data: Buffer): Buffer {
  return Buffer.concat([Buffer.of(0x01), data]);
}

/**
 * ERR_Packet. `sqlState` is sent only once the client has said it speaks protocol 4.1;
 * errors before the handshake (too many connections) go without it, as mysqld sends them.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_basic_err_packet.html
 */
export function errPacket(code: number, message: string, sqlState?: string): Buffer {
  const w = new PayloadWriter().uint8(0xff).uint16(code);
  if (sqlState !== undefined) w.bytes(`#${sqlState}`);
  return w.bytes(message).build();
}

export interface ErrInfo {
  readonly code: number;
  readonly sqlState: string | undefined;
  readonly message: string;
}

export function parseErrPacket(payload: Buffer): ErrInfo {
  const r = new PayloadReader(payload, "ERR packet");
  if (r.uint8() !== 0xff) r.fail("not an ERR packet");
  const code = r.uint16();
  let sqlState: string | undefined;
  if (payload[3] === 0x23 /* # */ && payload.length >= 9) {
    r.skip(1);
    sqlState = r.bytes(5).toString("latin1");
  }
  return { code, sqlState, message: r.rest().toString("utf8") };
}

/** An AuthSwitchRequest from a backend: the plugin to use and its data (NUL trimmed). */
export function parseAuthSwitch(payload: Buffer): { plugin: string; data: Buffer } {
  const r = new PayloadReader(payload, "AuthSwitchRequest");
  r.skip(1);
  const plugin = r.cstring(true).toString("utf8");
  let data = r.rest();
  if (data[data.length - 1] === 0) data = data.subarray(0, data.length - 1);
  return { plugin, data };
}

/** What a client says to mysql_clear_password: the password, NUL-terminated by most clients. */
export function clearPasswordFrom(authResponse: Buffer): string {
  const end = authResponse.indexOf(0);
  return authResponse.subarray(0, end === -1 ? authResponse.length : end).toString("utf8");
}

/** What a client's COM_CHANGE_USER asks for. */
export interface ChangeUserRequest {
  readonly username: string;
  readonly authResponse: Buffer;
  readonly database: string;
  /** Absent from clients without CLIENT_PROTOCOL_41. */
  readonly charset: number | undefined;
  readonly authPlugin: string | undefined;
  readonly attributes: Buffer | undefined;
}

/**
 * COM_CHANGE_USER, read with the capabilities the client chose at login.
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_com_change_user.html
 */
export function parseChangeUser(payload: Buffer, capabilities: number): ChangeUserRequest {
  const r = new PayloadReader(payload, "COM_CHANGE_USER");
  if (r.uint8() !== 0x11) r.fail("not a COM_CHANGE_USER");
  const username = r.cstring().toString("utf8");
  const authResponse = capabilities & Capability.SECURE_CONNECTION ? r.bytes(r.uint8()) : r.cstring(true);
  const database = r.remaining > 0 ? r.cstring(true).toString("utf8") : "";
  let charset: number | undefined;
  if (r.remaining >= 2) charset = r.uint16();
  let authPlugin: string | undefined;
  if (capabilities & Capability.PLUGIN_AUTH && r.remaining > 0) authPlugin = r.cstring(true).toString("utf8");
  let attributes: Buffer | undefined;
  if (capabilities & Capability.CONNECT_ATTRS && r.remaining > 0) {
    const start = payload.length - r.remaining;
    r.lenencBytes();
    attributes = Buffer.from(payload.subarray(start, payload.length - r.remaining));
  }
  return { username, authResponse: Buffer.from(authResponse), database, charset, authPlugin, attributes };
}
