import { isIP } from "node:net";
import type { Config } from "./types.js";

/** 127.0.0.0/8, ::1 (also IPv4-mapped), `localhost` and its subdomains (RFC 6761 §6.3), or a Unix socket directory. */
export function isLoopbackHost(host: string): boolean {
  const h = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, "")
    .replace(/\.$/, "");
  if (h.startsWith("/")) return true;
  if (h === "localhost" || h.endsWith(".localhost")) return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  if (isIP(v4) === 4) return v4.startsWith("127.");
  if (isIP(h) === 6) return new URL(`http://[${h}]/`).hostname === "[::1]";
  return false;
}

/**
 * One warning line per instance whose backend is reached in plaintext over the network:
 * gateway → backend traffic (the backend login with its gateway-held password, then every
 * query) is only encrypted when `backend.tls` says so. Loopback backends are not warned
 * about; a host name is not resolved, so only `localhost` names count as loopback.
 */
export function plaintextBackendWarnings(config: Pick<Config, "instances">): string[] {
  return config.instances.flatMap((i) => {
    const b = i.backend;
    if (b.type !== "server" || b.tls !== "disable" || isLoopbackHost(b.host)) return [];
    return [
      `iamdb: warning: instance ${i.identifier} reaches its backend ${b.host}:${b.port} without TLS: ` +
        "the gateway's DB password and every query cross the network in plaintext; " +
        `set "backend": {"tls": "verify-full", "caFile": ...} (or "require") for it in the configuration`,
    ];
  });
}
