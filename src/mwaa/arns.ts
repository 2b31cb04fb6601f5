/**
 * ARNs of the AWS resources MWAA deployments involve, in the partition of their region, and the
 * one IAM quirk of Secrets Manager: a secret's ARN ends in a dash and six random characters, so a
 * policy naming the secret by its partial ARN needs the `-??????` wildcard to match it.
 * Sources: https://docs.aws.amazon.com/mwaa/latest/userguide/manage-access.html,
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_resource-policies.html
 */

export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

export function environmentArn(region: string, accountId: string, environmentName: string): string {
  return `arn:${partitionOf(region)}:airflow:${region}:${accountId}:environment/${environmentName}`;
}

/** The resource of CreateWebLoginToken: the Airflow role the login becomes (Admin, Op, User, Viewer, Public). */
export function webLoginRoleArn(region: string, accountId: string, environmentName: string, airflowRole: string): string {
  return `arn:${partitionOf(region)}:airflow:${region}:${accountId}:role/${environmentName}/${airflowRole}`;
}

/** A CloudWatch alarm; `name` may end in `*` for the alarms sharing a prefix. */
export function alarmArn(region: string, accountId: string, name: string): string {
  return `arn:${partitionOf(region)}:cloudwatch:${region}:${accountId}:alarm:${name}`;
}

/** The bucket an S3 ARN names (`arn:aws:s3:::airflow-x` → `airflow-x`); undefined for anything else. */
export function bucketFromArn(arn: string | undefined): string | undefined {
  return arn?.startsWith('arn:') ? arn.split(':').slice(5).join(':') : undefined;
}

export function bucketArn(region: string, bucket: string): string {
  return `arn:${partitionOf(region)}:s3:::${bucket}`;
}

/** The suffix Secrets Manager appends to a secret's name in its ARN. */
const SECRET_SUFFIX = /-[A-Za-z0-9]{6}$/;

/** The policy resource that matches the secret: the complete ARN as is, a partial one with `-??????`. */
export function secretPolicyResource(secretArn: string): string {
  return SECRET_SUFFIX.test(secretArn) ? secretArn : `${secretArn}-??????`;
}
