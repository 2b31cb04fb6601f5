/**
 * A deploy that fails part-way, driven through the real CLI: S3 is moto (the local stack's venv
 * runs its own server here, with a bucket of this test), MWAA is the AWS stand-in of
 * test/support/aws-errors-server.ts, which answers GetEnvironment and refuses UpdateEnvironment
 * with a ValidationException in MWAA's wire format. The message must name the call, the request
 * field and its config field, what was uploaded (with the versions moto gave), that the
 * environment was not updated and the lock released; and a rerun must upload nothing again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/mwaa/clients.js';
import { type AwsCall, type AwsErrorServer, startAwsErrorServer } from '../support/aws-errors-server.js';
import { repoRoot, runCliAsync } from '../support/cli.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** moto_server of the local stack's venvs (MWAA_LOCAL_VENVS, or the stack root's venvs). */
function motoServer(): string {
  const venvs = process.env.MWAA_LOCAL_VENVS ?? join(process.env.MWAA_LOCAL_HOME ?? join(repoRoot, '.local-stack'), 'venvs');
  const found = existsSync(venvs)
    ? readdirSync(venvs)
        .map((venv) => join(venvs, venv, 'bin', 'moto_server'))
        .find((bin) => existsSync(bin))
    : undefined;
  if (!found) throw new Error(`No moto_server under ${venvs}: run npm run local -- up first (it builds the venvs).`);
  return found;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const BUCKET = `airflow-errors-${process.pid}`;
const ENV_NAME = 'gpu-cicd-dev';

describe('a deploy refused by UpdateEnvironment after its uploads', () => {
  let moto: ChildProcess;
  let motoUrl: string;
  let s3: S3Client;
  let mwaa: AwsErrorServer;
  let acceptUpdates = false;
  let cwd: string;
  const env = {
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_PROFILE: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  };

  beforeAll(async () => {
    const port = await freePort();
    motoUrl = `http://127.0.0.1:${port}`;
    moto = spawn(motoServer(), ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    s3 = createS3Client({ endpoint: motoUrl, region: 'us-east-1', localStack: true });
    for (let i = 0; ; i += 1) {
      try {
        await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
        break;
      } catch (error) {
        if (i > 150) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
    await s3.send(new PutBucketVersioningCommand({ Bucket: BUCKET, VersioningConfiguration: { Status: 'Enabled' } }));

    // MWAA: an AVAILABLE environment on this bucket with nothing pinned yet; UpdateEnvironment refused.
    mwaa = await startAwsErrorServer((call: AwsCall) => {
      if (call.operation === 'GetEnvironment') {
        return {
          json: {
            Environment: {
              Name: ENV_NAME,
              Status: 'AVAILABLE',
              AirflowVersion: '2.11.2',
              SourceBucketArn: `arn:aws:s3:::${BUCKET}`,
              DagS3Path: 'dags',
            },
          },
        };
      }
      if (call.operation === 'UpdateEnvironment' && !acceptUpdates) {
        const version = (JSON.parse(call.body) as { PluginsS3ObjectVersion?: string }).PluginsS3ObjectVersion;
        return {
          error: {
            code: 'ValidationException',
            status: 400,
            message: `1 validation error detected: Value '${version}' at 'pluginsS3ObjectVersion' failed to satisfy constraint: Unable to read the version from the bucket`,
          },
        };
      }
      return { stall: true };
    });
    cwd = mkdtempSync(join(tmpdir(), 'deploy-errors-'));
    mkdirSync(join(cwd, 'config'));
    const config = readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8')
      .replace('bucket: airflow-gpu-cicd-dev', `bucket: ${BUCKET}`)
      .replace('  dev:\n', `  dev:\n    aws:\n      endpoints:\n        s3: ${motoUrl}\n        mwaa: ${mwaa.url}\n`);
    writeFileSync(join(cwd, 'config/config.yaml'), config);
    writeFileSync(join(cwd, 'config/config.schema.json'), readFileSync(join(repoRoot, 'config/config.schema.json')));
  }, 120_000);

  afterAll(async () => {
    s3?.destroy();
    await mwaa?.close();
    moto?.kill('SIGTERM');
  });

  it('says what was uploaded, that nothing was pinned, that the lock is free, and a rerun uploads nothing again', async () => {
    const run = await runCliAsync(['deploy', '--env', 'dev', '--yes', '--no-trigger', '--json', '--quiet'], {
      cwd,
      env,
      timeoutMs: 120_000,
    });
    expect(run.status).toBe(1);
    const current = async (key: string) => (await s3.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }))).VersionId;
    const requirements = await current('requirements.txt');
    const plugins = await current('plugins.zip');
    expect(requirements).toBeTruthy();
    expect(plugins).toBeTruthy();
    const lines = run.stderr.split('\n');
    expect(lines[0]).toBe(
      `MWAA UpdateEnvironment at 127.0.0.1:${mwaa.port} failed: ValidationException: 1 validation error detected: ` +
        `Value '${plugins}' at 'pluginsS3ObjectVersion' failed to satisfy constraint: Unable to read the version from the bucket`,
    );
    expect(lines[1]).toBe(
      'AWS refused PluginsS3ObjectVersion (from the version S3 gave the upload of mwaa.pluginsKey; is versioning enabled on mwaa.bucket?) ' +
        "in the request. Fix that setting, or read the environment's own settings in the MWAA console.",
    );
    expect(lines[2]).toBe(
      `Done before the failure: uploaded s3://${BUCKET}/requirements.txt (version ${requirements}), s3://${BUCKET}/plugins.zip (version ${plugins}); ` +
        'the environment was not updated (UpdateEnvironment was refused); the deploy lock was released.',
    );
    expect(lines[3]).toBe(
      'Deploy again: it plans from what is there now and uploads only what differs (the objects above are in place and are not uploaded again), ' +
        'then pins the new versions with UpdateEnvironment if they need it.',
    );
    expect(run.stderr).not.toMatch(/Unexpected error|\n\s+at /);

    const doc = JSON.parse(run.stdout) as { ok: boolean; error: Record<string, unknown> };
    expect(doc.ok).toBe(false);
    expect(doc.error).toMatchObject({
      service: 'MWAA',
      operation: 'UpdateEnvironment',
      code: 'ValidationException',
      kind: 'invalid-request',
      deploy: {
        written: [
          { key: 'requirements.txt', method: 'upload', versionId: requirements },
          { key: 'plugins.zip', method: 'upload', versionId: plugins },
        ],
        environmentUpdate: 'refused',
        lock: { key: 'deployments/lock.json', released: true },
      },
    });
    // The lock object is gone, the DAG was not uploaded (it goes up after the update).
    const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: BUCKET }));
    const live = (versions.Versions ?? []).filter((v) => v.IsLatest).map((v) => v.Key);
    expect(live.sort()).toEqual(['plugins.zip', 'requirements.txt']);

    // What the message promised a rerun does: nothing is uploaded again; only the pins change.
    const plan = await runCliAsync(['deploy', '--env', 'dev', '--plan', '--json'], { cwd, env, timeoutMs: 120_000 });
    expect(plan.status).toBe(0);
    const actions = (JSON.parse(plan.stdout) as { plan: { actions: Array<{ type: string; key?: string }> } }).plan.actions;
    expect(actions.filter((a) => a.key === 'requirements.txt' || a.key === 'plugins.zip').map((a) => a.type)).toEqual(['skip', 'skip']);
    expect(actions.some((a) => a.type === 'update-environment')).toBe(true);
    acceptUpdates = true;
  }, 240_000);
});
