/**
 * Versioned schema changes, applied in order and recorded in `schema_migrations`. Never edit a
 * released migration: add a new one. The DDL is portable between SQLite and PostgreSQL
 * (BIGINT has INTEGER affinity in SQLite); a migration may give per-dialect text when not.
 * Times are epoch milliseconds. Secrets and session tokens are sealed (AES-256-GCM) text.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string | { readonly sqlite: string; readonly postgres: string };
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "iam model",
    sql: `
CREATE TABLE managed_policies (
  policy_id          TEXT PRIMARY KEY,
  policy_name        TEXT NOT NULL,
  name_key           TEXT NOT NULL UNIQUE,
  path               TEXT NOT NULL,
  description        TEXT,
  default_version_id TEXT NOT NULL,
  next_version       BIGINT NOT NULL,
  create_date        BIGINT NOT NULL,
  update_date        BIGINT NOT NULL
);
CREATE TABLE policy_versions (
  policy_id   TEXT NOT NULL REFERENCES managed_policies(policy_id) ON DELETE CASCADE,
  version_id  TEXT NOT NULL,
  document    TEXT NOT NULL,
  create_date BIGINT NOT NULL,
  PRIMARY KEY (policy_id, version_id)
);
CREATE TABLE users (
  user_id            TEXT PRIMARY KEY,
  user_name          TEXT NOT NULL,
  name_key           TEXT NOT NULL UNIQUE,
  path               TEXT NOT NULL,
  create_date        BIGINT NOT NULL,
  tags               TEXT NOT NULL,
  boundary_policy_id TEXT REFERENCES managed_policies(policy_id)
);
CREATE INDEX users_boundary ON users(boundary_policy_id);
CREATE TABLE iam_groups (
  group_id    TEXT PRIMARY KEY,
  group_name  TEXT NOT NULL,
  name_key    TEXT NOT NULL UNIQUE,
  path        TEXT NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE TABLE group_members (
  group_id TEXT NOT NULL REFERENCES iam_groups(group_id),
  user_id  TEXT NOT NULL REFERENCES users(user_id),
  PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user ON group_members(user_id);
CREATE TABLE roles (
  role_id              TEXT PRIMARY KEY,
  role_name            TEXT NOT NULL,
  name_key             TEXT NOT NULL UNIQUE,
  path                 TEXT NOT NULL,
  create_date          BIGINT NOT NULL,
  trust_policy         TEXT NOT NULL,
  description          TEXT,
  max_session_duration BIGINT NOT NULL,
  tags                 TEXT NOT NULL,
  boundary_policy_id   TEXT REFERENCES managed_policies(policy_id)
);
CREATE INDEX roles_boundary ON roles(boundary_policy_id);
CREATE TABLE access_keys (
  access_key_id     TEXT PRIMARY KEY,
  user_id           TEXT NOT NULL REFERENCES users(user_id),
  secret            TEXT NOT NULL,
  status            TEXT NOT NULL CHECK (status IN ('Active', 'Inactive')),
  create_date       BIGINT NOT NULL,
  last_used_date    BIGINT,
  last_used_service TEXT,
  last_used_region  TEXT
);
CREATE INDEX access_keys_user ON access_keys(user_id);
CREATE TABLE sessions (
  access_key_id  TEXT PRIMARY KEY,
  secret         TEXT NOT NULL,
  session_token  TEXT NOT NULL,
  subject_kind   TEXT NOT NULL CHECK (subject_kind IN ('user', 'role')),
  subject_id     TEXT NOT NULL,
  session_name   TEXT,
  session_policy TEXT,
  create_date    BIGINT NOT NULL,
  expires_at     BIGINT NOT NULL
);
CREATE INDEX sessions_subject ON sessions(subject_id);
CREATE INDEX sessions_expiry ON sessions(expires_at);
CREATE TABLE inline_policies (
  owner_kind  TEXT NOT NULL CHECK (owner_kind IN ('user', 'group', 'role')),
  owner_id    TEXT NOT NULL,
  name_key    TEXT NOT NULL,
  policy_name TEXT NOT NULL,
  document    TEXT NOT NULL,
  PRIMARY KEY (owner_kind, owner_id, name_key)
);
CREATE TABLE policy_attachments (
  owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'group', 'role')),
  owner_id   TEXT NOT NULL,
  policy_id  TEXT NOT NULL REFERENCES managed_policies(policy_id),
  PRIMARY KEY (owner_kind, owner_id, policy_id)
);
CREATE INDEX policy_attachments_policy ON policy_attachments(policy_id);
`,
  },
  {
    version: 2,
    name: "session policy arns and session tags",
    // JSON text, NULL when the session has none (every session created before this version).
    sql: `
ALTER TABLE sessions ADD COLUMN session_policy_arns TEXT;
ALTER TABLE sessions ADD COLUMN session_tags TEXT;
ALTER TABLE sessions ADD COLUMN transitive_tag_keys TEXT;
`,
  },
  {
    version: 3,
    name: "trust policy principals bound to unique ids",
    // JSON object ARN -> unique id; NULL for trust policies saved before this version (iamdb
    // binds them at their next use).
    sql: `
ALTER TABLE roles ADD COLUMN trust_principal_ids TEXT;
`,
  },
  {
    version: 4,
    name: "deployment state: instances, DB accounts, TLS authority, fleet members, store facts",
    // The config file declares instances (identity = identifier); these rows hold what changes
    // or must be the same on every gateway sharing the store. Sealed values use the master key.
    sql: `
CREATE TABLE db_instances (
  identifier       TEXT PRIMARY KEY,
  dbi_resource_id  TEXT NOT NULL UNIQUE,
  iam_auth_enabled BIGINT NOT NULL,
  tags             TEXT NOT NULL,
  create_date      BIGINT NOT NULL
);
CREATE TABLE db_accounts (
  instance        TEXT NOT NULL,
  username        TEXT NOT NULL,
  sealed_password TEXT NOT NULL,
  create_date     BIGINT NOT NULL,
  rotate_date     BIGINT NOT NULL,
  PRIMARY KEY (instance, username)
);
CREATE TABLE tls_authorities (
  name        TEXT PRIMARY KEY,
  cert_pem    TEXT NOT NULL,
  sealed_key  TEXT NOT NULL,
  create_date BIGINT NOT NULL
);
CREATE TABLE store_facts (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE fleet_members (
  member_id   TEXT PRIMARY KEY,
  member_no   BIGINT NOT NULL UNIQUE,
  info        TEXT NOT NULL,
  started     BIGINT NOT NULL,
  heartbeat   BIGINT NOT NULL
);
`,
  },
  {
    version: 5,
    name: "live sessions and their termination commands",
    // Written by the gateway holding each session; a member's rows go when its heartbeat does.
    // Commands are kept a few minutes, long enough for every gateway to read them.
    sql: `
CREATE TABLE live_sessions (
  session_id    TEXT PRIMARY KEY,
  member_id     TEXT NOT NULL,
  instance      TEXT NOT NULL,
  principal_arn TEXT NOT NULL,
  access_key_id TEXT NOT NULL,
  db_user       TEXT NOT NULL,
  info          TEXT NOT NULL,
  started       BIGINT NOT NULL
);
CREATE INDEX live_sessions_member ON live_sessions(member_id);
CREATE INDEX live_sessions_principal ON live_sessions(principal_arn);
CREATE TABLE session_commands (
  command_id   TEXT PRIMARY KEY,
  filter       TEXT NOT NULL,
  requested_by TEXT NOT NULL,
  created      BIGINT NOT NULL
);
`,
  },
  {
    version: 6,
    name: "OpenID Connect providers and web-identity sessions",
    // Self-contained: one table for the IAM OIDC providers (URL without https:// as the key;
    // client ids, thumbprints and tags as JSON text; an optional static JWKS) and the claims of
    // AssumeRoleWithWebIdentity sessions (JSON, NULL for every other session).
    sql: `
CREATE TABLE oidc_providers (
  url         TEXT PRIMARY KEY,
  client_ids  TEXT NOT NULL,
  thumbprints TEXT NOT NULL,
  tags        TEXT NOT NULL,
  static_jwks TEXT,
  create_date BIGINT NOT NULL
);
ALTER TABLE sessions ADD COLUMN web_identity TEXT;
`,
  },
];

export function migrationSql(m: Migration, dialect: "sqlite" | "postgres"): string {
  return typeof m.sql === "string" ? m.sql : m.sql[dialect];
}
