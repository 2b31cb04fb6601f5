import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useTmpDir } from '../../support/tmp.js';
import { awsErrorContext, requestFields } from '../../../src/config/aws-error-context.js';
import { RemoteError, UserError } from '../../../src/errors.js';
import { deployRolePolicy } from '../../../src/generator/render-iam.js';
import { explainRemoteError, iamActionOf } from '../../../src/mwaa/aws-errors.js';
import { MwaaCliError } from '../../../src/mwaa/cli-client.js';
import { tagRemoteCall, type RemoteCall } from '../../../src/mwaa/remote-call.js';
import { AirflowRestError, WebLoginDeniedError } from '../../../src/mwaa/rest-client.js';
import { operationsWeCall, type ServiceName } from '../../support/aws-models.js';
import { alarmSchema, monitoringSchema } from '../../../src/config/schema.js';

const ctx = { envName: 'prod', localStack: false };
const S3_CALL: RemoteCall = {
  service: 'S3',
  operation: 'GetBucketVersioning',
  endpoint: 's3.eu-west-1.amazonaws.com',
  input: { Bucket: 'airflow-b' },
};

/** An SDK error as the clients throw it: a name, AWS's message, $metadata, and the call it came from. */
function sdkError(name: string, message: string, call: RemoteCall = S3_CALL, metadata: Record<string, unknown> = {}) {
  return tagRemoteCall(
    Object.assign(new Error(message), {
      name,
      $fault: 'client',
      $metadata: { httpStatusCode: 400, requestId: 'r-1', attempts: 1, ...metadata },
    }),
    call,
  );
}

const lines = (error: unknown) => (error as Error).message.split('\n');

describe('explainRemoteError', () => {
  it('missing credentials: the call, then how to provide them', () => {
    const e = tagRemoteCall(
      Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }),
      S3_CALL,
    );
    const [first, hint] = lines(explainRemoteError(e, { ...ctx, env: {} }));
    expect(first).toBe(
      'S3 GetBucketVersioning at s3.eu-west-1.amazonaws.com failed: CredentialsProviderError: Could not load credentials from any providers',
    );
    expect(hint).toMatch(/^No AWS credentials found.*--profile <name> \(or AWS_PROFILE\)/);
  });

  it('a refused connection to the local stack points at the stack', () => {
    const e = tagRemoteCall(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED', $metadata: { attempts: 3 } }),
      { ...S3_CALL, endpoint: '127.0.0.1:1' },
    );
    const out = explainRemoteError(e, { envName: 'local', localStack: true });
    expect(out).toBeInstanceOf(RemoteError);
    expect(lines(out)).toEqual([
      'S3 GetBucketVersioning at 127.0.0.1:1 failed: ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1',
      'Nothing listens at 127.0.0.1:1: the connection was refused (3 attempts). Is the local stack up? Run: npx mwaa-gpu-cicd local status',
    ]);
  });

  it('leaves other errors and UserErrors alone', () => {
    const user = new UserError('x');
    const other = new Error('boom');
    expect(explainRemoteError(user, ctx)).toBe(user);
    expect(explainRemoteError(other, ctx)).toBe(other);
    expect(explainRemoteError('text', ctx)).toBe('text');
  });
});

describe('explainRemoteError names what this run used', () => {
  const tmp = useTmpDir();
  const credentialsError = () =>
    tagRemoteCall(Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' }), S3_CALL);

  it('an AWS_PROFILE that names no profile says so and lists the profiles there are', () => {
    const home = tmp();
    mkdirSync(join(home, '.aws'));
    writeFileSync(
      join(home, '.aws/config'),
      '[default]\nregion = us-east-1\n[profile deployer]\nregion = eu-west-1\n[sso-session corp]\nsso_region = us-east-1\n',
    );
    writeFileSync(join(home, '.aws/credentials'), '[ci]\naws_access_key_id = x\n');
    expect(lines(explainRemoteError(credentialsError(), { ...ctx, env: { HOME: home, AWS_PROFILE: 'deploy' } }))[1]).toBe(
      'AWS_PROFILE is "deploy", but no profile of that name is in ~/.aws/config or ~/.aws/credentials (there: ci, default, deployer). ' +
        'Fix the name (--profile <name>), or create it: aws configure --profile deploy',
    );
  });

  it('a profile that exists but gives no credentials points at SSO login for it', () => {
    const home = tmp();
    mkdirSync(join(home, '.aws'));
    writeFileSync(join(home, '.aws/config'), '[profile deployer]\nsso_session = corp\n');
    const hint = lines(explainRemoteError(credentialsError(), { ...ctx, env: { HOME: home, AWS_PROFILE: 'deployer' } }))[1];
    expect(hint).toMatch(/^The AWS profile "deployer" gave no credentials .*aws sso login --profile deployer$/);
  });

  it('a network error names the region from the config, and endpoint overrides only when set', () => {
    const e = () =>
      tagRemoteCall(Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND', $metadata: { attempts: 1 } }), S3_CALL);
    const plain = lines(explainRemoteError(e(), { ...ctx, region: 'eu-west-1', env: {} }))[1];
    expect(plain).toMatch(/Check the network and the region \(mwaa\.region of prod is eu-west-1\)\.$/);
    expect(plain).not.toMatch(/AWS_REGION|AWS_ENDPOINT_URL/);
    const overridden = lines(explainRemoteError(e(), { ...ctx, region: 'eu-west-1', env: { AWS_ENDPOINT_URL_S3: 'http://x' } }))[1];
    expect(overridden).toMatch(/and AWS_ENDPOINT_URL_S3=http:\/\/x, which overrides the endpoint\.$/);
    const byConfig = lines(
      explainRemoteError(e(), {
        ...ctx,
        region: 'eu-west-1',
        env: {},
        endpointFields: { S3: { field: 'aws.endpoints.s3', value: 'http://y' } },
      }),
    )[1];
    expect(byConfig).toMatch(/and aws\.endpoints\.s3 in the config \(http:\/\/y\), which overrides the endpoint\.$/);
  });

  it('rejected credentials say to renew them', () => {
    const e = sdkError('ExpiredTokenException', 'The security token included in the request is expired');
    expect(lines(explainRemoteError(e, { ...ctx, env: { AWS_PROFILE: 'deployer' } }))).toEqual([
      'S3 GetBucketVersioning at s3.eu-west-1.amazonaws.com failed: ExpiredTokenException: The security token included in the request is expired',
      'AWS rejected the credentials. Get aws sso login --profile deployer (or new keys for that profile), then run the command again.',
    ]);
  });
});

describe('ValidationException names the request field and the config field it comes from', () => {
  const update: RemoteCall = {
    service: 'MWAA',
    operation: 'UpdateEnvironment',
    endpoint: 'api.airflow.eu-west-1.amazonaws.com',
    input: { Name: 'env-x' },
  };
  const context = { ...ctx, inputFields: requestFields() };
  // AWS's validation messages, in the forms the MWAA API answers them.
  it.each([
    [
      "1 validation error detected: Value 'not a version' at 'pluginsS3ObjectVersion' failed to satisfy constraint: Member must have length less than or equal to 1024",
      'PluginsS3ObjectVersion (from the version S3 gave the upload of mwaa.pluginsKey; is versioning enabled on mwaa.bucket?)',
    ],
    [
      "1 validation error detected: Value 'x y' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern",
      'Name (from mwaa.environmentName)',
    ],
    [
      'Invalid RequirementsS3Path: requirements/requirements.txt does not exist in the bucket',
      'RequirementsS3Path (from mwaa.requirementsKey)',
    ],
  ])('%s', (message, named) => {
    const [first, hint] = lines(explainRemoteError(sdkError('ValidationException', message, update), context));
    expect(first).toBe(`MWAA UpdateEnvironment at api.airflow.eu-west-1.amazonaws.com failed: ValidationException: ${message}`);
    expect(hint).toBe(`AWS refused ${named} in the request. Fix that setting, or read the environment's own settings in the MWAA console.`);
  });

  it('without a field in the message, it says the message names the value', () => {
    const hint = lines(explainRemoteError(sdkError('ValidationException', 'The environment is not ready', update), context))[1];
    expect(hint).toBe(
      "AWS refused the request as invalid; its message says which value. Fix the setting it names, or read the environment's own settings in the MWAA console.",
    );
  });

  it('every request field the explanation names is one the UpdateEnvironment input has (botocore)', async () => {
    const { readAwsErrorModels } = await import('../../support/aws-models.js');
    expect(readAwsErrorModels().services.MWAA.operations.UpdateEnvironment).toBeDefined();
    for (const field of Object.keys(requestFields())) expect(field).toMatch(/^[A-Z][A-Za-z0-9]+$/);
  });
});

describe('AccessDenied names the IAM action, which the policy file it names grants', () => {
  it('for every operation we call', async () => {
    const config = {
      envName: 'prod',
      mwaa: {
        environmentName: 'env-x',
        region: 'eu-west-1',
        accountId: '111122223333',
        kmsKeyArn: null,
        bucket: 'airflow-b',
        dagsPrefix: 'dags',
        pluginsKey: 'plugins.zip',
        requirementsKey: 'requirements.txt',
        deploymentsPrefix: 'deployments',
        webserverScheme: 'https' as const,
      },
      secrets: { sshKeyArn: 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:k-Ab12Cd', sshKeyJsonField: null, cacheTtlSeconds: 300 },
      monitoring: monitoringSchema.parse({
        metrics: { namespace: 'GpuCicd' },
        alarms: [
          alarmSchema.parse({
            name: 'run-failed',
            metric: 'RunSucceeded',
            statistic: 'Minimum',
            comparison: 'LessThanThreshold',
            threshold: 1,
          }),
        ],
      }),
    };
    const policy = JSON.stringify(deployRolePolicy(config));
    const calls = Object.entries(operationsWeCall()).flatMap(([service, ops]) =>
      ops.map((operation) => ({ service: service as ServiceName, operation })),
    );
    expect(calls.length).toBeGreaterThanOrEqual(16);
    for (const call of calls) {
      const action = iamActionOf(call);
      expect(action, `${call.service} ${call.operation}`).toBeDefined();
      for (const named of action!.match(/[a-z0-9]+:[A-Za-z0-9]+/g) ?? [])
        expect(policy, `${call.service} ${call.operation}: ${named}`).toContain(`"${named}"`);
    }
  });
});

describe('the Airflow web server', () => {
  const web: RemoteCall = {
    service: 'Airflow web server',
    operation: 'dag',
    endpoint: 'abc.airflow.eu-west-1.on.aws',
    input: { apiPrefix: '/api/v1' },
  };

  it('an HTTP status from the REST API names the host, the request and Airflow detail', () => {
    const e = tagRemoteCall(new AirflowRestError(500, 'GET', '/dags/gpu', JSON.stringify({ detail: 'database is locked' })), web);
    expect(lines(explainRemoteError(e, ctx))).toEqual([
      'Airflow web server GET /api/v1/dags/gpu at abc.airflow.eu-west-1.on.aws failed: HTTP 500: database is locked',
      'The Airflow web server had a problem: run the command again; if it keeps failing, look at the environment in the MWAA console.',
    ]);
  });

  it('a refused login names the IAM action and the policy', () => {
    const e = tagRemoteCall(new WebLoginDeniedError('/aws_mwaa/login answered HTTP 403'), { ...web, operation: 'variables' });
    const [first, hint] = lines(explainRemoteError(e, ctx));
    expect(first).toBe('Airflow web server variables at abc.airflow.eu-west-1.on.aws failed: HTTP 403: /aws_mwaa/login answered HTTP 403');
    expect(hint).toMatch(/airflow:CreateWebLoginToken .*dist-artifacts\/prod\/iam\/deploy-role-policy\.json/);
  });

  it('a CLI command MWAA does not support', () => {
    const e = tagRemoteCall(new MwaaCliError(500, 'dags list -o json', 'Internal Server Error'), { ...web, operation: 'run' });
    const [first, hint] = lines(explainRemoteError(e, ctx));
    expect(first).toBe(
      'Airflow web server POST /aws_mwaa/cli (dags list) at abc.airflow.eu-west-1.on.aws failed: HTTP 500: Internal Server Error',
    );
    expect(hint).toMatch(/^MWAA answers 500 to CLI commands it does not support/);
  });

  it('a request that never got an answer names the host and the time waited', () => {
    const timeout = Object.assign(new Error('The operation was aborted due to timeout'), { name: 'TimeoutError' });
    const e = tagRemoteCall(timeout, { ...web, operation: 'GET /api/v1/variables', elapsedMs: 60_000 });
    expect(lines(explainRemoteError(e, ctx))).toEqual([
      'Airflow web server GET /api/v1/variables at abc.airflow.eu-west-1.on.aws failed: TimeoutError: The operation was aborted due to timeout',
      'abc.airflow.eu-west-1.on.aws did not answer within about 60 s. Check the network path to the web server (a private environment is reachable only from its VPC), or rerun later.',
    ]);
  });
});

describe('awsErrorContext', () => {
  it('names the endpoint fields a real environment sets, never the local stack', () => {
    const config = {
      envName: 'prod',
      localStack: false,
      mwaa: { region: 'eu-west-1' } as never,
      aws: { endpoints: { s3: 'https://s3.example.internal' } },
    };
    expect(awsErrorContext(config, {}).endpointFields).toEqual({ S3: { field: 'aws.endpoints.s3', value: 'https://s3.example.internal' } });
    expect(awsErrorContext({ ...config, localStack: true }, {}).endpointFields).toEqual({});
  });
});

describe('an answer without an AWS error document', () => {
  it('a 502 page from a proxy is AWS (or what stands in front of it) failing: the status is the code', () => {
    const proxy = tagRemoteCall(
      Object.assign(
        new SyntaxError(
          'Unexpected token < in JSON\n  Deserialization error: to see the raw response, inspect the hidden field {error}.$response on this object.',
        ),
        {
          $metadata: { attempts: 3 },
          $response: { statusCode: 502, headers: { 'content-type': 'text/html' } },
        },
      ),
      { service: 'MWAA', operation: 'GetEnvironment', endpoint: 'api.airflow.eu-west-1.amazonaws.com' },
    );
    expect(lines(explainRemoteError(proxy, { ...ctx, region: 'eu-west-1' }))).toEqual([
      'MWAA GetEnvironment at api.airflow.eu-west-1.amazonaws.com failed: HTTP 502',
      'AWS had a problem answering (HTTP 502); retried 2 times (3 attempts). Run the command again; if it keeps failing, see the AWS Health Dashboard for MWAA in eu-west-1.',
    ]);
  });
});

describe('an error of ours raised inside an AWS call', () => {
  it('a deadline of the request handler: the call first, then its own words', () => {
    const deadline = tagRemoteCall(
      Object.assign(new UserError('S3 at 127.0.0.1:9000 did not answer within 60 s, 3 attempts. Check the endpoint and the network.'), {
        name: 'TimeoutError',
        code: 'ETIMEDOUT',
        deadlineMs: 60_000,
        $metadata: { attempts: 3 },
      }),
      { ...S3_CALL, endpoint: '127.0.0.1:9000' },
    );
    const explained = explainRemoteError(deadline, ctx) as RemoteError;
    expect(explained).toBeInstanceOf(RemoteError);
    expect(lines(explained)).toEqual([
      'S3 GetBucketVersioning at 127.0.0.1:9000 failed: ETIMEDOUT',
      'S3 at 127.0.0.1:9000 did not answer within 60 s, 3 attempts. Check the endpoint and the network.',
    ]);
    expect(explained.facts).toMatchObject({ kind: 'timeout', attempts: 3 });
  });

  it('an answer over its cap', () => {
    const big = tagRemoteCall(
      Object.assign(new UserError('S3 at h sent an answer larger than 16 MiB.'), { name: 'AnswerTooLargeError' }),
      S3_CALL,
    );
    expect(lines(explainRemoteError(big, ctx))).toEqual([
      'S3 GetBucketVersioning at s3.eu-west-1.amazonaws.com failed: AnswerTooLargeError',
      'S3 at h sent an answer larger than 16 MiB.',
    ]);
  });

  it('a UserError from no call stays as it is', () => {
    const plain = new UserError('Aborted: nothing was changed.');
    expect(explainRemoteError(plain, ctx)).toBe(plain);
  });
});
