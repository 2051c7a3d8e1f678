/**
 * The admin commands, named and flagged as `aws iam|sts|rds …` names them. Each maps to one
 * SDK command (`create-user` -> CreateUserCommand); flags map to input members
 * (`--user-name` -> UserName).
 * @see https://docs.aws.amazon.com/cli/latest/reference/iam/
 * @see https://docs.aws.amazon.com/cli/latest/reference/sts/
 * @see https://docs.aws.amazon.com/cli/latest/reference/rds/
 */
export type ParamKind = "string" | "int" | "bool" | "strings" | "structs";

export interface ParamSpec {
  /** The flag without dashes, e.g. `user-name`. */
  readonly flag: string;
  readonly kind: ParamKind;
  readonly required?: boolean;
  /** For structs: members whose shorthand value is a list (`Values=a,b`). */
  readonly listMembers?: readonly string[];
}

export interface PaginationSpec {
  /** Result members that are the paged lists. */
  readonly lists: readonly string[];
  readonly limitMember: "MaxItems" | "MaxRecords";
  /** Smallest page the service accepts (RDS: 20). */
  readonly minPage?: number;
}

export interface CommandSpec {
  readonly service: "iam" | "sts" | "rds";
  /** `create-user` */
  readonly name: string;
  readonly params: readonly ParamSpec[];
  readonly paginate?: PaginationSpec;
}

const str = (flag: string, required = false): ParamSpec => ({ flag, kind: "string", required });
const req = (flag: string): ParamSpec => str(flag, true);
const int = (flag: string): ParamSpec => ({ flag, kind: "int" });
const bool = (flag: string): ParamSpec => ({ flag, kind: "bool" });
const strings = (flag: string, required = false): ParamSpec => ({ flag, kind: "strings", required });
const tags = (required = false): ParamSpec => ({ flag: "tags", kind: "structs", required });
const paged = (...lists: string[]): PaginationSpec => ({ lists, limitMember: "MaxItems" });

/**
 * `--user-name` -> `UserName`, with AWS's capitalised acronyms (DBInstanceIdentifier, EnableIAM…,
 * OpenIDConnectProviderArn, ClientIDList; but AccessKeyId and ProviderId keep `Id`).
 */
export function memberName(flag: string): string {
  return flag
    .split("-")
    .map((w) => (w === "db" ? "DB" : w === "iam" ? "IAM" : w.charAt(0).toUpperCase() + w.slice(1)))
    .join("")
    .replace("OpenIdConnect", "OpenIDConnect")
    .replace(/ClientId(?=List|$|To|From)/, "ClientID");
}

/** `create-user` -> `CreateUser` */
export const operationName = (name: string) => memberName(name);

function iam(name: string, params: ParamSpec[], paginate?: PaginationSpec): CommandSpec {
  return paginate === undefined
    ? { service: "iam", name, params }
    : { service: "iam", name, params, paginate };
}

/** The eight inline-policy and attachment commands, for user, group and role. */
function holderCommands(kind: "user" | "group" | "role"): CommandSpec[] {
  const owner = req(`${kind}-name`);
  const plural = `${kind}-policies`;
  return [
    iam(`put-${kind}-policy`, [owner, req("policy-name"), req("policy-document")]),
    iam(`get-${kind}-policy`, [owner, req("policy-name")]),
    iam(`delete-${kind}-policy`, [owner, req("policy-name")]),
    iam(`list-${plural}`, [owner], paged("PolicyNames")),
    iam(`attach-${kind}-policy`, [owner, req("policy-arn")]),
    iam(`detach-${kind}-policy`, [owner, req("policy-arn")]),
    iam(`list-attached-${plural}`, [owner, str("path-prefix")], paged("AttachedPolicies")),
  ];
}

const simulateParams = [
  strings("action-names", true),
  strings("resource-arns"),
  strings("permissions-boundary-policy-input-list"),
  { flag: "context-entries", kind: "structs", listMembers: ["ContextKeyValues"] } as ParamSpec,
  str("caller-arn"),
  str("resource-policy"),
];

export const COMMANDS: readonly CommandSpec[] = [
  iam("create-user", [req("user-name"), str("path"), str("permissions-boundary"), tags()]),
  iam("get-user", [str("user-name")]),
  iam("list-users", [str("path-prefix")], paged("Users")),
  iam("update-user", [req("user-name"), str("new-user-name"), str("new-path")]),
  iam("delete-user", [req("user-name")]),
  iam("tag-user", [req("user-name"), tags(true)]),
  iam("untag-user", [req("user-name"), strings("tag-keys", true)]),
  iam("list-user-tags", [req("user-name")], paged("Tags")),
  iam("put-user-permissions-boundary", [req("user-name"), req("permissions-boundary")]),
  iam("delete-user-permissions-boundary", [req("user-name")]),

  iam("create-group", [req("group-name"), str("path")]),
  iam("get-group", [req("group-name")], paged("Users")),
  iam("list-groups", [str("path-prefix")], paged("Groups")),
  iam("update-group", [req("group-name"), str("new-group-name"), str("new-path")]),
  iam("delete-group", [req("group-name")]),
  iam("add-user-to-group", [req("group-name"), req("user-name")]),
  iam("remove-user-from-group", [req("group-name"), req("user-name")]),
  iam("list-groups-for-user", [req("user-name")], paged("Groups")),

  iam("create-role", [
    req("role-name"),
    req("assume-role-policy-document"),
    str("path"),
    str("description"),
    int("max-session-duration"),
    str("permissions-boundary"),
    tags(),
  ]),
  iam("get-role", [req("role-name")]),
  iam("list-roles", [str("path-prefix")], paged("Roles")),
  iam("update-role", [req("role-name"), str("description"), int("max-session-duration")]),
  iam("delete-role", [req("role-name")]),
  iam("update-assume-role-policy", [req("role-name"), req("policy-document")]),
  iam("tag-role", [req("role-name"), tags(true)]),
  iam("untag-role", [req("role-name"), strings("tag-keys", true)]),
  iam("list-role-tags", [req("role-name")], paged("Tags")),
  iam("put-role-permissions-boundary", [req("role-name"), req("permissions-boundary")]),
  iam("delete-role-permissions-boundary", [req("role-name")]),

  iam("create-access-key", [str("user-name")]),
  iam("list-access-keys", [str("user-name")], paged("AccessKeyMetadata")),
  iam("update-access-key", [str("user-name"), req("access-key-id"), req("status")]),
  iam("delete-access-key", [str("user-name"), req("access-key-id")]),
  iam("get-access-key-last-used", [req("access-key-id")]),

  iam("create-policy", [req("policy-name"), req("policy-document"), str("path"), str("description")]),
  iam("get-policy", [req("policy-arn")]),
  iam(
    "list-policies",
    [str("scope"), bool("only-attached"), str("path-prefix"), str("policy-usage-filter")],
    paged("Policies"),
  ),
  iam("delete-policy", [req("policy-arn")]),
  iam("create-policy-version", [req("policy-arn"), req("policy-document"), bool("set-as-default")]),
  iam("get-policy-version", [req("policy-arn"), req("version-id")]),
  iam("list-policy-versions", [req("policy-arn")], paged("Versions")),
  iam("delete-policy-version", [req("policy-arn"), req("version-id")]),
  iam("set-default-policy-version", [req("policy-arn"), req("version-id")]),
  iam(
    "list-entities-for-policy",
    [req("policy-arn"), str("entity-filter"), str("path-prefix")],
    paged("PolicyGroups", "PolicyUsers", "PolicyRoles"),
  ),
  ...holderCommands("user"),
  ...holderCommands("group"),
  ...holderCommands("role"),
  iam(
    "simulate-principal-policy",
    [req("policy-source-arn"), strings("policy-input-list"), ...simulateParams],
    paged("EvaluationResults"),
  ),
  iam(
    "simulate-custom-policy",
    [strings("policy-input-list", true), ...simulateParams],
    paged("EvaluationResults"),
  ),

  iam("create-open-id-connect-provider", [
    req("url"),
    strings("client-id-list"),
    strings("thumbprint-list"),
    tags(),
  ]),
  iam("get-open-id-connect-provider", [req("open-id-connect-provider-arn")]),
  iam("list-open-id-connect-providers", []),
  iam("delete-open-id-connect-provider", [req("open-id-connect-provider-arn")]),
  iam("add-client-id-to-open-id-connect-provider", [req("open-id-connect-provider-arn"), req("client-id")]),
  iam("remove-client-id-from-open-id-connect-provider", [
    req("open-id-connect-provider-arn"),
    req("client-id"),
  ]),
  iam("update-open-id-connect-provider-thumbprint", [
    req("open-id-connect-provider-arn"),
    strings("thumbprint-list", true),
  ]),
  iam("tag-open-id-connect-provider", [req("open-id-connect-provider-arn"), tags(true)]),
  iam("untag-open-id-connect-provider", [req("open-id-connect-provider-arn"), strings("tag-keys", true)]),
  iam("list-open-id-connect-provider-tags", [req("open-id-connect-provider-arn")], paged("Tags")),

  { service: "sts", name: "get-caller-identity", params: [] },
  { service: "sts", name: "get-session-token", params: [int("duration-seconds")] },
  {
    service: "sts",
    name: "assume-role",
    params: [
      req("role-arn"),
      req("role-session-name"),
      int("duration-seconds"),
      str("policy"),
      str("external-id"),
      str("source-identity"),
    ],
  },
  {
    service: "sts",
    name: "assume-role-with-web-identity",
    params: [
      req("role-arn"),
      req("role-session-name"),
      req("web-identity-token"),
      int("duration-seconds"),
      str("policy"),
      { flag: "policy-arns", kind: "structs" },
    ],
  },

  {
    service: "rds",
    name: "describe-db-instances",
    params: [str("db-instance-identifier"), { flag: "filters", kind: "structs", listMembers: ["Values"] }],
    paginate: { lists: ["DBInstances"], limitMember: "MaxRecords", minPage: 20 },
  },
  {
    service: "rds",
    name: "modify-db-instance",
    params: [
      req("db-instance-identifier"),
      bool("enable-iam-database-authentication"),
      bool("apply-immediately"),
    ],
  },
  { service: "rds", name: "add-tags-to-resource", params: [req("resource-name"), tags(true)] },
  {
    service: "rds",
    name: "remove-tags-from-resource",
    params: [req("resource-name"), strings("tag-keys", true)],
  },
  { service: "rds", name: "list-tags-for-resource", params: [req("resource-name")] },
];
