// Authorization decision latency with a large store: 10,000 users, ~50,000 policy
// statements, every user in 2 of 100 groups. One decision = what the gateway does per
// login after the signature: look up the key, build the principal's policy set, evaluate
// rds-db:connect. Cold = the first decision for a principal (key, policy graph not cached)
// in a warmed-up process; cached = the same principals again.
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createIamService, evaluate, type IamService, openSqliteStore } from "iamdb";

const ACCOUNT = "123456789012";
const DBI = "db-ABCDEFGHIJKLMNOPQRSTUVWXYZ";

export interface LatencyStats {
  samples: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface AuthzResult {
  users: number;
  groups: number;
  statements: number;
  setupSeconds: number;
  cold: LatencyStats;
  cached: LatencyStats;
  allowed: number;
}

const doc = (statements: object[]) => JSON.stringify({ Version: "2012-10-17", Statement: statements });

function userStatements(i: number): object[] {
  const name = `user${i}`;
  return [
    {
      Effect: "Allow",
      Action: "rds-db:connect",
      Resource: `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/${name}`,
    },
    {
      Effect: "Allow",
      Action: "rds-db:connect",
      Resource: `arn:aws:rds-db:*:${ACCOUNT}:dbuser:*/${name}_ro`,
      Condition: { IpAddress: { "aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16"] } },
    },
    {
      Effect: "Deny",
      Action: "rds-db:connect",
      Resource: `arn:aws:rds-db:us-west-2:${ACCOUNT}:dbuser:*/${name}`,
    },
    { Effect: "Allow", Action: ["rds:Describe*", "rds:ListTagsForResource"], Resource: "*" },
  ];
}

function groupStatements(g: number, count: number): object[] {
  return Array.from({ length: count }, (_, s) => ({
    Sid: `G${g}S${s}`,
    Effect: s % 7 === 0 ? "Deny" : "Allow",
    Action: "rds-db:connect",
    Resource: `arn:aws:rds-db:eu-west-${s % 3}:${ACCOUNT}:dbuser:db-TEAM${g}X${s}*/app_*`,
    Condition: { StringEquals: { "aws:PrincipalTag/team": `team${g}` } },
  }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? 0;
}

function stats(samples: number[]): LatencyStats {
  const sorted = [...samples].sort((a, b) => a - b);
  return {
    samples: sorted.length,
    p50Ms: percentile(sorted, 50),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted.at(-1) ?? 0,
  };
}

async function decide(iam: IamService, accessKeyId: string, dbUser: string): Promise<boolean> {
  const credential = await iam.lookupCredential(accessKeyId);
  if (!credential) throw new Error(`bench: key ${accessKeyId} not found`);
  const set = await iam.policySetFor(credential.principal);
  if (!set) throw new Error("bench: no policy set");
  const decision = evaluate(
    {
      action: "rds-db:connect",
      resource: `arn:aws:rds-db:us-east-1:${ACCOUNT}:dbuser:${DBI}/${dbUser}`,
      principal: set.principal,
      context: { "aws:SourceIp": "10.1.2.3", "aws:SecureTransport": true },
      now: new Date(),
    },
    set.policies,
  );
  return decision.decision === "allowed";
}

export async function benchAuthz(quick: boolean): Promise<AuthzResult> {
  const users = 10_000;
  const groups = 100;
  const samples = quick ? 1_000 : 4_000;
  if (samples + 1_000 > users) throw new Error("bench: not enough users for warm-up and samples");
  // tmpfs when there is one: the store fsyncs every commit, and setup is not what is measured.
  const base = existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const dir = mkdtempSync(join(base, "iamdb-bench-"));
  const masterKey = randomBytes(32);
  const open = () =>
    createIamService({ repository: openSqliteStore({ dataDir: dir }), masterKey, accountId: ACCOUNT });
  try {
    const started = performance.now();
    const setup = open();
    let statements = 0;
    const managed: string[] = [];
    for (let m = 0; m < 300; m++) {
      const body = groupStatements(1000 + m, 25);
      statements += body.length;
      managed.push((await setup.createPolicy({ policyName: `shared-${m}`, policyDocument: doc(body) })).arn);
    }
    for (let g = 0; g < groups; g++) {
      await setup.createGroup({ groupName: `team${g}` });
      const body = groupStatements(g, 20);
      statements += body.length;
      await setup.putGroupPolicy({ groupName: `team${g}`, policyName: "inline", policyDocument: doc(body) });
      for (let a = 0; a < 3; a++) {
        await setup.attachGroupPolicy({
          groupName: `team${g}`,
          policyArn: managed[(g * 3 + a) % managed.length] as string,
        });
      }
    }
    const keys: Array<[string, string]> = [];
    for (let i = 0; i < users; i++) {
      const userName = `user${i}`;
      await setup.createUser({ userName, tags: [{ key: "team", value: `team${i % groups}` }] });
      const body = userStatements(i);
      statements += body.length;
      await setup.putUserPolicy({ userName, policyName: "own", policyDocument: doc(body) });
      await setup.addUserToGroup({ groupName: `team${i % groups}`, userName });
      await setup.addUserToGroup({ groupName: `team${(i * 7 + 1) % groups}`, userName });
      keys.push([(await setup.createAccessKey({ userName })).accessKeyId, userName]);
    }
    await setup.close();
    const setupSeconds = (performance.now() - started) / 1000;

    const iam = open();
    const picks = Array.from(
      { length: samples },
      (_, i) => keys[(i * 7919) % keys.length] as [string, string],
    );
    const timeAll = async () => {
      const out: number[] = [];
      let allowed = 0;
      for (const [key, user] of picks) {
        const t = performance.now();
        if (await decide(iam, key, user)) allowed++;
        out.push(performance.now() - t);
      }
      return { out, allowed };
    };
    // Warm the process (JIT, shared policies) on principals outside the sample, so "cold"
    // measures a cache miss for a principal, not the first seconds of the process.
    const picked = new Set(picks.map(([key]) => key));
    for (const [key, user] of keys.filter(([k]) => !picked.has(k)).slice(0, 1000))
      await decide(iam, key, user);
    const cold = await timeAll();
    const cached = await timeAll();
    await iam.close();
    return {
      users,
      groups,
      statements,
      setupSeconds,
      cold: stats(cold.out),
      cached: stats(cached.out),
      allowed: cached.allowed,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
