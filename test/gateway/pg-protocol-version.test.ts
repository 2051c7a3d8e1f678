// A client asking for protocol 3.2 (libpq 18's max_protocol_version=latest) gets
// NegotiateProtocolVersion naming 3.0 whole, as PostgreSQL sends it: libpq takes the number for
// the version to speak, and refuses a server that answers less than its min_protocol_version.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BackendParser, PROTOCOL_VERSION_3_0, startupMessage } from "../../src/wire/postgres/index.js";
import { raw, readUntilClose } from "./clients.js";
import { startTestGateway, type TestGateway } from "./fixture.js";

let gw: TestGateway;

before(async () => {
  gw = await startTestGateway();
});

after(async () => {
  await gw.close();
});

describe("PostgreSQL gateway: protocol version negotiation", () => {
  it("protocol version: 3.2 with an unknown _pq_ option is answered with 3.0 whole, and the option named", async () => {
    const socket = await raw(gw.port);
    socket.write(startupMessage({ user: "anyone", "_pq_.iamdb_test": "1" }, (3 << 16) | 2));
    const messages = new BackendParser().push(await readUntilClose(socket));
    const negotiate = messages.find((m) => m.kind === "NegotiateProtocolVersion");
    assert.ok(negotiate?.kind === "NegotiateProtocolVersion", JSON.stringify(messages.map((m) => m.kind)));
    assert.equal(negotiate.newestMinor, PROTOCOL_VERSION_3_0);
    assert.deepEqual(negotiate.unrecognized, ["_pq_.iamdb_test"]);
  });
});
