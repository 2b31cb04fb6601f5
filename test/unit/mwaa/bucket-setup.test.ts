/**
 * The bucket hint: S3 needs a LocationConstraint outside us-east-1 and refuses one naming us-east-1.
 * test/integration/bucket-setup.test.ts runs the printed command with the AWS CLI against moto.
 */
import { describe, expect, it } from 'vitest';
import { RemoteError } from '../../../src/errors.js';
import { explainRemoteError } from '../../../src/mwaa/aws-errors.js';
import { tagRemoteCall } from '../../../src/mwaa/remote-call.js';

function noSuchBucket(region: string): string {
  const error = tagRemoteCall(
    Object.assign(new Error('The specified bucket does not exist'), {
      name: 'NoSuchBucket',
      $fault: 'client',
      $metadata: { httpStatusCode: 404, requestId: 'r-1', attempts: 1 },
    }),
    { service: 'S3', operation: 'GetBucketVersioning', endpoint: `s3.${region}.amazonaws.com`, input: { Bucket: 'airflow-b' } },
  );
  const explained = explainRemoteError(error, { envName: 'prod', localStack: false, region, env: {} });
  expect(explained).toBeInstanceOf(RemoteError);
  return (explained as Error).message;
}

describe('the create-bucket hint', () => {
  it('names the LocationConstraint outside us-east-1', () => {
    expect(noSuchBucket('eu-west-1')).toContain(
      'aws s3api create-bucket --bucket airflow-b --region eu-west-1 --create-bucket-configuration LocationConstraint=eu-west-1 && aws s3api put-bucket-versioning --bucket airflow-b',
    );
  });

  it('has no LocationConstraint in us-east-1', () => {
    const message = noSuchBucket('us-east-1');
    expect(message).toContain('aws s3api create-bucket --bucket airflow-b --region us-east-1 && ');
    expect(message).not.toContain('LocationConstraint');
  });
});
