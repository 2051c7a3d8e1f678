import type {
  DbAccountRecord,
  DeploymentRepository,
  FleetMemberInfo,
  FleetMemberRecord,
  InstanceStateRecord,
  TlsAuthorityRecord,
} from "../../instances/repository.js";
import type { InstanceTag } from "../../instances/types.js";
import type { Row, SqlDriver, SqlExecutor } from "./driver.js";
import { date, num, str } from "./rows.js";

const INSTANCE_COLUMNS = "identifier, dbi_resource_id, iam_auth_enabled, tags, create_date";
const ACCOUNT_COLUMNS = "instance, username, sealed_password, create_date, rotate_date";
const MEMBER_COLUMNS = "member_id, member_no, info, started, heartbeat";

function instanceFromRow(r: Row): InstanceStateRecord {
  return {
    identifier: str(r, "identifier"),
    dbiResourceId: str(r, "dbi_resource_id"),
    iamAuthEnabled: num(r, "iam_auth_enabled") !== 0,
    tags: JSON.parse(str(r, "tags")) as InstanceTag[],
    createdAt: date(r, "create_date"),
  };
}

function accountFromRow(r: Row): DbAccountRecord {
  return {
    instance: str(r, "instance"),
    username: str(r, "username"),
    sealedPassword: str(r, "sealed_password"),
    createdAt: date(r, "create_date"),
    rotatedAt: date(r, "rotate_date"),
  };
}

function memberFromRow(r: Row): FleetMemberRecord {
  return {
    memberId: str(r, "member_id"),
    memberNo: num(r, "member_no"),
    info: JSON.parse(str(r, "info")) as FleetMemberInfo,
    started: date(r, "started"),
    heartbeat: date(r, "heartbeat"),
  };
}

async function getInstance(db: SqlExecutor, identifier: string, lock = "") {
  const r = await db.get(`SELECT ${INSTANCE_COLUMNS} FROM db_instances WHERE identifier = ?${lock}`, [
    identifier,
  ]);
  return r && instanceFromRow(r);
}

/** The deployment state over any SQL driver (see `src/instances/repository.ts`). */
export function deploymentQueries(db: SqlDriver): DeploymentRepository {
  return {
    ensureInstance: (initial) =>
      db.transaction(async (tx) => {
        // ON CONFLICT DO NOTHING: of two gateways starting at once, the first insert wins and
        // the other reads the winner's row (the primary key serializes them).
        const n = await tx.run(
          `INSERT INTO db_instances (${INSTANCE_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (identifier) DO NOTHING`,
          [
            initial.identifier,
            initial.dbiResourceId,
            initial.iamAuthEnabled ? 1 : 0,
            JSON.stringify(initial.tags),
            initial.createdAt.getTime(),
          ],
        );
        if (n > 0) tx.notify({ scope: "deployment", kind: "instances" });
        return (await getInstance(tx, initial.identifier)) as InstanceStateRecord;
      }),

    getInstanceState: (identifier) => getInstance(db, identifier),

    listInstanceStates: async () =>
      (await db.all(`SELECT ${INSTANCE_COLUMNS} FROM db_instances ORDER BY identifier`)).map(instanceFromRow),

    updateInstanceState: (identifier, change) =>
      db.transaction(async (tx) => {
        const current = await getInstance(tx, identifier, tx.forUpdate);
        if (current === undefined) return undefined;
        const next = change(current);
        await tx.run("UPDATE db_instances SET iam_auth_enabled = ?, tags = ? WHERE identifier = ?", [
          next.iamAuthEnabled ? 1 : 0,
          JSON.stringify(next.tags),
          identifier,
        ]);
        tx.notify({ scope: "deployment", kind: "instances" });
        return next;
      }),

    putDbAccount: (instance, username, sealedPassword, now) =>
      db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO db_accounts (${ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (instance, username) DO UPDATE SET sealed_password = excluded.sealed_password, rotate_date = excluded.rotate_date`,
          [instance, username, sealedPassword, now.getTime(), now.getTime()],
        );
        tx.notify({ scope: "deployment", kind: "dbAccounts" });
        const r = await tx.get(
          `SELECT ${ACCOUNT_COLUMNS} FROM db_accounts WHERE instance = ? AND username = ?`,
          [instance, username],
        );
        return accountFromRow(r as Row);
      }),

    insertDbAccount: (a) =>
      db.transaction(async (tx) => {
        const n = await tx.run(
          `INSERT INTO db_accounts (${ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?) ON CONFLICT (instance, username) DO NOTHING`,
          [a.instance, a.username, a.sealedPassword, a.createdAt.getTime(), a.rotatedAt.getTime()],
        );
        if (n > 0) tx.notify({ scope: "deployment", kind: "dbAccounts" });
        return n > 0;
      }),

    getDbAccount: async (instance, username) => {
      const r = await db.get(
        `SELECT ${ACCOUNT_COLUMNS} FROM db_accounts WHERE instance = ? AND username = ?`,
        [instance, username],
      );
      return r && accountFromRow(r);
    },

    listDbAccounts: async (instance) =>
      (instance === undefined
        ? await db.all(`SELECT ${ACCOUNT_COLUMNS} FROM db_accounts ORDER BY instance, username`)
        : await db.all(`SELECT ${ACCOUNT_COLUMNS} FROM db_accounts WHERE instance = ? ORDER BY username`, [
            instance,
          ])
      ).map(accountFromRow),

    deleteDbAccount: (instance, username) =>
      db.transaction(async (tx) => {
        const n = await tx.run("DELETE FROM db_accounts WHERE instance = ? AND username = ?", [
          instance,
          username,
        ]);
        if (n > 0) tx.notify({ scope: "deployment", kind: "dbAccounts" });
        return n > 0;
      }),

    ensureFact: (name, value) =>
      db.transaction(async (tx) => {
        await tx.run("INSERT INTO store_facts (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING", [
          name,
          value,
        ]);
        return str((await tx.get("SELECT value FROM store_facts WHERE name = ?", [name])) as Row, "value");
      }),

    ensureTlsAuthority: (initial) =>
      db.transaction(async (tx) => {
        await tx.run(
          `INSERT INTO tls_authorities (name, cert_pem, sealed_key, create_date) VALUES (?, ?, ?, ?)
           ON CONFLICT (name) DO NOTHING`,
          [initial.name, initial.certPem, initial.sealedKey, initial.createdAt.getTime()],
        );
        const r = (await tx.get(
          "SELECT name, cert_pem, sealed_key, create_date FROM tls_authorities WHERE name = ?",
          [initial.name],
        )) as Row;
        const record: TlsAuthorityRecord = {
          name: str(r, "name"),
          certPem: str(r, "cert_pem"),
          sealedKey: str(r, "sealed_key"),
          createdAt: date(r, "create_date"),
        };
        return record;
      }),

    registerFleetMember: (memberId, info, now, staleBefore, maxMemberNo) =>
      db.transaction(async (tx) => {
        // Lock the whole member list while choosing a number: PostgreSQL has no row to lock for a
        // number nobody holds yet, so take the table (SQLite's BEGIN IMMEDIATE already did).
        if (tx.forUpdate !== "") await tx.run("LOCK TABLE fleet_members IN EXCLUSIVE MODE");
        await tx.run("DELETE FROM fleet_members WHERE heartbeat < ? OR member_id = ?", [
          staleBefore.getTime(),
          memberId,
        ]);
        // A gone member's sessions went with it (its process is dead or was declared so).
        await tx.run(
          "DELETE FROM live_sessions WHERE member_id NOT IN (SELECT member_id FROM fleet_members)",
        );
        const taken = new Set(
          (await tx.all("SELECT member_no FROM fleet_members")).map((r) => num(r, "member_no")),
        );
        let memberNo = 1;
        while (taken.has(memberNo)) memberNo++;
        if (memberNo > maxMemberNo) {
          throw new RangeError(
            `the fleet already has ${maxMemberNo} live gateways; no member number is free`,
          );
        }
        await tx.run(`INSERT INTO fleet_members (${MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?)`, [
          memberId,
          memberNo,
          JSON.stringify(info),
          now.getTime(),
          now.getTime(),
        ]);
        tx.notify({ scope: "deployment", kind: "fleet" });
        return { memberId, memberNo, info, started: now, heartbeat: now };
      }),

    heartbeatFleetMember: async (memberId, now) =>
      (await db.run("UPDATE fleet_members SET heartbeat = ? WHERE member_id = ?", [
        now.getTime(),
        memberId,
      ])) > 0,

    removeFleetMember: (memberId) =>
      db.transaction(async (tx) => {
        await tx.run("DELETE FROM live_sessions WHERE member_id = ?", [memberId]);
        if ((await tx.run("DELETE FROM fleet_members WHERE member_id = ?", [memberId])) > 0)
          tx.notify({ scope: "deployment", kind: "fleet" });
      }),

    listFleetMembers: async (aliveSince) =>
      (
        await db.all(`SELECT ${MEMBER_COLUMNS} FROM fleet_members WHERE heartbeat >= ? ORDER BY member_no`, [
          aliveSince.getTime(),
        ])
      ).map(memberFromRow),
  };
}
