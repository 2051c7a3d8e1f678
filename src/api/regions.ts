/**
 * Which regions a request may be signed for.
 *
 * The region of a SigV4 scope is the client's choice and becomes aws:RequestedRegion, so it must
 * name a real region: one of the deployment's (its configured region and its instances'
 * regions, which may be names AWS does not have, such as `local`) or one of the partition's
 * AWS regions (an AWS CLI configured for eu-west-1 signs STS calls for eu-west-1; IAM is global).
 * Anything else is refused as AWS refuses it: SignatureDoesNotMatch, "Credential should be scoped
 * to a valid region". RDS actions then reach only the instances of the region signed for
 * (rds-actions.ts), so a region-conditioned Deny cannot be got around by signing for another one.
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-requestedregion
 */

/**
 * The AWS regions of each partition, from the partitions data the AWS SDKs ship
 * (`@aws-sdk/core` util-endpoints `partitions.js`, 2026), without the `aws-global`-style
 * pseudo-regions.
 */
export const PARTITION_REGIONS: Readonly<Record<string, readonly string[]>> = {
  aws: [
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "me-west-1",
    "mx-central-1",
    "sa-east-1",
    "sa-west-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
  ],
  "aws-cn": ["cn-north-1", "cn-northwest-1"],
  "aws-eusc": ["eusc-de-east-1"],
  "aws-iso": ["us-iso-east-1", "us-iso-west-1"],
  "aws-iso-b": ["us-isob-east-1", "us-isob-west-1"],
  "aws-iso-e": ["eu-isoe-west-1"],
  "aws-iso-f": ["us-isof-east-1", "us-isof-south-1"],
  "aws-us-gov": ["us-gov-east-1", "us-gov-west-1"],
};

/** The regions a request to this deployment may be signed for. */
export function validRequestRegions(
  partition: string,
  deploymentRegions: Iterable<string>,
): ReadonlySet<string> {
  return new Set([...(PARTITION_REGIONS[partition] ?? []), ...deploymentRegions]);
}
