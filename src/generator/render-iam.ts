/**
 * Least-privilege IAM policy documents for the roles a deployment involves:
 * - the deploying role (CI or an operator): read/write only the bucket paths deploy touches,
 *   read the environment, pin new object versions, get CLI tokens, log in to the Airflow web
 *   server as Op (Airflow's REST API: DAG state, runs, task logs, Variables); read the SSH key
 *   secret for the post-deploy runtime check; with monitoring on, the CloudWatch alarms deploy
 *   manages (describe all, write the configured ones, delete the environment's own);
 * - the planning role (CI on a pull request: `deploy --plan --diff`, also with --rollback): only
 *   the reads a plan makes (src/deployer/remote-state.ts, records.ts, diff.ts), never a write;
 * - the MWAA execution role: read the one SSH key secret; when monitoring is configured, publish
 *   the DAG's metrics to its one namespace and failure notices to its one topic (its other
 *   permissions come from the standard MWAA execution policy, see docs/MWAA_SETUP.md). The file
 *   keeps its name, execution-role-secrets-policy.json, so existing role setups stay valid.
 * Pure: config in, `{path, bytes}` out, keys sorted, so the same config gives the same bytes.
 */
import type { ResolvedConfig } from '../config/resolved.js';
import { kindKeyPattern, UPLOADED_KINDS } from '../artifacts/kinds.js';
import { alarmName } from '../config/metrics.js';
import { alarmArn, bucketArn, environmentArn, secretPolicyResource, webLoginRoleArn } from '../mwaa/arns.js';
import { stableStringify } from '../util/stable-json.js';

export interface PolicyFile {
  path: string;
  bytes: Buffer;
}

type IamConfig = Pick<ResolvedConfig, 'envName' | 'mwaa' | 'secrets' | 'monitoring'>;

/** The Airflow role deploy and check log in as. */
export const WEB_LOGIN_ROLE = 'Op';

interface Statement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

/**
 * The IAM actions of every AWS call a plan makes, one definition for the plan and the deploy
 * policy (a deploy plans first): S3's HEAD is authorised as s3:GetObject, and with a version id
 * (the pinned version, a record's object) as s3:GetObjectVersion; a listing (DAG libraries,
 * deploy records) as s3:ListBucket on the bucket.
 */
export const PLAN_READS = {
  /** GetBucketVersioning (the plan refuses an unversioned bucket); ListObjectsV2 of libraries and records. */
  bucket: ['s3:GetBucketVersioning', 's3:ListBucket'],
  /** HEAD and GET of the objects deploy writes and of its records, current and by version. */
  objects: ['s3:GetObject', 's3:GetObjectVersion'],
  /** GetEnvironment: status, Airflow version, pinned object versions. */
  environment: ['airflow:GetEnvironment'],
  /** DescribeAlarms, with monitoring on (it takes no resource-level permission). */
  alarms: ['cloudwatch:DescribeAlarms'],
  /** Reading an object of an SSE-KMS bucket. */
  kms: ['kms:Decrypt'],
} as const;

/** The objects deploy writes (one row each in the artifact table, the DAG library by its name pattern) and its records and lock. */
function deployedObjectKeys(config: IamConfig): string[] {
  return [...UPLOADED_KINDS.map((kind) => kindKeyPattern(kind, config)), `${config.mwaa.deploymentsPrefix}/*`].sort();
}

/**
 * The planning role: what `deploy --plan --diff` (and `--rollback --plan`) reads, and nothing it
 * could change the environment with: a pull request's job gets this role, the deploy role stays
 * with the protected main branch.
 */
export function planRolePolicy(config: IamConfig): object {
  const { bucket, environmentName, region, accountId } = config.mwaa;
  const bucketResource = bucketArn(region, bucket);
  const statements: Statement[] = [
    { Sid: 'PlanReadsBucket', Effect: 'Allow', Action: [...PLAN_READS.bucket], Resource: [bucketResource] },
    {
      Sid: 'PlanReadsDeployedObjects',
      Effect: 'Allow',
      Action: [...PLAN_READS.objects],
      Resource: deployedObjectKeys(config).map((key) => `${bucketResource}/${key}`),
    },
    {
      Sid: 'PlanReadsEnvironment',
      Effect: 'Allow',
      Action: [...PLAN_READS.environment],
      Resource: [environmentArn(region, accountId ?? '*', environmentName)],
    },
  ];
  if (config.monitoring.metrics.namespace !== null) {
    statements.push({ Sid: 'PlanReadsAlarms', Effect: 'Allow', Action: [...PLAN_READS.alarms], Resource: ['*'] });
  }
  if (config.mwaa.kmsKeyArn) statements.push(bucketKeyStatement(config.mwaa.kmsKeyArn, region, [...PLAN_READS.kms]));
  return { Statement: statements, Version: '2012-10-17' };
}

export function deployRolePolicy(config: IamConfig): object {
  const { bucket, deploymentsPrefix, environmentName, region, accountId } = config.mwaa;
  const bucketResource = bucketArn(region, bucket);
  const secret = secretPolicyResource(config.secrets.sshKeyArn);
  // CreateWebLoginToken's resource is the Airflow role the login becomes, never the environment
  // (MWAA user guide, "Accessing an Amazon MWAA environment": role/<env>/<Admin|Op|User|Viewer|Public>).
  // Op reads Variables and unpauses DAGs; User and Viewer cannot read Variables.
  const webLoginRole = webLoginRoleArn(region, accountId ?? '*', environmentName, WEB_LOGIN_ROLE);
  const objectKeys = deployedObjectKeys(config);
  const libraryKeys = kindKeyPattern('dagLibrary', config);
  const statements: Statement[] = [
    {
      Sid: 'BucketVersioningAndRecordListing',
      Effect: 'Allow',
      Action: [...PLAN_READS.bucket],
      Resource: [bucketResource],
    },
    {
      Sid: 'DeployedObjects',
      Effect: 'Allow',
      // GetObjectVersion and the copy source of a rollback; PutObject for uploads and records.
      Action: [...PLAN_READS.objects, 's3:PutObject'],
      Resource: objectKeys.map((key) => `${bucketResource}/${key}`),
    },
    {
      Sid: 'DeployLockRelease',
      Effect: 'Allow',
      Action: ['s3:DeleteObject'],
      Resource: [`${bucketResource}/${deploymentsPrefix}/lock.json`],
    },
    {
      // A library folder no current DAG imports leaves the DAG folder (a delete marker: the
      // versions stay for a rollback).
      Sid: 'StaleDagLibraryRemoval',
      Effect: 'Allow',
      Action: ['s3:DeleteObject'],
      Resource: [`${bucketResource}/${libraryKeys}`],
    },
    {
      Sid: 'MwaaEnvironment',
      Effect: 'Allow',
      Action: ['airflow:CreateCliToken', ...PLAN_READS.environment, 'airflow:UpdateEnvironment'],
      Resource: [environmentArn(region, accountId ?? '*', environmentName)],
    },
    {
      Sid: 'MwaaWebLoginAsOp',
      Effect: 'Allow',
      Action: ['airflow:CreateWebLoginToken'],
      Resource: [webLoginRole],
    },
    {
      Sid: 'RuntimeCheckReadsSshKey',
      Effect: 'Allow',
      Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      Resource: [secret],
    },
  ];
  statements.push(...alarmStatements(config));
  if (config.mwaa.kmsKeyArn) {
    // An SSE-KMS bucket: uploads need a data key, reads (HEAD, the copy of a rollback) decryption.
    statements.push(bucketKeyStatement(config.mwaa.kmsKeyArn, region, [...PLAN_READS.kms, 'kms:GenerateDataKey']));
  }
  return { Statement: statements, Version: '2012-10-17' };
}

/**
 * What deploy needs for the alarms (src/deployer/alarms.ts), only with monitoring on (a metrics
 * namespace): DescribeAlarms takes no resource-level permission for every alarm type, so `*`;
 * ListTagsForResource (which alarms are ours) and DeleteAlarms (ours that left the config) on the
 * environment's alarm names, since a removed alarm is no longer in the config; PutMetricAlarm,
 * and TagResource for the owner tag a new alarm carries, on exactly the configured alarms.
 */
function alarmStatements(config: IamConfig): Statement[] {
  if (config.monitoring.metrics.namespace === null) return [];
  const { environmentName, region, accountId } = config.mwaa;
  const arn = (name: string) => alarmArn(region, accountId ?? '*', name);
  const statements: Statement[] = [
    { Sid: 'CloudWatchAlarmsRead', Effect: 'Allow', Action: [...PLAN_READS.alarms], Resource: ['*'] },
    {
      Sid: 'CloudWatchEnvironmentAlarms',
      Effect: 'Allow',
      Action: ['cloudwatch:DeleteAlarms', 'cloudwatch:ListTagsForResource'],
      Resource: [arn(`${alarmName(environmentName, '')}*`)],
    },
  ];
  const configured = config.monitoring.alarms.map((alarm) => arn(alarmName(environmentName, alarm.name))).sort();
  if (configured.length > 0) {
    statements.push({
      Sid: 'CloudWatchConfiguredAlarms',
      Effect: 'Allow',
      Action: ['cloudwatch:PutMetricAlarm', 'cloudwatch:TagResource'],
      Resource: configured,
    });
  }
  return statements;
}

export function executionRolePolicy(config: IamConfig): object {
  const { namespace } = config.monitoring.metrics;
  const topic = config.monitoring.notifyTopicArn;
  const statements: Statement[] = [
    {
      Sid: 'ReadGpuServerSshKey',
      Effect: 'Allow',
      Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      Resource: [secretPolicyResource(config.secrets.sshKeyArn)],
    },
  ];
  // MWAA reads the DAG, plugins and requirements from an SSE-KMS bucket with the execution role.
  if (config.mwaa.kmsKeyArn) statements.push(bucketKeyStatement(config.mwaa.kmsKeyArn, config.mwaa.region, ['kms:Decrypt']));
  if (namespace !== null) {
    // PutMetricData has no resource ARN; the namespace condition is its only scope.
    statements.push({
      Sid: 'PublishDagMetrics',
      Effect: 'Allow',
      Action: ['cloudwatch:PutMetricData'],
      Resource: ['*'],
      Condition: { StringEquals: { 'cloudwatch:namespace': [namespace] } },
    });
  }
  if (topic !== null) {
    statements.push({ Sid: 'NotifyFailedRuns', Effect: 'Allow', Action: ['sns:Publish'], Resource: [topic] });
  }
  return { Statement: statements, Version: '2012-10-17' };
}

/** Use of the bucket's KMS key, only through S3 in the environment's region. */
function bucketKeyStatement(keyArn: string, region: string, actions: string[]): Statement {
  return {
    Sid: 'BucketKmsKey',
    Effect: 'Allow',
    Action: actions,
    Resource: [keyArn],
    Condition: { StringEquals: { 'kms:ViaService': [`s3.${region}.amazonaws.com`] } },
  };
}

function policyFile(path: string, document: object): PolicyFile {
  return { path, bytes: Buffer.from(`${stableStringify(document, 2)}\n`) };
}

/** The policy documents, sorted by path. */
export function renderIamPolicies(config: IamConfig): PolicyFile[] {
  return [
    policyFile('iam/deploy-role-policy.json', deployRolePolicy(config)),
    policyFile('iam/execution-role-secrets-policy.json', executionRolePolicy(config)),
    policyFile('iam/plan-policy.json', planRolePolicy(config)),
  ];
}
