/**
 * A small XML writer for Query-protocol responses. Element order follows object key order;
 * lists are written as repeated member elements (`<member>` for IAM/STS, a named member such as
 * `<DBInstance>` or `<Tag>` for RDS), which is what the SDKs' awsQuery deserializers read.
 * @see https://smithy.io/2.0/aws/protocols/aws-query-protocol.html#xml-shape-serialization
 */
export type XmlValue = string | number | boolean | Date | undefined | null | XmlObject | XmlList;

export interface XmlObject {
  readonly [name: string]: XmlValue;
}

export class XmlList {
  constructor(
    readonly items: readonly XmlValue[],
    readonly memberName: string = "member",
  ) {}
}

/** A list whose items are written as `<memberName>` elements. */
export function xmlList(items: readonly XmlValue[], memberName = "member"): XmlList {
  return new XmlList(items, memberName);
}

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&apos;",
  "\r": "&#xD;",
};

export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => ESCAPES[c] ?? c);
}

/** ISO 8601 in UTC without milliseconds, as AWS writes timestamps (`2026-01-01T12:00:00Z`). */
export function xmlDate(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function scalar(value: string | number | boolean | Date): string {
  if (value instanceof Date) return xmlDate(value);
  return escapeXml(String(value));
}

/** `<name>value</name>`; undefined and null members are left out. */
export function element(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return "";
  if (value instanceof XmlList) {
    return `<${name}>${value.items.map((item) => element(value.memberName, item)).join("")}</${name}>`;
  }
  if (typeof value === "object" && !(value instanceof Date)) {
    return `<${name}>${children(value)}</${name}>`;
  }
  return `<${name}>${scalar(value)}</${name}>`;
}

export function children(object: XmlObject): string {
  return Object.entries(object)
    .map(([k, v]) => element(k, v))
    .join("");
}
