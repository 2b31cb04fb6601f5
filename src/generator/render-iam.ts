/**
 * Least-privilege IAM policy documents for the two roles a deployment involves:
 * - the deploying role (CI or an operator): read/write only the bucket paths deploy touches,
 *   read the environment, pin new object versions, get CLI tokens, log in to the Airflow web
 *   server as Op (Airflow's REST API: DAG state, runs, task logs, Variables); read the SSH key
 *   secret for the post-deploy runtime check;
 * - the MWAA execution role: read the one SSH key secret (its other permissions come from the
 *   standard MWAA execution policy, see docs/MWAA_SETUP.md).
 * Pure: config in, `{path, bytes}` out, keys sorted, so the same config gives the same bytes.
 */
import type { ResolvedConfig } from '../config/resolved.js';
import { stableStringify } from '../util/stable-json.js';

export interface PolicyFile {
  path: string;
  bytes: Buffer;
}

type IamConfig = Pick<ResolvedConfig, 'envName' | 'mwaa' | 'secrets'>;

/** The Airflow role deploy and check log in as. */
export const WEB_LOGIN_ROLE = 'Op';

interface Statement {
  Sid: string;
  Effect: 'Allow';
  Action: string[];
  Resource: string[];
  Condition?: Record<string, Record<string, string[]>>;
}

/** `arn:aws:secretsmanager:<region>:<account>:secret:<name>` → its partition and account. */
function secretArnParts(arn: string): { partition: string; account: string } {
  const [, partition = 'aws', , , account = '*'] = arn.split(':');
  return { partition, account };
}

export function deployRolePolicy(config: IamConfig): object {
  const { bucket, dagsPrefix, pluginsKey, requirementsKey, deploymentsPrefix, environmentName, region } = config.mwaa;
  const { partition, account } = secretArnParts(config.secrets.sshKeyArn);
  const bucketArn = `arn:${partition}:s3:::${bucket}`;
  const environmentArn = `arn:${partition}:airflow:${region}:${account}:environment/${environmentName}`;
  // CreateWebLoginToken's resource is the Airflow role the login becomes, never the environment
  // (MWAA user guide, "Accessing an Amazon MWAA environment": role/<env>/<Admin|Op|User|Viewer|Public>).
  // Op reads Variables and unpauses DAGs; User and Viewer cannot read Variables.
  const webLoginRoleArn = `arn:${partition}:airflow:${region}:${account}:role/${environmentName}/${WEB_LOGIN_ROLE}`;
  const objectKeys = [
    `${dagsPrefix}/*`,
    pluginsKey,
    requirementsKey,
    `config/${config.envName}/*`,
    `${deploymentsPrefix}/*`,
  ].sort();
  const statements: Statement[] = [
    {
      Sid: 'BucketVersioningAndRecordListing',
      Effect: 'Allow',
      Action: ['s3:GetBucketVersioning', 's3:ListBucket'],
      Resource: [bucketArn],
    },
    {
      Sid: 'DeployedObjects',
      Effect: 'Allow',
      // GetObjectVersion and the copy source of a rollback; PutObject for uploads and records.
      Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject'],
      Resource: objectKeys.map((key) => `${bucketArn}/${key}`),
    },
    {
      Sid: 'DeployLockRelease',
      Effect: 'Allow',
      Action: ['s3:DeleteObject'],
      Resource: [`${bucketArn}/${deploymentsPrefix}/lock.json`],
    },
    {
      Sid: 'MwaaEnvironment',
      Effect: 'Allow',
      Action: ['airflow:CreateCliToken', 'airflow:GetEnvironment', 'airflow:UpdateEnvironment'],
      Resource: [environmentArn],
    },
    {
      Sid: 'MwaaWebLoginAsOp',
      Effect: 'Allow',
      Action: ['airflow:CreateWebLoginToken'],
      Resource: [webLoginRoleArn],
    },
    {
      Sid: 'RuntimeCheckReadsSshKey',
      Effect: 'Allow',
      Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
      Resource: [config.secrets.sshKeyArn],
    },
  ];
  return { Statement: statements, Version: '2012-10-17' };
}

export function executionRoleSecretsPolicy(config: IamConfig): object {
  return {
    Statement: [
      {
        Sid: 'ReadGpuServerSshKey',
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: [config.secrets.sshKeyArn],
      },
    ],
    Version: '2012-10-17',
  };
}

function policyFile(path: string, document: object): PolicyFile {
  return { path, bytes: Buffer.from(`${stableStringify(document, 2)}\n`) };
}

/** Both policy documents, sorted by path. */
export function renderIamPolicies(config: IamConfig): PolicyFile[] {
  return [
    policyFile('iam/deploy-role-policy.json', deployRolePolicy(config)),
    policyFile('iam/execution-role-secrets-policy.json', executionRoleSecretsPolicy(config)),
  ];
}
