import type { DbInstance, InstanceRegistry } from "../instances/types.js";
import { InstanceNotFoundError } from "../instances/types.js";
import type { ActionCall, ActionSpec, Target } from "./action.js";
import { ApiError } from "./errors.js";
import { dbInstanceXml, rdsTagListXml } from "./shapes.js";
import { xmlList } from "./xml.js";

/**
 * The RDS actions, over the instances the gateway defines. Resources are instance ARNs
 * (`arn:aws:rds:REGION:ACCOUNT:db:ID`); the instance's tags are offered as aws:ResourceTag/KEY
 * and rds:db-tag/KEY.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html
 * @see https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonrds.html
 */

function instanceTarget(registry: InstanceRegistry, i: DbInstance): Target {
  const context: Record<string, string> = {};
  for (const t of i.tags) {
    context[`aws:ResourceTag/${t.key}`] = t.value;
    context[`rds:db-tag/${t.key}`] = t.value;
  }
  return { resource: registry.arn(i), context };
}

/**
 * The instance of that identifier in the region the request is signed for. RDS is regional: an
 * instance of another region is not found, as RDS answers, so aws:RequestedRegion always names
 * the region of the instance acted on.
 */
export function requireInstance(c: Pick<ActionCall, "instances" | "region">, identifier: string): DbInstance {
  const i = c.instances.get(identifier);
  if (i === undefined || i.region !== c.region) throw new InstanceNotFoundError(identifier);
  return i;
}

/** AddTagsToResource & co. name the instance by ARN. */
function byArn(c: ActionCall): DbInstance {
  const arn = c.params.required("ResourceName");
  const m = /^arn:[^:]+:rds:[^:]*:\d{12}:db:([^:]+)$/.exec(arn);
  if (m === null) {
    throw new ApiError(
      "InvalidParameterValue",
      400,
      `Invalid resource name: ${arn}. iamdb tags DB instances: pass arn:aws:rds:REGION:ACCOUNT:db:IDENTIFIER.`,
    );
  }
  const i = c.instances.get(m[1] ?? "");
  if (i === undefined || i.region !== c.region || c.instances.arn(i) !== arn)
    throw new InstanceNotFoundError(m[1] ?? arn);
  return i;
}

const MODIFIABLE = new Set([
  "Action",
  "Version",
  "DBInstanceIdentifier",
  "EnableIAMDatabaseAuthentication",
  "ApplyImmediately",
]);

/** DescribeDBInstances filters iamdb can apply. */
const FILTERS: Readonly<Record<string, (i: DbInstance, registry: InstanceRegistry) => string>> = {
  "db-instance-id": (i, r) => r.arn(i),
  "dbi-resource-id": (i) => i.dbiResourceId,
  engine: (i) => i.engine,
};

export const RDS_ACTIONS: Readonly<Record<string, ActionSpec>> = {
  DescribeDBInstances: {
    authorize: (c) => {
      const id = c.params.str("DBInstanceIdentifier");
      if (id !== undefined) return instanceTarget(c.instances, requireInstance(c, id));
      const { partition, accountId } = c.iam.account;
      return { resource: `arn:${partition}:rds:${c.region}:${accountId}:db:*` };
    },
    run: async (c) => {
      const { instances, params: p } = c;
      const id = p.str("DBInstanceIdentifier");
      let list =
        id === undefined ? instances.list().filter((i) => i.region === c.region) : [requireInstance(c, id)];
      for (const f of p.structs("Filters") ?? []) {
        const name = f.required("Name");
        const get = FILTERS[name];
        if (get === undefined)
          throw new ApiError(
            "InvalidParameterValue",
            400,
            `Unrecognized filter name: ${name}. iamdb supports ${Object.keys(FILTERS).join(", ")}.`,
          );
        const values = new Set(f.strings("Values") ?? []);
        list = list.filter(
          (i) => values.has(get(i, instances)) || (name === "db-instance-id" && values.has(i.identifier)),
        );
      }
      list.sort((a, b) => (a.identifier < b.identifier ? -1 : a.identifier > b.identifier ? 1 : 0));
      const max = p.int("MaxRecords") ?? 100;
      if (max < 20 || max > 100)
        throw new ApiError(
          "InvalidParameterValue",
          400,
          `Invalid value ${max} for MaxRecords. Must be between 20 and 100`,
        );
      const marker = p.str("Marker");
      const start = marker === undefined ? 0 : list.findIndex((i) => i.identifier > marker);
      const from = start < 0 ? list.length : start;
      const page = list.slice(from, from + max);
      const last = page[page.length - 1];
      return {
        Marker: from + max < list.length && last !== undefined ? last.identifier : undefined,
        DBInstances: xmlList(
          page.map((i) => dbInstanceXml(instances, i)),
          "DBInstance",
        ),
      };
    },
  },
  ModifyDBInstance: {
    authorize: (c) =>
      instanceTarget(c.instances, requireInstance(c, c.params.required("DBInstanceIdentifier"))),
    run: async (c) => {
      const { instances, params: p } = c;
      const id = p.required("DBInstanceIdentifier");
      const unsupported = p.keys().filter((k) => !MODIFIABLE.has(k));
      if (unsupported.length > 0) {
        throw new ApiError(
          "InvalidParameterCombination",
          400,
          `iamdb can change only EnableIAMDatabaseAuthentication; remove ${unsupported.join(", ")}.`,
        );
      }
      const enable = p.bool("EnableIAMDatabaseAuthentication");
      const instance =
        enable === undefined
          ? requireInstance(c, id)
          : await instances.setIamAuth(requireInstance(c, id).identifier, enable);
      return { DBInstance: dbInstanceXml(instances, instance) };
    },
  },
  AddTagsToResource: {
    authorize: (c) => {
      const target = instanceTarget(c.instances, byArn(c));
      const tags = c.params.tags() ?? [];
      const context: Record<string, string | string[]> = {
        ...target.context,
        "aws:TagKeys": tags.map((t) => t.key),
      };
      for (const t of tags) context[`aws:RequestTag/${t.key}`] = t.value;
      return { resource: target.resource, context };
    },
    run: async (c) => {
      const tags = c.params.tags();
      if (tags === undefined) throw c.params.missing("Tags");
      await c.instances.addTags(byArn(c).identifier, tags);
      return undefined;
    },
  },
  RemoveTagsFromResource: {
    authorize: (c) => instanceTarget(c.instances, byArn(c)),
    run: async (c) => {
      const keys = c.params.strings("TagKeys");
      if (keys === undefined) throw c.params.missing("TagKeys");
      await c.instances.removeTags(byArn(c).identifier, keys);
      return undefined;
    },
  },
  ListTagsForResource: {
    authorize: (c) => instanceTarget(c.instances, byArn(c)),
    run: async (c) => ({ TagList: rdsTagListXml(byArn(c).tags) }),
  },
};
