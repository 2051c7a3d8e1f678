/**
 * ARN construction and parsing for the one account this deployment serves.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
 */
export interface AccountConfig {
  /** 12-digit account id that appears in every ARN. */
  readonly accountId: string;
  /** ARN partition: `aws`, `aws-cn`, `aws-us-gov`, … */
  readonly partition: string;
}

export function userArn(a: AccountConfig, path: string, name: string): string {
  return `arn:${a.partition}:iam::${a.accountId}:user${path}${name}`;
}

export function groupArn(a: AccountConfig, path: string, name: string): string {
  return `arn:${a.partition}:iam::${a.accountId}:group${path}${name}`;
}

export function roleArn(a: AccountConfig, path: string, name: string): string {
  return `arn:${a.partition}:iam::${a.accountId}:role${path}${name}`;
}

export function policyArn(a: AccountConfig, path: string, name: string): string {
  return `arn:${a.partition}:iam::${a.accountId}:policy${path}${name}`;
}

/** The assumed-role ARN carries no role path. @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns */
export function assumedRoleArn(a: AccountConfig, roleName: string, sessionName: string): string {
  return `arn:${a.partition}:sts::${a.accountId}:assumed-role/${roleName}/${sessionName}`;
}

export function accountRootArn(a: AccountConfig): string {
  return `arn:${a.partition}:iam::${a.accountId}:root`;
}

export interface ParsedIamArn {
  readonly kind: "user" | "group" | "role" | "policy";
  readonly path: string;
  readonly name: string;
}

/**
 * Parses `arn:PARTITION:iam::ACCOUNT:KIND/PATH/NAME` for this account; undefined when the ARN
 * is malformed, of another kind, or names another account or partition.
 */
export function parseIamArn(a: AccountConfig, arn: string): ParsedIamArn | undefined {
  const prefix = `arn:${a.partition}:iam::${a.accountId}:`;
  if (!arn.startsWith(prefix)) return undefined;
  const rest = arn.slice(prefix.length);
  const slash = rest.indexOf("/");
  if (slash < 0) return undefined;
  const kind = rest.slice(0, slash);
  if (kind !== "user" && kind !== "group" && kind !== "role" && kind !== "policy") return undefined;
  const resource = rest.slice(slash);
  const last = resource.lastIndexOf("/");
  const name = resource.slice(last + 1);
  if (name.length === 0) return undefined;
  return { kind, path: resource.slice(0, last + 1), name };
}
