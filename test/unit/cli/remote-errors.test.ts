/**
 * The real CLI (dist/cli.js) against AWS stand-ins that answer errors in each service's wire
 * format (test/support/aws-errors-server.ts): the first line of stderr names the service, the
 * endpoint, the operation, AWS's code and message; the next says what to do; --json gives the
 * same as one document; no stack trace without --verbose.
 */
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AwsAnswer, type AwsCall, type AwsErrorServer, NOT_AWS_404, startAwsErrorServer } from '../../support/aws-errors-server.js';
import { type CliRun, repoRoot, runCliAsync } from '../../support/cli.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir();
const shipped = readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8');
const servers: AwsErrorServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(answer: (call: AwsCall) => AwsAnswer): Promise<AwsErrorServer> {
  const server = await startAwsErrorServer(answer);
  servers.push(server);
  return server;
}

/** A project whose dev environment talks to these endpoints (aws.endpoints). */
function project(endpoints: Record<string, string> = {}): string {
  const dir = tmp();
  mkdirSync(join(dir, 'config'));
  const block = Object.keys(endpoints).length
    ? `    aws:\n      endpoints:\n${Object.entries(endpoints)
        .map(([k, v]) => `        ${k}: ${v}\n`)
        .join('')}`
    : '';
  writeFileSync(join(dir, 'config/config.yaml'), shipped.replace('  dev:\n', `  dev:\n${block}`));
  cpSync(join(repoRoot, 'config/config.schema.json'), join(dir, 'config/config.schema.json'));
  return dir;
}

/** Static credentials and nothing else of the machine's AWS setup. */
function awsEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = tmp();
  return {
    HOME: home,
    AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'secret',
    AWS_SESSION_TOKEN: '',
    AWS_PROFILE: '',
    AWS_REGION: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: join(home, 'none'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'none'),
    ...extra,
  };
}

function expectNoStack(run: CliRun): void {
  expect(run.stderr).not.toContain('Unexpected error');
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

const stall: AwsAnswer = { stall: true };

describe('deploy --plan against AWS errors', () => {
  it('MWAA throttling: retried as the SDK did, try again later; --json has the same facts', async () => {
    const mwaa = await serve(() => ({ error: { code: 'ThrottlingException', status: 400, message: 'Rate exceeded' } }));
    const s3 = await serve(() => stall);
    const cwd = project({ s3: s3.url, mwaa: mwaa.url });
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan'], { cwd, env: awsEnv() });
    expect(run.status).toBe(1);
    const [first, hint] = run.stderr.split('\n');
    expect(first).toBe(`MWAA GetEnvironment at 127.0.0.1:${mwaa.port} failed: ThrottlingException: Rate exceeded`);
    const attempts = mwaa.calls.length;
    expect(attempts).toBe(3);
    expect(hint).toBe(
      'AWS throttled the request: too many requests to MWAA from this account and region; retried 2 times (3 attempts). Try again in a few minutes.',
    );
    expectNoStack(run);

    const json = await runCliAsync(['deploy', '--env', 'dev', '--plan', '--json'], { cwd, env: awsEnv() });
    expect(json.status).toBe(1);
    const doc = JSON.parse(json.stdout) as { ok: boolean; error: Record<string, unknown> };
    expect(doc).toEqual({
      ok: false,
      command: 'deploy',
      error: {
        message: expect.stringMatching(
          /^MWAA GetEnvironment at 127\.0\.0\.1:\d+ failed: ThrottlingException: Rate exceeded\nAWS throttled/,
        ),
        exitCode: 1,
        service: 'MWAA',
        operation: 'GetEnvironment',
        endpoint: `127.0.0.1:${mwaa.port}`,
        code: 'ThrottlingException',
        remoteMessage: 'Rate exceeded',
        kind: 'throttled',
        httpStatus: 400,
        requestId: expect.any(String),
        attempts: 3,
      },
    });
    expect(json.stderr.split('\n')[0]).toBe(first);
  }, 60_000);

  it('S3 AccessDenied names the IAM action and the policy file to attach', async () => {
    const s3 = await serve((call) =>
      call.operation === 'GetBucketVersioning' ? { error: { code: 'AccessDenied', status: 403, message: 'Access Denied' } } : stall,
    );
    const mwaa = await serve(() => stall);
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan'], { cwd: project({ s3: s3.url, mwaa: mwaa.url }), env: awsEnv() });
    expect(run.status).toBe(1);
    expect(run.stderr.split('\n').slice(0, 2)).toEqual([
      `S3 GetBucketVersioning at 127.0.0.1:${s3.port} failed: AccessDenied: Access Denied`,
      'The credentials in use may not call s3:GetBucketVersioning on bucket airflow-gpu-cicd-dev: attach dist-artifacts/dev/iam/deploy-role-policy.json ' +
        'to the role or user that runs this (run generate first if it is not there; see docs/MWAA_SETUP.md).',
    ]);
    expectNoStack(run);
  }, 60_000);

  it('an MWAA 5xx: AWS had a problem, retried, run again', async () => {
    const mwaa = await serve(() => ({ error: { code: 'InternalServerException', status: 500, message: 'Internal error' } }));
    const s3 = await serve(() => stall);
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan'], { cwd: project({ s3: s3.url, mwaa: mwaa.url }), env: awsEnv() });
    expect(run.status).toBe(1);
    expect(run.stderr.split('\n').slice(0, 2)).toEqual([
      `MWAA GetEnvironment at 127.0.0.1:${mwaa.port} failed: InternalServerException: Internal error`,
      'AWS had a problem answering (HTTP 500); retried 2 times (3 attempts). Run the command again; if it keeps failing, see the AWS Health Dashboard for MWAA in us-east-1.',
    ]);
    expectNoStack(run);
  }, 60_000);

  it('no such MWAA environment: which name, from which config field, and how to create it', async () => {
    const mwaa = await serve(() => ({
      error: { code: 'ResourceNotFoundException', status: 404, message: 'Environment gpu-cicd-dev not found' },
    }));
    const s3 = await serve(() => stall);
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan'], { cwd: project({ s3: s3.url, mwaa: mwaa.url }), env: awsEnv() });
    expect(run.stderr.split('\n').slice(0, 2)).toEqual([
      `MWAA GetEnvironment at 127.0.0.1:${mwaa.port} failed: ResourceNotFoundException: Environment gpu-cicd-dev not found`,
      'No MWAA environment named gpu-cicd-dev (mwaa.environmentName) in us-east-1: create it first (see docs/MWAA_SETUP.md), or fix the name and mwaa.region.',
    ]);
    expectNoStack(run);
  }, 60_000);

  it('an endpoint that is not AWS: names the variable that points there', async () => {
    const web = await serve(() => NOT_AWS_404);
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan', '--json'], {
      cwd: project(),
      env: awsEnv({ AWS_ENDPOINT_URL: web.url }),
    });
    expect(run.status).toBe(1);
    const [first, hint] = run.stderr.split('\n');
    expect(first).toMatch(new RegExp(`^(S3|MWAA) \\w+ at 127\\.0\\.0\\.1:${web.port} failed: HTTP 404$`));
    expect(hint).toBe(
      `127.0.0.1:${web.port} answered HTTP 404 (text/html) without an AWS request id: it is not an AWS API. ` +
        `Check AWS_ENDPOINT_URL=${web.url}: it points at something that is not ${first!.split(' ')[0]}.`,
    );
    const doc = JSON.parse(run.stdout) as { error: Record<string, unknown> };
    expect(doc.error).toMatchObject({ kind: 'not-aws', code: 'HTTP 404', endpoint: `127.0.0.1:${web.port}` });
    expectNoStack(run);
  }, 60_000);

  it('an endpoint nothing listens on: names it, and the config field that set it', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const mwaa = await serve(() => stall);
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan'], {
      cwd: project({ s3: `http://127.0.0.1:${port}`, mwaa: mwaa.url }),
      env: awsEnv(),
    });
    expect(run.status).toBe(1);
    const [first, hint] = run.stderr.split('\n');
    expect(first).toMatch(
      new RegExp(`^S3 (GetBucketVersioning|HeadObject) at 127\\.0\\.0\\.1:${port} failed: ECONNREFUSED: connect ECONNREFUSED`),
    );
    expect(hint).toBe(
      `Nothing listens at 127.0.0.1:${port}: the connection was refused (3 attempts). Check the network and the region (mwaa.region of dev is us-east-1), ` +
        `and aws.endpoints.s3 in the config (http://127.0.0.1:${port}), which overrides the endpoint.`,
    );
    expectNoStack(run);
  }, 60_000);

  it('--verbose adds the cause chain with its stack', async () => {
    const mwaa = await serve(() => ({ error: { code: 'ValidationException', status: 400, message: "Value 'x' at 'name' failed" } }));
    const s3 = await serve(() => stall);
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan', '--verbose'], {
      cwd: project({ s3: s3.url, mwaa: mwaa.url }),
      env: awsEnv(),
    });
    expect(run.stderr).toMatch(
      /^MWAA GetEnvironment at .* failed: ValidationException: Value 'x' at 'name' failed\nAWS refused Name \(from mwaa\.environmentName\)/,
    );
    expect(run.stderr).toMatch(/\ncause: ValidationException: Value 'x' at 'name' failed\n\s+at /);
  }, 60_000);
});

describe('check against Secrets Manager errors', () => {
  it('no such secret: which secret, from which config field, how to create it', async () => {
    const sm = await serve(() => ({
      error: { code: 'ResourceNotFoundException', status: 400, message: "Secrets Manager can't find the specified secret." },
    }));
    const run = await runCliAsync(['check', '--env', 'dev'], { cwd: project({ secretsManager: sm.url }), env: awsEnv() });
    expect(run.status).toBe(1);
    const arn = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:gpu-server-ssh-key-Ab12Cd';
    expect(run.stderr.split('\n').slice(0, 2)).toEqual([
      `Secrets Manager GetSecretValue at 127.0.0.1:${sm.port} failed: ResourceNotFoundException: Secrets Manager can't find the specified secret.`,
      `No secret ${arn} (secrets.sshKeyArn) in us-east-1: create it with the SSH private key ` +
        '(aws secretsmanager create-secret --name gpu-server-ssh-key --secret-string file://<key file> --region us-east-1) and put its ARN in the config, or fix the ARN.',
    ]);
    expectNoStack(run);
    const json = await runCliAsync(['check', '--env', 'dev', '--json'], { cwd: project({ secretsManager: sm.url }), env: awsEnv() });
    expect((JSON.parse(json.stdout) as { error: Record<string, unknown> }).error).toMatchObject({
      service: 'Secrets Manager',
      operation: 'GetSecretValue',
      code: 'ResourceNotFoundException',
      kind: 'not-found',
    });
  }, 60_000);

  it('expired credentials: how to refresh them', async () => {
    const sm = await serve(() => ({
      error: { code: 'ExpiredTokenException', status: 400, message: 'The security token included in the request is expired' },
    }));
    const run = await runCliAsync(['check', '--env', 'dev'], { cwd: project({ secretsManager: sm.url }), env: awsEnv() });
    expect(run.stderr.split('\n').slice(0, 2)).toEqual([
      `Secrets Manager GetSecretValue at 127.0.0.1:${sm.port} failed: ExpiredTokenException: The security token included in the request is expired`,
      'AWS rejected the credentials. Get new credentials (aws sso login, or new keys), then run the command again.',
    ]);
  }, 60_000);
});

describe('a bad endpoint variable', () => {
  it('AWS_ENDPOINT_URL that is not a URL is named, not a TypeError', async () => {
    const run = await runCliAsync(['deploy', '--env', 'dev', '--plan'], { cwd: project(), env: awsEnv({ AWS_ENDPOINT_URL: 'not a url' }) });
    expect(run.status).toBe(1);
    const [first, hint] = run.stderr.split('\n');
    expect(first).toMatch(/^(S3|MWAA) \w+ failed: Invalid URL/);
    expect(hint).toBe('AWS_ENDPOINT_URL=not a url is not a URL the SDK can use: give one such as https://host:port, or unset it.');
    expectNoStack(run);
  }, 60_000);
});
