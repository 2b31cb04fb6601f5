import { describe, expect, it } from 'vitest';
import { renderIamPolicies } from '../../../src/generator/render-iam.js';

const config = {
  envName: 'prod',
  mwaa: {
    environmentName: 'gpu-cicd-prod',
    region: 'us-east-1',
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
};

describe('renderIamPolicies', () => {
  it('is deterministic, sorted by path, with sorted keys', () => {
    const a = renderIamPolicies(config);
    const b = renderIamPolicies(structuredClone(config));
    expect(a.map((f) => f.path)).toEqual(['iam/deploy-role-policy.json', 'iam/execution-role-secrets-policy.json']);
    expect(a.map((f) => f.bytes.toString())).toEqual(b.map((f) => f.bytes.toString()));
    const text = a[0]!.bytes.toString();
    expect(text.indexOf('"Statement"')).toBeLessThan(text.indexOf('"Version"'));
    expect(text.endsWith('}\n')).toBe(true);
  });

  it('the deploy role gets only the bucket paths deploy touches and the one environment', () => {
    const doc = JSON.parse(renderIamPolicies(config)[0]!.bytes.toString());
    const byId = Object.fromEntries(doc.Statement.map((s: { Sid: string }) => [s.Sid, s]));
    expect(byId.DeployedObjects.Resource).toEqual([
      'arn:aws:s3:::airflow-gpu-cicd-prod/config/prod/*',
      'arn:aws:s3:::airflow-gpu-cicd-prod/dags/*',
      'arn:aws:s3:::airflow-gpu-cicd-prod/deployments/*',
      'arn:aws:s3:::airflow-gpu-cicd-prod/plugins.zip',
      'arn:aws:s3:::airflow-gpu-cicd-prod/requirements.txt',
    ]);
    expect(byId.DeployLockRelease.Resource).toEqual(['arn:aws:s3:::airflow-gpu-cicd-prod/deployments/lock.json']);
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
});
