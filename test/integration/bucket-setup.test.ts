/**
 * The bucket set-up commands that hints print, run as printed by the stack's pinned AWS CLI against
 * its moto S3, which enforces S3's rule: a LocationConstraint outside us-east-1, none in us-east-1.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { clientEnv } from '../../local-stack/src/client-env.js';
import { createBucketCommand, versioningCommand } from '../../src/mwaa/bucket-setup.js';
import { requireStack } from '../support/stack.js';

function shell(script: string): { status: number | null; output: string } {
  const state = requireStack();
  if (!state.awsCli) throw new Error('The local stack has no AWS CLI (state.awsCli): run: npm run local -- up');
  const env = { ...process.env, ...Object.fromEntries(clientEnv(state)) };
  const run = spawnSync('bash', ['-c', `aws() { "$MWAA_LOCAL_AWS_CLI" "$@"; }\nset -e\n${script}`], {
    env,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}

describe('the create-bucket hint, run by the AWS CLI', () => {
  it.each(['eu-west-1', 'us-east-1', 'ap-southeast-2'])('creates a versioned bucket in %s', (region) => {
    const bucket = `airflow-hint-${randomBytes(4).toString('hex')}`;
    const run = shell(
      `${createBucketCommand(bucket, region)} && ${versioningCommand(bucket)}\n` +
        `aws s3api get-bucket-versioning --bucket ${bucket} --region ${region} --output text\n` +
        `aws s3api delete-bucket --bucket ${bucket} --region ${region}`,
    );
    expect(run.status, run.output).toBe(0);
    expect(run.output).toMatch(/Enabled/);
  });

  it('the oracle tells them apart: without the constraint outside us-east-1 S3 refuses', () => {
    const bucket = `airflow-hint-${randomBytes(4).toString('hex')}`;
    const run = shell(`aws s3api create-bucket --bucket ${bucket} --region eu-west-1`);
    expect(run.status).not.toBe(0);
    expect(run.output).toContain('IllegalLocationConstraintException');
  });
});
