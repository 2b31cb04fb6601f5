/**
 * AWS SDK clients for the stack's moto server (S3 and Secrets Manager on one port) and the
 * idempotent setup of what the project expects there: a versioned, non-public bucket and the
 * SSH key secret.
 */
import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { createS3Client, createSecretsManagerClient } from '../../src/mwaa/clients.js';

export function s3Client(endpoint: string, region: string): S3Client {
  return createS3Client({ endpoint, region, localStack: true, maxAttempts: 2 });
}

export function secretsClient(endpoint: string, region: string): SecretsManagerClient {
  return createSecretsManagerClient({ endpoint, region, localStack: true, maxAttempts: 2 });
}

export async function motoAnswers(endpoint: string, region: string): Promise<boolean> {
  const client = s3Client(endpoint, region);
  try {
    await client.send(new ListBucketsCommand({}));
    return true;
  } finally {
    client.destroy();
  }
}

export async function ensureBucket(client: S3Client, bucket: string): Promise<{ created: boolean }> {
  let created = false;
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    created = true;
  }
  // MWAA requires versioning; plugins.zip and requirements.txt are pinned by version id.
  await client.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  await client.send(
    new PutPublicAccessBlockCommand({
      Bucket: bucket,
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    }),
  );
  const versioning = await client.send(new GetBucketVersioningCommand({ Bucket: bucket }));
  if (versioning.Status !== 'Enabled') throw new Error(`bucket ${bucket}: versioning is ${versioning.Status ?? 'off'}`);
  return { created };
}

/** Creates the secret or updates its value when it differs; returns its ARN. */
export async function ensureSecret(client: SecretsManagerClient, name: string, value: string): Promise<{ arn: string; created: boolean }> {
  try {
    const described = await client.send(new DescribeSecretCommand({ SecretId: name }));
    const current = await client.send(new GetSecretValueCommand({ SecretId: name }));
    if (current.SecretString !== value) {
      await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: value }));
    }
    return { arn: described.ARN!, created: false };
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
  }
  const created = await client.send(
    new CreateSecretCommand({ Name: name, SecretString: value, Description: 'SSH private key of the local GPU server' }),
  );
  return { arn: created.ARN!, created: true };
}
