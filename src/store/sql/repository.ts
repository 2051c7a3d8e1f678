import type { IamRepository } from "../../iam/repository.js";
import type { DeploymentRepository } from "../../instances/repository.js";
import type { SessionRepository } from "../../sessions/types.js";
import { accessKeyQueries, sessionQueries } from "./access-keys.js";
import { attachmentQueries } from "./attachments.js";
import { deploymentQueries } from "./deployment.js";
import type { SqlDriver } from "./driver.js";
import { graphQueries } from "./graph.js";
import { groupQueries } from "./groups.js";
import { oidcProviderQueries } from "./oidc-providers.js";
import { policyQueries } from "./policies.js";
import { roleQueries } from "./roles.js";
import { liveSessionQueries } from "./sessions.js";
import { userQueries } from "./users.js";

/**
 * The IAM repository (and the deployment state beside it) over any SQL driver. Both stores share this code, so SQLite and
 * PostgreSQL answer every question identically; only connection handling, locking, migrations
 * and change notification differ (see sqlite/ and postgres/).
 */
export type StoreRepository = IamRepository & DeploymentRepository & SessionRepository;

export function createSqlRepository(db: SqlDriver): StoreRepository {
  return {
    ...deploymentQueries(db),
    ...liveSessionQueries(db),
    ...userQueries(db),
    ...groupQueries(db),
    ...roleQueries(db),
    ...accessKeyQueries(db),
    ...sessionQueries(db),
    ...oidcProviderQueries(db),
    ...policyQueries(db),
    ...attachmentQueries(db),
    ...graphQueries(db),
    changes: db.changes,
    close: () => db.close(),
  };
}
