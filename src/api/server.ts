import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { IamService } from "../iam/service.js";
import type { InstanceRegistry } from "../instances/types.js";
import { ApiError } from "./errors.js";
import { type ApiRequest, createApiHandler, errorDocument, SERVICES } from "./handler.js";
import { type HttpLimits, httpServerOptions, limitConnections } from "./http-limits.js";
import type { IamdbServices } from "./iamdb-actions.js";

export interface AdminApiOptions {
  readonly iam: IamService;
  readonly instances: InstanceRegistry;
  /** DB users and the fleet, for the `iamdb` service's actions. */
  readonly services?: IamdbServices;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly now?: () => Date;
  /** Largest request body accepted. Default 1 MiB (IAM's own limit for policy-bearing requests is far lower). */
  readonly maxBodyBytes?: number;
  readonly log?: (line: object) => void;
  /** The deployment's configured region(s): valid signing regions besides the instances' and the partition's. */
  readonly regions?: readonly string[];
  /** Connection cap and header / whole-request deadlines; {@link DEFAULT_API_LIMITS} by default. */
  readonly limits?: HttpLimits;
  /** Asked before each new connection is taken (the gateway's descriptor reserve). */
  readonly admitConnection?: () => boolean;
}

/** What `iamdb up` uses unless configured (config.api): see docs/CONFIGURATION.md. */
export const DEFAULT_API_LIMITS: HttpLimits = {
  maxConnections: 256,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
};

export interface AdminApi {
  /** `http://HOST:PORT`, ready for `--endpoint-url`. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

class BodyTooLarge extends Error {}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > limit) {
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners("data");
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function headerPairs(req: IncomingMessage): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    out.push([req.rawHeaders[i] ?? "", req.rawHeaders[i + 1] ?? ""]);
  }
  return out;
}

/** The query string's pairs, decoded the way SigV4 canonicalisation expects (`+` is a literal plus). */
function queryPairs(rawQuery: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of rawQuery.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? "" : part.slice(eq + 1);
    try {
      out.push([decodeURIComponent(k), decodeURIComponent(v)]);
    } catch {
      out.push([k, v]);
    }
  }
  return out;
}

/**
 * Starts the admin API: the IAM, STS and RDS Query-protocol subsets on one HTTP endpoint,
 * for `aws --endpoint-url`, the AWS SDKs and `iamdb iam|sts|rds`.
 */
export async function startAdminApi(options: AdminApiOptions): Promise<AdminApi> {
  const handle = createApiHandler({
    iam: options.iam,
    instances: options.instances,
    ...(options.services === undefined ? {} : { services: options.services }),
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.log === undefined ? {} : { log: options.log }),
    ...(options.regions === undefined ? {} : { regions: options.regions }),
  });
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  const limits = options.limits ?? DEFAULT_API_LIMITS;
  const server = createServer(httpServerOptions(limits), (req: IncomingMessage, res: ServerResponse) => {
    const send = (status: number, headers: Record<string, string>, body: string) => {
      res.writeHead(status, { ...headers, "content-length": String(Buffer.byteLength(body)) });
      res.end(body);
    };
    readBody(req, limit).then(
      async (body) => {
        const target = req.url ?? "/";
        const q = target.indexOf("?");
        const request: ApiRequest = {
          method: req.method ?? "GET",
          path: q < 0 ? target : target.slice(0, q),
          query: q < 0 ? [] : queryPairs(target.slice(q + 1)),
          headers: headerPairs(req),
          body,
          remoteAddress: req.socket.remoteAddress,
          secure: false,
        };
        const response = await handle(request);
        send(response.status, { ...response.headers }, response.body);
      },
      (err: unknown) => {
        if (!(err instanceof BodyTooLarge)) {
          res.destroy();
          return;
        }
        const error = new ApiError(
          "RequestEntityTooLarge",
          413,
          `The request body exceeds ${limit} bytes; send smaller policy documents or fewer parameters.`,
        );
        options.log?.({ event: "admin-api", status: 413, code: error.code });
        // Close the connection: the rest of the body is not read.
        send(
          413,
          { "content-type": "text/xml", connection: "close" },
          errorDocument(SERVICES.iam?.namespace ?? "", error, randomUUID()),
        );
      },
    );
  });
  server.keepAliveTimeout = 5000;
  limitConnections(server, limits, options.admitConnection);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.address.includes(":") ? `[${address.address}]` : address.address;
  return {
    url: `http://${hostForUrl}:${address.port}`,
    port: address.port,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
