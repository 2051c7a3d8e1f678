import { IAMDB_API_VERSION } from "../../api/iamdb-actions.js";
import { signRequest } from "../../sigv4/sign-request.js";
import { UserError } from "../errors.js";
import type { Connection } from "./connection.js";

/** An element of a Query-protocol response: its text, or its children by name (in order). */
export interface XmlNode {
  readonly name: string;
  readonly text: string;
  readonly children: XmlNode[];
}

const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|[a-z]+);/g, (m, e: string) =>
    e.startsWith("#x")
      ? String.fromCodePoint(Number.parseInt(e.slice(2), 16))
      : e.startsWith("#")
        ? String.fromCodePoint(Number.parseInt(e.slice(1), 10))
        : (ENTITIES[e] ?? m),
  );
}

/**
 * Reads the XML our own admin API writes (elements, text, entities; no attributes beyond
 * xmlns, no CDATA, no comments): enough for the `iamdb` service's responses, not general XML.
 */
export function readXml(xml: string): XmlNode {
  const root: XmlNode = { name: "#document", text: "", children: [] };
  const stack: Array<{ node: XmlNode; text: string[] }> = [{ node: root, text: [] }];
  const tag = /<(\/?)([A-Za-z_][\w.-]*)[^>]*?(\/?)>|([^<]+)/g;
  for (let m = tag.exec(xml); m !== null; m = tag.exec(xml)) {
    const top = stack[stack.length - 1] as { node: XmlNode; text: string[] };
    if (m[4] !== undefined) {
      top.text.push(m[4]);
    } else if (m[1] === "/") {
      const done = stack.pop() as { node: XmlNode; text: string[] };
      (done.node as { text: string }).text = decodeEntities(done.text.join(""));
    } else {
      const node: XmlNode = { name: m[2] as string, text: "", children: [] };
      top.node.children.push(node);
      if (m[3] !== "/") stack.push({ node, text: [] });
    }
  }
  return root;
}

export function child(node: XmlNode, name: string): XmlNode | undefined {
  return node.children.find((c) => c.name === name);
}

/** Raised for an error document from the admin API: its code and message, as `aws` prints them. */
export class IamdbApiError extends UserError {
  constructor(
    readonly code: string,
    message: string,
    action: string,
  ) {
    super(`An error occurred (${code}) when calling the ${action} operation: ${message}`);
  }
}

/**
 * Calls an action of the admin API's `iamdb` service (or another of its services): a form POST
 * signed with SigV4, as the AWS SDKs sign the IAM ones. Returns the `<ActionResult>` element.
 */
export async function callIamdb(
  connection: Connection,
  action: string,
  params: Readonly<Record<string, string>>,
  service: { name: string; version: string } = { name: "iamdb", version: IAMDB_API_VERSION },
): Promise<XmlNode> {
  const url = new URL(connection.endpoint);
  const body = new URLSearchParams({ Action: action, Version: service.version, ...params }).toString();
  const signed = signRequest(
    {
      method: "POST",
      path: url.pathname || "/",
      query: [],
      headers: [
        ["Host", url.host],
        ["Content-Type", "application/x-www-form-urlencoded; charset=utf-8"],
      ],
      body,
    },
    {
      credentials: connection.credentials,
      region: connection.region,
      service: service.name,
      signingDate: new Date(),
    },
  );
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: signed.headers.filter(([k]) => k.toLowerCase() !== "host"),
      body,
    });
  } catch (err) {
    throw new UserError(
      `cannot reach the iamdb admin API at ${connection.endpoint}: ${(err as Error).cause ?? (err as Error).message}; is iamdb running? (\`iamdb status\`)`,
    );
  }
  const doc = readXml(await response.text());
  const error = child(child(doc, "ErrorResponse") ?? doc, "Error");
  if (!response.ok || error !== undefined) {
    throw new IamdbApiError(
      (error && child(error, "Code")?.text) ?? `HTTP ${response.status}`,
      (error && child(error, "Message")?.text) ?? "the admin API refused the request",
      action,
    );
  }
  const envelope = child(doc, `${action}Response`);
  return (
    (envelope && child(envelope, `${action}Result`)) ?? { name: `${action}Result`, text: "", children: [] }
  );
}
