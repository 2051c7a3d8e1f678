/** AWS credentials as every AWS tool names them. */
export interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Present for temporary (STS) credentials; it is signed into the request. */
  sessionToken?: string | undefined;
}

/**
 * A request to sign. `path` and the query pairs are given decoded: the canonical form
 * percent-encodes them exactly once (RFC 3986 unreserved set).
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
export interface SignableRequest {
  method: string;
  path: string;
  query: ReadonlyArray<readonly [string, string]>;
  headers: ReadonlyArray<readonly [string, string]>;
  body?: string | Uint8Array | undefined;
}

export interface Scope {
  /** YYYYMMDD */
  date: string;
  region: string;
  service: string;
}

export interface SigningParams {
  credentials: Credentials;
  region: string;
  service: string;
  signingDate: Date;
  /** Remove dot segments and duplicate slashes from the path (every service but S3). Default true. */
  normalizePath?: boolean;
  /**
   * Sign the session token (the default, what current SDKs do) or add it after signing
   * (what some older STS clients did). Absent credentials.sessionToken, ignored.
   */
  sessionTokenSigned?: boolean;
}

export interface SignatureParts {
  canonicalRequest: string;
  stringToSign: string;
  signature: string;
}
