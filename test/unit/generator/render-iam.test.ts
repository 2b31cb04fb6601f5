import { describe, expect, it } from 'vitest';
import { renderIamPolicies } from '../../../src/generator/render-iam.js';
import { alarmSchema, monitoringSchema } from '../../../src/config/schema.js';

const config = {
  envName: 'prod',
  mwaa: {
    environmentName: 'gpu-cicd-prod',
    region: 'us-east-1',
    accountId: '444455556666' as string | null,
    kmsKeyArn: null as string | null,
    bucket: 'airflow-gpu-cicd-prod',
    dagsPrefix: 'dags',
    pluginsKey: 'plugins.zip',
    requirementsKey: 'requirements.txt',
    deploymentsPrefix: 'deployments',
    webserverScheme: 'https' as const,
  },
  secrets: {
    sshKeyArn: 'arn:aws:secretsmanager:us-east-1:444455556666:secret:gpu-server-ssh-key-Xy34Zw',
    sshKeyJsonField: null,
    cacheTtlSeconds: 300,
  },
  monitoring: monitoringSchema.parse({}),
};

/** The config with monitoring on (a namespace) and these alarms. */
function withAlarms(...names: string[]) {
  const alarms = names.map((name) =>
    alarmSchema.parse({ name, metric: 'RunSucceeded', statistic: 'Minimum', comparison: 'LessThanThreshold', threshold: 1 }),
  );
  return { ...config, monitoring: monitoringSchema.parse({ metrics: { namespace: 'GpuCicd' }, alarms }) };
}

type Doc = { Statement: Array<{ Sid: string; Action: string[]; Resource: string[] }> };
const deployDoc = (c: typeof config): Doc => JSON.parse(renderIamPolicies(c)[0]!.bytes.toString());

describe('renderIamPolicies', () => {
  it('is deterministic, sorted by path, with sorted keys', () => {
    const a = renderIamPolicies(config);
    const b = renderIamPolicies(structuredClone(config));
    expect(a.map((f) => f.path)).toEqual(['iam/deploy-role-policy.json', 'iam/execution-role-secrets-policy.json', 'iam/plan-policy.json']);
    expect(a.map((f) => f.bytes.toString())).toEqual(b.map((f) => f.bytes.toString()));
    const text = a[0]!.bytes.toString();
    expect(text.indexOf('"Statement"')).toBeLessThan(text.indexOf('"Version"'));
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('the deploy role gets only the bucket paths deploy touches and the one environment', () => {
    const doc = JSON.parse(renderIamPolicies(config)[0]!.bytes.toString());
    const byId = Object.fromEntries(doc.Statement.map((s: { Sid: string }) => [s.Sid, s]));
    expect(byId.DeployedObjects.Resource).toEqual([
      'arn:aws:s3:::airflow-gpu-cicd-prod/config/prod/config.yaml',
      'arn:aws:s3:::airflow-gpu-cicd-prod/dags/gpu_cicd_lib_*',
      'arn:aws:s3:::airflow-gpu-cicd-prod/dags/gpu_server_cicd_dag.py',
      'arn:aws:s3:::airflow-gpu-cicd-prod/deployments/*',
      'arn:aws:s3:::airflow-gpu-cicd-prod/plugins.zip',
      'arn:aws:s3:::airflow-gpu-cicd-prod/requirements.txt',
    ]);
    expect(byId.DeployLockRelease.Resource).toEqual(['arn:aws:s3:::airflow-gpu-cicd-prod/deployments/lock.json']);
    // Stale library folders leave the DAG folder; nothing else there is deleted.
    expect(byId.StaleDagLibraryRemoval).toMatchObject({
      Action: ['s3:DeleteObject'],
      Resource: ['arn:aws:s3:::airflow-gpu-cicd-prod/dags/gpu_cicd_lib_*'],
    });
    expect(byId.MwaaEnvironment).toMatchObject({
      Action: ['airflow:CreateCliToken', 'airflow:GetEnvironment', 'airflow:UpdateEnvironment'],
      Resource: ['arn:aws:airflow:us-east-1:444455556666:environment/gpu-cicd-prod'],
    });
    // The web login's resource is the Airflow role, not the environment (MWAA's access policies).
    expect(byId.MwaaWebLoginAsOp).toEqual({
      Sid: 'MwaaWebLoginAsOp',
      Effect: 'Allow',
      Action: ['airflow:CreateWebLoginToken'],
      Resource: ['arn:aws:airflow:us-east-1:444455556666:role/gpu-cicd-prod/Op'],
    });
    expect(JSON.stringify(doc)).not.toMatch(/"\*"|s3:\*|airflow:\*/);
  });

  it('the execution role may read exactly the one secret', () => {
    const doc = JSON.parse(renderIamPolicies(config)[1]!.bytes.toString());
    expect(doc.Statement).toEqual([
      {
        Sid: 'ReadGpuServerSshKey',
        Effect: 'Allow',
        Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
        Resource: [config.secrets.sshKeyArn],
      },
    ]);
  });

  it('the execution role may publish metrics to the one namespace and notices to the one topic, only when configured', () => {
    const topic = 'arn:aws:sns:us-east-1:444455556666:gpu-cicd-notices';
    const monitored = {
      ...config,
      monitoring: { ...config.monitoring, metrics: { namespace: 'GpuCicd', dimensions: {} }, notifyTopicArn: topic },
    };
    const doc = JSON.parse(renderIamPolicies(monitored)[1]!.bytes.toString());
    expect(doc.Statement.map((s: { Sid: string }) => s.Sid)).toEqual(['ReadGpuServerSshKey', 'PublishDagMetrics', 'NotifyFailedRuns']);
    expect(doc.Statement[1]).toEqual({
      Sid: 'PublishDagMetrics',
      Effect: 'Allow',
      Action: ['cloudwatch:PutMetricData'],
      Resource: ['*'],
      Condition: { StringEquals: { 'cloudwatch:namespace': ['GpuCicd'] } },
    });
    expect(doc.Statement[2]).toEqual({ Sid: 'NotifyFailedRuns', Effect: 'Allow', Action: ['sns:Publish'], Resource: [topic] });
    const topicOnly = { ...config, monitoring: { ...config.monitoring, notifyTopicArn: topic } };
    const sids = JSON.parse(renderIamPolicies(topicOnly)[1]!.bytes.toString()).Statement.map((s: { Sid: string }) => s.Sid);
    expect(sids).toEqual(['ReadGpuServerSshKey', 'NotifyFailedRuns']);
  });

  it("names the environment by the configured account, not the secret's (a secret in another account)", () => {
    const crossAccount = { ...config, mwaa: { ...config.mwaa, accountId: '111122223333' } };
    const doc = JSON.parse(renderIamPolicies(crossAccount)[0]!.bytes.toString());
    const env = doc.Statement.find((s: { Sid: string }) => s.Sid === 'MwaaEnvironment');
    expect(env.Resource).toEqual(['arn:aws:airflow:us-east-1:111122223333:environment/gpu-cicd-prod']);
    const unknown = JSON.parse(renderIamPolicies({ ...config, mwaa: { ...config.mwaa, accountId: null } })[0]!.bytes.toString());
    expect(unknown.Statement.find((s: { Sid: string }) => s.Sid === 'MwaaEnvironment').Resource).toEqual([
      'arn:aws:airflow:us-east-1:*:environment/gpu-cicd-prod',
    ]);
  });

  it('matches a secret named by its partial ARN with the -?????? suffix wildcard', () => {
    const partial = {
      ...config,
      secrets: { ...config.secrets, sshKeyArn: 'arn:aws:secretsmanager:us-east-1:444455556666:secret:gpu-server-ssh-key' },
    };
    // The plan role reads no secret.
    for (const file of renderIamPolicies(partial).filter((f) => f.path !== 'iam/plan-policy.json')) {
      expect(file.bytes.toString()).toContain('"arn:aws:secretsmanager:us-east-1:444455556666:secret:gpu-server-ssh-key-??????"');
    }
  });

  it('the plan role reads what a plan reads, where deploy writes, and writes nothing', () => {
    const planDoc = (c: typeof config): Doc =>
      JSON.parse(
        renderIamPolicies(c)
          .find((f) => f.path === 'iam/plan-policy.json')!
          .bytes.toString(),
      );
    const plan = planDoc(config);
    const deploy = deployDoc(config);
    const actions = (doc: Doc) => new Set(doc.Statement.flatMap((s) => s.Action));
    expect([...actions(plan)].sort()).toEqual([
      'airflow:GetEnvironment',
      's3:GetBucketVersioning',
      's3:GetObject',
      's3:GetObjectVersion',
      's3:ListBucket',
    ]);
    // Every read the plan may make, the deploy role (which plans first) may make on the same resources.
    for (const statement of plan.Statement) {
      for (const action of statement.Action) {
        const granting = deploy.Statement.filter((s) => s.Action.includes(action));
        expect(
          granting.flatMap((s) => s.Resource),
          action,
        ).toEqual(expect.arrayContaining(statement.Resource));
      }
    }
    expect(plan.Statement.find((s) => s.Sid === 'PlanReadsDeployedObjects')!.Resource).toEqual(
      deploy.Statement.find((s) => s.Sid === 'DeployedObjects')!.Resource,
    );
    // With monitoring and a KMS bucket: DescribeAlarms and Decrypt, still no write and no secret.
    const key = 'arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const full = planDoc({ ...withAlarms('runs'), mwaa: { ...config.mwaa, kmsKeyArn: key } });
    expect([...actions(full)].filter((a) => !actions(plan).has(a)).sort()).toEqual(['cloudwatch:DescribeAlarms', 'kms:Decrypt']);
    for (const action of actions(full)) expect(action).toMatch(/:(Get|List|Describe|Decrypt)/);
  });

  it("allows the bucket's KMS key through S3 only, when the bucket is SSE-KMS", () => {
    const key = 'arn:aws:kms:us-east-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const [deployRole, execution] = renderIamPolicies({ ...config, mwaa: { ...config.mwaa, kmsKeyArn: key } }).map((f) =>
      JSON.parse(f.bytes.toString()),
    );
    const statement = (doc: { Statement: { Sid: string }[] }) => doc.Statement.find((s) => s.Sid === 'BucketKmsKey');
    const viaS3 = { StringEquals: { 'kms:ViaService': ['s3.us-east-1.amazonaws.com'] } };
    expect(statement(deployRole)).toEqual({
      Sid: 'BucketKmsKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
      Resource: [key],
      Condition: viaS3,
    });
    expect(statement(execution)).toEqual({
      Sid: 'BucketKmsKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: [key],
      Condition: viaS3,
    });
    expect(renderIamPolicies(config).some((f) => f.bytes.toString().includes('kms:'))).toBe(false);
  });

  it('has no CloudWatch statement while monitoring is off', () => {
    expect(JSON.stringify(deployDoc(config))).not.toContain('cloudwatch:');
  });

  it("with alarms: DescribeAlarms on *, PutMetricAlarm/TagResource on exactly the configured alarms, delete on the environment's own", () => {
    const doc = deployDoc(withAlarms('ssh-slow', 'run-failed'));
    const cloudWatch = doc.Statement.filter((s) => s.Action.some((a) => a.startsWith('cloudwatch:')));
    expect(cloudWatch).toEqual([
      { Sid: 'CloudWatchAlarmsRead', Effect: 'Allow', Action: ['cloudwatch:DescribeAlarms'], Resource: ['*'] },
      {
        Sid: 'CloudWatchEnvironmentAlarms',
        Effect: 'Allow',
        Action: ['cloudwatch:DeleteAlarms', 'cloudwatch:ListTagsForResource'],
        Resource: ['arn:aws:cloudwatch:us-east-1:444455556666:alarm:gpu-cicd-prod-*'],
      },
      {
        Sid: 'CloudWatchConfiguredAlarms',
        Effect: 'Allow',
        Action: ['cloudwatch:PutMetricAlarm', 'cloudwatch:TagResource'],
        Resource: [
          'arn:aws:cloudwatch:us-east-1:444455556666:alarm:gpu-cicd-prod-run-failed',
          'arn:aws:cloudwatch:us-east-1:444455556666:alarm:gpu-cicd-prod-ssh-slow',
        ],
      },
    ]);
    // Nothing else grows: the statements without alarms are the same.
    expect(doc.Statement.filter((s) => !s.Sid.startsWith('CloudWatch'))).toEqual(deployDoc(config).Statement);
  });

  it('with monitoring on and no alarms: still reads and deletes (the last alarm removed), writes none', () => {
    const doc = deployDoc(withAlarms());
    expect(doc.Statement.map((s) => s.Sid).filter((sid) => sid.startsWith('CloudWatch'))).toEqual([
      'CloudWatchAlarmsRead',
      'CloudWatchEnvironmentAlarms',
    ]);
    expect(JSON.stringify(doc)).not.toContain('cloudwatch:PutMetricAlarm');
  });

  it('alarm ARNs follow the partition and an unknown account', () => {
    const china = withAlarms('run-failed');
    const doc = deployDoc({ ...china, mwaa: { ...china.mwaa, region: 'cn-north-1', accountId: null } });
    const put = doc.Statement.find((s) => s.Sid === 'CloudWatchConfiguredAlarms');
    expect(put?.Resource).toEqual(['arn:aws-cn:cloudwatch:cn-north-1:*:alarm:gpu-cicd-prod-run-failed']);
  });
});
