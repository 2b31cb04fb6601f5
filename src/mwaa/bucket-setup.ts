/**
 * The AWS CLI commands that set up an MWAA source bucket, as hints print them. S3's CreateBucket
 * takes a LocationConstraint outside us-east-1 and refuses one that names us-east-1
 * (https://docs.aws.amazon.com/cli/latest/reference/s3api/create-bucket.html).
 */
import { shellQuote } from '../util/shell-quote.js';

/** The region whose buckets are created without a LocationConstraint. */
const NO_CONSTRAINT_REGION = 'us-east-1';

export function createBucketCommand(bucket: string, region: string): string {
  const constraint = region === NO_CONSTRAINT_REGION ? '' : ` --create-bucket-configuration LocationConstraint=${shellQuote(region)}`;
  return `aws s3api create-bucket --bucket ${shellQuote(bucket)} --region ${shellQuote(region)}${constraint}`;
}

export function versioningCommand(bucket: string): string {
  return `aws s3api put-bucket-versioning --bucket ${shellQuote(bucket)} --versioning-configuration Status=Enabled`;
}
