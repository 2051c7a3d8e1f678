import { uriEncodePath } from "./encoding.js";

/**
 * The canonical URI: with normalization (every service but S3) dot segments are removed
 * (RFC 3986 section 5.2.4) and empty segments collapsed; a trailing slash is kept.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html#create-canonical-request
 */
export function canonicalPath(path: string, normalize: boolean): string {
  if (path === "") return "/";
  if (!normalize) return uriEncodePath(path);
  const out: string[] = [];
  const segments = path.split("/");
  for (const segment of segments) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") out.pop();
    else out.push(segment);
  }
  const last = segments[segments.length - 1];
  const trailing = out.length > 0 && (last === "" || last === "." || last === "..");
  return uriEncodePath(`/${out.join("/")}${trailing ? "/" : ""}`);
}
