import { webcrypto } from "node:crypto";

type X509Module = typeof import("@peculiar/x509");

type MetadataKey = unknown;
type Store = Map<PropertyKey | undefined, Map<MetadataKey, unknown>>;

/**
 * The Reflect metadata calls tsyringe needs (@peculiar/x509 depends on tsyringe, which throws at
 * import time without them). `reflect-metadata` is not a dependency, and these three functions
 * are all that tsyringe calls, so they are provided here instead, only when nothing else has.
 * @see https://github.com/PeculiarVentures/x509#%EF%B8%8F-reflect-polyfill-required
 */
function installReflectMetadata(): void {
  const reflect = Reflect as unknown as Record<string, unknown>;
  if (typeof reflect.getMetadata === "function") return;
  const stores = new WeakMap<object, Store>();
  const own = (target: object, prop: PropertyKey | undefined, create: boolean) => {
    let store = stores.get(target);
    if (store === undefined) {
      if (!create) return undefined;
      store = new Map();
      stores.set(target, store);
    }
    let entries = store.get(prop);
    if (entries === undefined && create) {
      entries = new Map();
      store.set(prop, entries);
    }
    return entries;
  };
  const getOwnMetadata = (key: MetadataKey, target: object, prop?: PropertyKey) =>
    own(target, prop, false)?.get(key);
  const getMetadata = (key: MetadataKey, target: object, prop?: PropertyKey): unknown => {
    for (let t: object | null = target; t !== null; t = Object.getPrototypeOf(t)) {
      const entries = own(t, prop, false);
      if (entries?.has(key)) return entries.get(key);
    }
    return undefined;
  };
  const defineMetadata = (key: MetadataKey, value: unknown, target: object, prop?: PropertyKey) => {
    own(target, prop, true)?.set(key, value);
  };
  Object.assign(reflect, { getMetadata, getOwnMetadata, defineMetadata });
}

let loaded: Promise<X509Module> | undefined;

/**
 * @peculiar/x509 wired to Node's WebCrypto. Loaded lazily so the Reflect functions exist before
 * the library (and tsyringe) is evaluated; import it only through here.
 */
export function loadX509(): Promise<X509Module> {
  loaded ??= (async () => {
    installReflectMetadata();
    const x509 = await import("@peculiar/x509");
    x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
    return x509;
  })();
  return loaded;
}
