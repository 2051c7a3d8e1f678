// Revocation reaches live sessions (issue 14, part 2): each change that ends a principal's right
// to connect ends its live psql and mariadb sessions with the protocol's own termination error
// (57P01 / ER_CONNECTION_KILLED 1927) and an auth-log line; an unrelated change ends nothing;
// gateway.revocation "keep" is RDS's behaviour.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import mysql from "mysql2/promise";
import { postgresAccounts } from "../../src/engines/postgres/provision.js";
import type { Principal } from "../../src/iam/principal.js";
import { MACHINE_PG, REGION, startGatewayFixture, type TestGateway } from "../gateway/fixture.js";
import { type MysqlTestGateway, startMysqlTestGateway } from "../gateway/mysql-fixture.js";
import { type LiveCli, liveMariadb, livePsql, until } from "./live-clients.js";

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

const PG_USER = "iamdb_rv_app";
const MY_USER = "iamdb_rv_app";

async function pgGateway(options: Parameters<typeof startGatewayFixture>[1] = {}): Promise<TestGateway> {
  return startGatewayFixture(
    {
      identifier: "pg1",
      engine: "postgres",
      backend: MACHINE_PG,
      async provision(spec, dbUser, password) {
        await postgresAccounts.drop(spec, dbUser);
        await postgresAccounts.create(spec, dbUser, password);
      },
      drop: (spec, dbUser) => postgresAccounts.drop(spec, dbUser),
    },
    options,
  );
}

/** The auth log's "terminated" line of the session the live client opened (the last success of `key`). */
function terminatedLine(gw: TestGateway, accessKeyId: string) {
  return gw.log().find((l) => l.decision === "terminated" && l.accessKeyId === accessKeyId);
}

let n = 0;
/** A user with its own key and an inline policy allowing rds-db:connect to `dbUser` (unique name per call). */
async function newUser(gw: TestGateway, dbUser: string) {
  const name = `rv-user-${++n}`;
  const creds = await gw.userWithAccess(name, dbUser);
  return { name, creds };
}

/** How a test opens a live CLI session on an engine, and what its client prints when revoked. */
interface EngineUnderTest {
  readonly name: string;
  readonly dbUser: string;
  start(): Promise<TestGateway>;
  open(gw: TestGateway, creds: Creds): LiveCli;
  /** The client's own words for a session iamdb ended. */
  readonly killed: RegExp;
}

const ENGINES: EngineUnderTest[] = [
  {
    name: "PostgreSQL (psql)",
    dbUser: PG_USER,
    start: () => pgGateway(),
    open: (gw, creds) => livePsql(gw.port, gw.caFile, PG_USER, gw.token(PG_USER, creds)),
    killed: /FATAL: {2}57P01: terminating connection because its IAM authorization was revoked/,
  },
  {
    name: "MariaDB (mariadb CLI)",
    dbUser: MY_USER,
    start: () => startMysqlTestGateway(),
    open: (gw, creds) => liveMariadb(gw.port, gw.caFile, MY_USER, gw.token(MY_USER, creds, "127.0.0.1")),
    killed: /ERROR 1927 \(70100\).*terminating connection because its IAM authorization was revoked/,
  },
];

/** Opens a live CLI session and checks it works; the caller changes IAM and then calls `expectRevoked`. */
async function openLive(e: EngineUnderTest, gw: TestGateway, creds: Creds): Promise<LiveCli> {
  const cli = e.open(gw, creds);
  assert.equal(await cli.query("select 1;"), "1");
  return cli;
}

async function expectRevoked(
  e: EngineUnderTest,
  gw: TestGateway,
  cli: LiveCli,
  creds: Creds,
  reason: RegExp,
): Promise<void> {
  await until(
    () => terminatedLine(gw, creds.accessKeyId) !== undefined,
    5_000,
    "the auth log's terminated line",
  );
  const line = terminatedLine(gw, creds.accessKeyId) as Record<string, unknown>;
  assert.equal(line.cause, "revoked");
  assert.match(String(line.message), reason);
  assert.equal(typeof line.correlationId, "string");
  cli.send("select 2;");
  const { code, stderr } = await cli.exited;
  assert.notEqual(code, 0);
  assert.match(stderr, e.killed);
  assert.match(stderr, reason);
  assert.ok(stderr.includes(String(line.correlationId)), "the client's error carries the correlation id");
}

for (const e of ENGINES) {
  describe(`revocation of live ${e.name} sessions`, () => {
    let gw: TestGateway;
    const U = e.dbUser;
    before(async () => {
      gw = await e.start();
      await gw.provision(U);
    });
    after(async () => {
      await (gw as MysqlTestGateway).unprovision?.(U);
      await gw.close();
    });

    it("access key deactivated", async () => {
      const { name, creds } = await newUser(gw, U);
      const cli = await openLive(e, gw, creds);
      await gw.iam.updateAccessKey({ userName: name, accessKeyId: creds.accessKeyId, status: "Inactive" });
      await expectRevoked(e, gw, cli, creds, new RegExp(`access key ${creds.accessKeyId} was deactivated`));
    });

    it("access key deleted", async () => {
      const { name, creds } = await newUser(gw, U);
      const cli = await openLive(e, gw, creds);
      await gw.iam.deleteAccessKey({ userName: name, accessKeyId: creds.accessKeyId });
      await expectRevoked(e, gw, cli, creds, new RegExp(`access key ${creds.accessKeyId} was deleted`));
    });

    it("the inline policy edited to allow another DB user only; a bystander's session stays up", async () => {
      const bystander = await newUser(gw, U);
      const keep = await openLive(e, gw, bystander.creds);
      const { name, creds } = await newUser(gw, U);
      const cli = await openLive(e, gw, creds);
      const other = `arn:aws:rds-db:${REGION}:123456789012:dbuser:${gw.instance().dbiResourceId}/someone_else`;
      await gw.iam.putUserPolicy({
        userName: name,
        policyName: "connect",
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: other }],
        }),
      });
      await expectRevoked(e, gw, cli, creds, new RegExp(`is no longer allowed rds-db:connect to ${U} on`));
      // The bystander's session was re-evaluated too (the change was "all") and stays up.
      assert.equal(await keep.query("select 3;"), "3");
      assert.equal(terminatedLine(gw, bystander.creds.accessKeyId), undefined);
      keep.close();
    });

    it("the inline policy deleted", async () => {
      const { name, creds } = await newUser(gw, U);
      const cli = await openLive(e, gw, creds);
      await gw.iam.deleteUserPolicy({ userName: name, policyName: "connect" });
      await expectRevoked(e, gw, cli, creds, /is no longer allowed rds-db:connect/);
    });

    it("a managed policy detached", async () => {
      const name = `rv-managed-${++n}`;
      await gw.iam.createUser({ userName: name });
      const key = await gw.iam.createAccessKey({ userName: name });
      const creds = { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey };
      const policy = await gw.iam.createPolicy({
        policyName: `rv-connect-${n}`,
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: "*" }],
        }),
      });
      await gw.iam.attachUserPolicy({ userName: name, policyArn: policy.arn });
      const cli = await openLive(e, gw, creds);
      await gw.iam.detachUserPolicy({ userName: name, policyArn: policy.arn });
      await expectRevoked(e, gw, cli, creds, /is no longer allowed rds-db:connect/);
    });

    it("a deny attached through a group the user joins", async () => {
      const { name, creds } = await newUser(gw, U);
      const group = `rv-group-${++n}`;
      await gw.iam.createGroup({ groupName: group });
      await gw.iam.putGroupPolicy({
        groupName: group,
        policyName: "no-db",
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Deny", Action: "rds-db:connect", Resource: "*" }],
        }),
      });
      const cli = await openLive(e, gw, creds);
      await gw.iam.addUserToGroup({ groupName: group, userName: name });
      await expectRevoked(e, gw, cli, creds, /is no longer allowed rds-db:connect/);
    });

    it("a permissions boundary that leaves rds-db:connect out", async () => {
      const { name, creds } = await newUser(gw, U);
      const boundary = await gw.iam.createPolicy({
        policyName: `rv-boundary-${++n}`,
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: "*" }],
        }),
      });
      const cli = await openLive(e, gw, creds);
      await gw.iam.putUserPermissionsBoundary({ userName: name, permissionsBoundary: boundary.arn });
      await expectRevoked(e, gw, cli, creds, /is no longer allowed rds-db:connect/);
    });

    it("a role's sessions revoked with aws:TokenIssueTime (the console's Revoke active sessions)", async () => {
      const { creds: callerCreds } = await newUser(gw, U);
      const caller = (await gw.iam.lookupCredential(callerCreds.accessKeyId))?.principal as Principal;
      const roleName = `rv-role-${++n}`;
      const role = await gw.iam.createRole({
        roleName,
        assumeRolePolicyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Principal: { AWS: caller.arn }, Action: "sts:AssumeRole" }],
        }),
      });
      await gw.iam.putRolePolicy({
        roleName,
        policyName: "connect",
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [{ Effect: "Allow", Action: "rds-db:connect", Resource: "*" }],
        }),
      });
      const assumed = await gw.iam.assumeRole({ caller, roleArn: role.arn, roleSessionName: "app" });
      const creds = assumed.credentials;
      const cli = await openLive(e, gw, creds);
      await new Promise((r) => setTimeout(r, 1100)); // AWS compares to the second
      await gw.iam.putRolePolicy({
        roleName,
        policyName: "AWSRevokeOlderSessions",
        policyDocument: JSON.stringify({
          Version: "2012-10-17",
          Statement: [
            {
              Effect: "Deny",
              Action: "*",
              Resource: "*",
              Condition: { DateLessThan: { "aws:TokenIssueTime": new Date().toISOString() } },
            },
          ],
        }),
      });
      await expectRevoked(
        e,
        gw,
        cli,
        creds,
        /assumed-role\/rv-role-\d+\/app is no longer allowed rds-db:connect/,
      );
    });

    it("the instance's IAM switch turned off", async () => {
      const { creds } = await newUser(gw, U);
      const cli = await openLive(e, gw, creds);
      const id = gw.instance().identifier;
      await gw.registry.setIamAuth(id, false);
      try {
        await expectRevoked(
          e,
          gw,
          cli,
          creds,
          new RegExp(`IAM database authentication was turned off on ${id}`),
        );
      } finally {
        await gw.registry.setIamAuth(id, true);
      }
    });

    it("the DB account removed", async () => {
      const { creds } = await newUser(gw, U);
      const cli = await openLive(e, gw, creds);
      const id = gw.instance().identifier;
      await gw.accounts.delete(id, U);
      try {
        await expectRevoked(
          e,
          gw,
          cli,
          creds,
          new RegExp(`DB user "${U}" is no longer an IAM-enabled account on ${id}`),
        );
      } finally {
        await gw.provision(U);
      }
    });

    it("terminated sessions are counted in iamdb_sessions_terminated_total", async () => {
      assert.equal(
        await gw.metrics.value("iamdb_sessions_terminated_total", {
          instance: gw.instance().identifier,
          cause: "revoked",
        }),
        10,
      );
    });
  });
}

describe('gateway.revocation "keep": RDS\'s behaviour', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await pgGateway({ limits: { revocation: "keep" } });
    await gw.provision(PG_USER);
  });
  after(() => gw.close());

  it("a session outlives its deactivated key; a new login is refused", async () => {
    const { name, creds } = await newUser(gw, PG_USER);
    const cli = await openLive(ENGINES[0] as EngineUnderTest, gw, creds);
    await gw.iam.updateAccessKey({ userName: name, accessKeyId: creds.accessKeyId, status: "Inactive" });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await cli.query("select 5;"), "5");
    assert.equal(terminatedLine(gw, creds.accessKeyId), undefined);
    const again = livePsql(gw.port, gw.caFile, PG_USER, gw.token(PG_USER, creds));
    const { stderr } = await again.exited;
    assert.match(stderr, /PAM authentication failed/);
    cli.close();
  });
});

describe("revocation seen by mysql2", () => {
  let gw: MysqlTestGateway;
  before(async () => {
    gw = await startMysqlTestGateway();
    await gw.provision(MY_USER);
  });
  after(async () => {
    await gw.unprovision(MY_USER);
    await gw.close();
  });

  it("mysql2: a policy removed ends an idle connection with ER_CONNECTION_KILLED (1927)", async () => {
    const { name, creds } = await newUser(gw, MY_USER);
    const conn = await mysql.createConnection({
      host: "127.0.0.1",
      port: gw.port,
      user: MY_USER,
      password: gw.token(MY_USER, creds, "127.0.0.1"),
      database: "test",
      ssl: { ca: gw.caPem },
      enableCleartextPlugin: true,
    });
    const errors: Array<{ code?: unknown; fatal?: boolean; message: string }> = [];
    conn.on("error", (e: { code?: unknown; fatal?: boolean; message: string }) => errors.push(e));
    const [rows] = await conn.query("select 1 as one");
    assert.deepEqual(rows, [{ one: 1 }]);
    await gw.iam.deleteUserPolicy({ userName: name, policyName: "connect" });
    await until(() => errors.length > 0, 5_000, "mysql2's error event");
    assert.equal(errors.length, 1, JSON.stringify(errors));
    // mysql2 reports an ERR packet that answers no command as a fatal protocol error whose code is the error number.
    assert.equal(errors[0]?.code, 1927);
    assert.equal(errors[0]?.fatal, true);
    assert.match(
      errors[0]?.message ?? "",
      /IAM authorization was revoked: .* is no longer allowed rds-db:connect/,
    );
    conn.destroy();
  });
});
