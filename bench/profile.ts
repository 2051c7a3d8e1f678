// Reads a V8 .cpuprofile (what `node --cpu-prof` and the inspector's Profiler.stop write) and
// says where the time went: by category, the top functions by self time, and iamdb's own
// functions by inclusive time. Time spent in C++ with no JavaScript on the stack (OpenSSL
// record encryption inside TLSWrap, libuv syscalls) shows up as "(program)".
// @see https://chromedevtools.github.io/devtools-protocol/tot/Profiler/#type-Profile

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileEntry {
  fn: string;
  ms: number;
  /** Share of the non-idle time. */
  pct: number;
}

export interface ProfileSummary {
  wallMs: number;
  busyMs: number;
  /** Self time by where the code lives. */
  categories: Record<string, number>;
  topSelf: ProfileEntry[];
  /** iamdb's own functions (src/), time including their callees. */
  topIamdbInclusive: ProfileEntry[];
}

/**
 * The stream handle's native write methods: V8 charges them everything below (TLS record
 * encryption, the send syscall and, on loopback, the kernel delivering to the peer and waking
 * it), which a per-process `perf` shows to be mostly kernel time.
 */
const NATIVE_WRITES = new Set([
  "writeBuffer",
  "writev",
  "writeUtf8String",
  "writeLatin1String",
  "writeAsciiString",
]);

function category(url: string, fn: string): string {
  if (fn === "(idle)") return "idle";
  if (url === "" && NATIVE_WRITES.has(fn)) return "socket writes (TLS encrypt, send syscall, kernel)";
  if (fn === "(garbage collector)") return "gc";
  if (fn === "(program)" || fn === "(root)") return "native (TLS crypto, syscalls)";
  if (url.includes("/node_modules/")) return "dependencies";
  if (url.includes("/src/") || url.includes("/bench/")) return "iamdb";
  return "node core (net, tls, streams)";
}

function label(n: ProfileNode): string {
  // No line numbers: tsx-transpiled sources report line 1 for everything without source maps.
  const { functionName, url } = n.callFrame;
  const file = url.replace(/^.*\/(src|node_modules)\//, "$1/").replace(/^node:internal\//, "node:");
  return `${functionName || "(anonymous)"}${file ? ` ${file}` : ""}`;
}

export function summarizeProfile(profile: CpuProfile, top = 12): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const categories: Record<string, number> = {};
  let wall = 0;
  let idle = 0;
  profile.samples.forEach((id, i) => {
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    wall += ms;
    const node = byId.get(id);
    if (!node) return;
    const cat = category(node.callFrame.url, node.callFrame.functionName);
    categories[cat] = (categories[cat] ?? 0) + ms;
    if (cat === "idle") {
      idle += ms;
      return;
    }
    const key = label(node);
    self.set(key, (self.get(key) ?? 0) + ms);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n?.callFrame.url.includes("/src/")) continue;
      const k = label(n);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + ms);
    }
  });
  const busy = wall - idle;
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, ms]) => ({ fn, ms: Math.round(ms), pct: busy > 0 ? (100 * ms) / busy : 0 }));
  for (const k of Object.keys(categories)) categories[k] = Math.round(categories[k] ?? 0);
  return {
    wallMs: Math.round(wall),
    busyMs: Math.round(busy),
    categories,
    topSelf: rank(self),
    topIamdbInclusive: rank(inclusive),
  };
}
