/**
 * Percent-encoding as SigV4 defines it: every byte outside the RFC 3986 unreserved set
 * (A-Z a-z 0-9 - _ . ~) becomes %XX with upper-case hex, over the UTF-8 bytes.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#create-canonical-request
 */
const UNRESERVED = /^[A-Za-z0-9\-_.~]*$/;

export class EncodingError extends Error {
  constructor(what: string) {
    super(`${what} is not valid Unicode (it contains an unpaired surrogate); pass a well-formed string`);
    this.name = "EncodingError";
  }
}

export function uriEncode(value: string): string {
  if (UNRESERVED.test(value)) return value;
  let encoded: string;
  try {
    encoded = encodeURIComponent(value);
  } catch {
    throw new EncodingError("a value to sign");
  }
  // encodeURIComponent leaves !'()* alone; RFC 3986 reserves them.
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Encodes each path segment, keeping the slashes that separate them. */
export function uriEncodePath(path: string): string {
  return path.split("/").map(uriEncode).join("/");
}
