import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, resolve } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

/**
 * The import boundaries of src/: which layer may import which, so the pure core stays pure and
 * the layers one-way (a layer is a folder of src/, or a few files of one where a folder has a
 * pure part). An import not in the table fails the test with the file, the import and the rule;
 * an allowed import that only a few files may use names them and says why. A new folder must be
 * added to the table.
 */
interface Layer {
  readonly name: string;
  /** Files of the layer, relative to src/: `dir/**` (everything under dir), or a path with `*` for one segment. */
  readonly files: readonly string[];
  /** Composition roots may import every layer. */
  readonly root?: true;
  /** Other layers it may import; an object limits one to a few of its files, with the reason. */
  readonly may: readonly (
    | string
    | { readonly layer: string; readonly only: readonly string[]; readonly why: string }
  )[];
  readonly why: string;
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const SRC = join(ROOT, "src");

/** First match wins: the engines' pure data is its own layer, before the rest of engines/. */
const LAYERS: readonly Layer[] = [
  {
    name: "sigv4",
    files: ["sigv4/**"],
    may: [],
    why: "pure core: SigV4 with clock and credentials passed in",
  },
  { name: "token", files: ["token/**"], may: ["sigv4"], why: "pure core: RDS auth tokens over SigV4" },
  { name: "policy", files: ["policy/**"], may: [], why: "pure core: the IAM policy language" },
  { name: "wire", files: ["wire/**"], may: [], why: "pure core: sans-I/O protocol codecs" },
  { name: "version", files: ["version.ts"], may: [], why: "reads package.json" },
  { name: "files", files: ["files/**"], may: [], why: "file modes" },
  { name: "log", files: ["log/**"], may: [], why: "the operational log" },
  {
    name: "engines-spec",
    files: ["engines/spec.ts", "engines/catalog.ts", "engines/*/spec.ts"],
    may: [],
    why: "each engine's pure data (defaults, which settings apply), read by config and the CLI without the gateway",
  },
  {
    name: "iam",
    files: ["iam/**"],
    may: ["policy"],
    why: "the control plane's model over the policy engine",
  },
  { name: "sessions", files: ["sessions/**"], may: ["iam", "log"], why: "live sessions, limits, revocation" },
  { name: "tls", files: ["tls/**"], may: ["files"], why: "listener certificates" },
  {
    name: "instances",
    files: ["instances/**"],
    may: [
      "iam",
      "tls",
      "engines-spec",
      {
        layer: "store",
        only: ["store/errors.ts"],
        why: "a deployment that cannot open says so as the store does",
      },
    ],
    why: "DB instances and their IAM-only accounts",
  },
  {
    name: "store",
    files: ["store/**"],
    may: ["iam", "instances", "sessions", "files", "log"],
    why: "repositories",
  },
  {
    name: "fleet",
    files: ["fleet/**"],
    may: ["iam", "instances", "wire"],
    why: "gateways sharing a store; cancel keys are PostgreSQL's wire format",
  },
  {
    name: "embedded",
    files: ["embedded/**"],
    may: ["wire"],
    why: "the embedded PostgreSQL server (PostgreSQL by nature), on the one PostgreSQL codec",
  },
  {
    name: "config",
    files: ["config/**"],
    may: ["instances", "sessions", "engines-spec"],
    why: "validated once; engine defaults from the engines' pure data, never the gateway or engine code",
  },
  {
    name: "gateway",
    files: ["gateway/**"],
    may: [
      "config",
      "files",
      "fleet",
      "iam",
      "instances",
      "log",
      "policy",
      "sessions",
      "token",
      "wire",
      {
        layer: "api",
        only: ["api/http-limits.ts"],
        why: "the ops endpoint takes the admin API's connection cap and deadlines",
      },
    ],
    why: "what every engine shares (listeners, login, authentication, metrics); engines are passed in, never imported",
  },
  {
    name: "engines",
    files: ["engines/**"],
    may: ["engines-spec", "gateway", "config", "fleet", "instances", "log", "token", "wire"],
    why: "one module per wire protocol over the gateway's shared parts",
  },
  {
    name: "api",
    files: ["api/**"],
    may: [
      "files",
      "iam",
      "instances",
      "policy",
      "sessions",
      "sigv4",
      "token",
      {
        layer: "engines",
        only: ["engines/admin.ts", "engines/db-users.ts"],
        why: "provisioning errors become AWS error documents",
      },
      {
        layer: "gateway",
        only: ["gateway/authenticate.ts", "gateway/explain-login.ts"],
        why: "ExplainDBLogin answers with the gateway's own checks",
      },
      {
        layer: "store",
        only: ["store/master-key.ts"],
        why: "the first administrator's profile is sealed with it",
      },
    ],
    why: "the admin API",
  },
  {
    name: "client",
    files: ["client/**"],
    may: [
      "sigv4",
      "token",
      "wire",
      "log",
      {
        layer: "gateway",
        only: ["gateway/queue.ts", "gateway/sessions.ts", "gateway/backend-socket.ts"],
        why: "iamdb proxy dials, logs in and drains as the gateway does",
      },
      {
        layer: "engines",
        only: ["engines/postgres/backend-login.ts"],
        why: "iamdb proxy logs in to its PostgreSQL target as the gateway logs in to a backend",
      },
      { layer: "api", only: ["api/http-limits.ts"], why: "the proxy's health endpoint takes the same caps" },
      {
        layer: "config",
        only: ["config/backend-tls.ts"],
        why: "isLoopbackHost: the proxy listens on loopback unless allowed",
      },
      {
        layer: "cli",
        only: ["cli/sdk.ts"],
        why: "the AWS SDK's Node-version notice is turned off before the credential chain loads",
      },
    ],
    why: "the client kit (library and iamdb proxy)",
  },
  { name: "app", files: ["app/**"], root: true, may: [], why: "composition root: iamdb up" },
  { name: "cli", files: ["cli/**"], root: true, may: [], why: "composition root: the command line" },
  {
    name: "index",
    files: ["index.ts"],
    may: ["client", "iam", "policy", "sigv4", "store", "token"],
    why: "the package's public API",
  },
];

function matches(pattern: string, file: string): boolean {
  if (pattern.endsWith("/**")) return file.startsWith(pattern.slice(0, -2));
  const p = pattern.split("/");
  const f = file.split("/");
  return p.length === f.length && p.every((seg, i) => seg === "*" || seg === f[i]);
}

export function layerOf(file: string, layers: readonly Layer[] = LAYERS): Layer | undefined {
  return layers.find((l) => l.files.some((p) => matches(p, file)));
}

export interface ImportEdge {
  /** Importing file, relative to src/ (posix). */
  readonly from: string;
  /** Imported file, relative to src/, with its .ts name. */
  readonly to: string;
}

/** Every violation of the table, one sentence each: file → import, and the rule it breaks. */
export function violations(edges: readonly ImportEdge[], layers: readonly Layer[] = LAYERS): string[] {
  const out: string[] = [];
  for (const { from, to } of edges) {
    const a = layerOf(from, layers);
    const b = layerOf(to, layers);
    if (a === undefined || b === undefined) {
      out.push(
        `${from} → ${to}: ${a === undefined ? from : to} is in no layer; add its folder to LAYERS in test/architecture/imports.test.ts with what it may import`,
      );
      continue;
    }
    if (a === b || a.root) continue;
    const rule = a.may.find((m) => (typeof m === "string" ? m : m.layer) === b.name);
    if (rule === undefined) {
      const may = a.may.map((m) => (typeof m === "string" ? m : `${m.layer} (${m.only.join(", ")})`));
      out.push(
        `${from} → ${to}: layer ${a.name} (${a.why}) must not import layer ${b.name}; it may import ${may.length === 0 ? "nothing outside itself" : may.join(", ")}`,
      );
    } else if (typeof rule !== "string" && !rule.only.includes(to)) {
      out.push(
        `${from} → ${to}: layer ${a.name} may import only ${rule.only.join(", ")} of layer ${b.name} (${rule.why})`,
      );
    }
  }
  return out;
}

/** The relative imports of every src/**\/*.ts, static, re-exports, side-effect and dynamic. */
function importGraph(): ImportEdge[] {
  const files = readdirSync(SRC, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => f.split("\\").join("/"));
  const edges: ImportEdge[] = [];
  for (const from of files) {
    const info = ts.preProcessFile(readFileSync(join(SRC, from), "utf8"), true, true);
    for (const { fileName } of info.importedFiles) {
      if (!fileName.startsWith(".")) continue;
      const to = posix.normalize(posix.join(posix.dirname(from), fileName)).replace(/\.js$/, ".ts");
      edges.push({ from, to });
    }
  }
  return edges;
}

describe("architecture-imports: layer boundaries of src/", () => {
  const edges = importGraph();

  test("architecture-imports: the import graph is read (relative imports of src/ found)", () => {
    assert.ok(
      edges.some((e) => e.from === "gateway/gateway.ts" && e.to === "gateway/listener.ts"),
      "gateway/gateway.ts → gateway/listener.ts not found: the import reader is broken",
    );
    assert.ok(
      edges.some((e) => e.from === "app/start.ts" && e.to === "engines/registry.ts"),
      "app/start.ts → engines/registry.ts not found: the import reader is broken",
    );
  });

  test("architecture-imports: every import of src/ follows the layer table", () => {
    const found = violations(edges);
    assert.deepEqual(found, [], `imports that break the layer table:\n  ${found.join("\n  ")}`);
  });

  test("architecture-imports: every layer's allowed imports name layers of the table", () => {
    const names = new Set(LAYERS.map((l) => l.name));
    for (const l of LAYERS)
      for (const m of l.may) {
        const name = typeof m === "string" ? m : m.layer;
        assert.ok(names.has(name), `layer ${l.name} may import "${name}", which is no layer`);
      }
  });

  test("architecture-imports: a breaking import is reported with file, import and rule", () => {
    const found = violations([
      { from: "sigv4/presign.ts", to: "gateway/gateway.ts" },
      { from: "gateway/gateway.ts", to: "engines/registry.ts" },
      { from: "config/load.ts", to: "engines/postgres/engine.ts" },
      { from: "config/load.ts", to: "engines/postgres/spec.ts" },
      { from: "api/errors.ts", to: "engines/registry.ts" },
      { from: "nowhere/x.ts", to: "sigv4/index.ts" },
      { from: "cli/main.ts", to: "app/start.ts" },
    ]);
    assert.equal(found.length, 5, found.join("\n"));
    assert.match(
      found[0] ?? "",
      /^sigv4\/presign\.ts → gateway\/gateway\.ts: layer sigv4 .* must not import layer gateway; it may import nothing outside itself$/,
    );
    assert.match(
      found[1] ?? "",
      /^gateway\/gateway\.ts → engines\/registry\.ts: layer gateway .* must not import layer engines/,
    );
    assert.match(
      found[2] ?? "",
      /^config\/load\.ts → engines\/postgres\/engine\.ts: layer config .* must not import layer engines; it may import .*engines-spec/,
    );
    assert.match(
      found[3] ?? "",
      /^api\/errors\.ts → engines\/registry\.ts: layer api may import only engines\/admin\.ts, engines\/db-users\.ts of layer engines/,
    );
    assert.match(found[4] ?? "", /^nowhere\/x\.ts → sigv4\/index\.ts: nowhere\/x\.ts is in no layer/);
  });
});
