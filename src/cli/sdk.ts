/**
 * The AWS SDK for JavaScript prints a `NodeVersionSupportWarning` on stderr, once per
 * process, at the first client it builds on Node < 22 (its releases after January 2027 will
 * need Node 22). iamdb supports Node 20 and later, and our commands' output must stay
 * aws-shaped, so we switch off that one warning with the SDK's own opt-out variable before
 * building a client or credential provider; every other warning still shows. A value the
 * user set is kept.
 * @see node_modules/@aws-sdk/core/dist-es/submodules/client/emitWarningIfUnsupportedVersion.js
 */
export function quietSdkNodeVersionWarning(): void {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
}
