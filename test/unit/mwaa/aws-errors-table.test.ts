/**
 * Every AWS error each call we make can meet, from botocore's models (the error shapes each
 * operation declares) crossed with the errors any AWS API can answer (botocore's throttling and
 * transient lists, AWS's common errors), sent in the service's own wire format by a local server
 * to the SDK's real clients from src/mwaa/clients.ts, then explained. What each must say comes
 * from the contract (by the code's group), not from the product's own tables.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsErrorContext } from '../../../src/config/aws-error-context.js';
import { RemoteError, type RemoteFacts } from '../../../src/errors.js';
import { explainRemoteError } from '../../../src/mwaa/aws-errors.js';
import { createCloudWatchClient, createMwaaClient, createS3Client, createSecretsManagerClient } from '../../../src/mwaa/clients.js';
import { transportLimits, type TransportLimits } from '../../../src/mwaa/limits.js';
import { type AwsErrorServer, NOT_AWS_404, startAwsErrorServer } from '../../support/aws-errors-server.js';
import { operationsWeCall, readAwsErrorModels, type ServiceName } from '../../support/aws-models.js';
import { mapWithConcurrency } from '../../../src/util/concurrency.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const models = readAwsErrorModels();
const REGION = 'eu-west-1';
const ENV = 'prod';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:gpu-server-ssh-key-Ab12Cd';

/** A minimal valid input of every operation we call; a call added to src/ without one fails here. */
const INPUTS: Record<string, Record<string, unknown>> = {
  'S3 CopyObject': { Bucket: 'airflow-b', Key: 'plugins.zip', CopySource: 'airflow-b/plugins.zip?versionId=v1' },
  'S3 DeleteObject': { Bucket: 'airflow-b', Key: 'deployments/lock.json' },
  'S3 GetBucketVersioning': { Bucket: 'airflow-b' },
  'S3 GetObject': { Bucket: 'airflow-b', Key: 'deployments/records/r.json' },
  'S3 HeadObject': { Bucket: 'airflow-b', Key: 'plugins.zip' },
  'S3 ListObjectsV2': { Bucket: 'airflow-b', Prefix: 'deployments/records/' },
  'S3 PutObject': { Bucket: 'airflow-b', Key: 'dags/gpu_server_cicd_dag.py', Body: 'x' },
  'MWAA CreateCliToken': { Name: 'env-x' },
  'MWAA CreateWebLoginToken': { Name: 'env-x' },
  'MWAA GetEnvironment': { Name: 'env-x' },
  'MWAA UpdateEnvironment': { Name: 'env-x', PluginsS3Path: 'plugins.zip', PluginsS3ObjectVersion: 'v1' },
  'Secrets Manager GetSecretValue': { SecretId: SECRET },
  'CloudWatch DeleteAlarms': { AlarmNames: ['env-x-run-failed'] },
  'CloudWatch DescribeAlarms': { AlarmNamePrefix: 'env-x-' },
  'CloudWatch ListTagsForResource': { ResourceARN: 'arn:aws:cloudwatch:eu-west-1:111122223333:alarm:env-x-run-failed' },
  'CloudWatch PutMetricAlarm': {
    AlarmName: 'env-x-run-failed',
    Namespace: 'GpuCicd',
    MetricName: 'RunFailed',
    Statistic: 'Sum',
    Period: 60,
    EvaluationPeriods: 1,
    Threshold: 1,
    ComparisonOperator: 'GreaterThanOrEqualToThreshold',
  },
};

const PACKAGES: Record<Exclude<ServiceName, never>, string> = {
  S3: '@aws-sdk/client-s3',
  MWAA: '@aws-sdk/client-mwaa',
  'Secrets Manager': '@aws-sdk/client-secrets-manager',
  CloudWatch: '@aws-sdk/client-cloudwatch',
};

type Kind = RemoteFacts['kind'];
interface Case {
  service: ServiceName;
  operation: string;
  code: string;
  status: number;
  fault?: 'client' | 'server';
  declared: boolean;
}

/** What any AWS API may answer, whatever the operation declares. */
const GENERIC: Array<{ code: string; status: number }> = [
  ...models.retry.throttling.map((code) => ({ code, status: code === 'SlowDown' ? 503 : code === 'TooManyRequestsException' ? 429 : 400 })),
  ...models.retry.transient.map((code) => ({ code, status: code === 'RequestTimeout' ? 400 : 408 })),
  ...models.retry.transientStatus.map((status) => ({ code: status === 503 ? 'ServiceUnavailable' : 'InternalError', status })),
  { code: 'InternalServerException', status: 500 },
  { code: 'InternalFailure', status: 500 },
  { code: 'AccessDenied', status: 403 },
  { code: 'AccessDeniedException', status: 400 },
  { code: 'ValidationException', status: 400 },
  { code: 'ExpiredToken', status: 400 },
  { code: 'ExpiredTokenException', status: 400 },
  { code: 'InvalidClientTokenId', status: 403 },
  { code: 'UnrecognizedClientException', status: 400 },
  { code: 'InvalidAccessKeyId', status: 403 },
  { code: 'SignatureDoesNotMatch', status: 403 },
  { code: 'ResourceNotFoundException', status: 404 },
];
/** What only S3 answers. */
const GENERIC_S3: Array<{ code: string; status: number }> = [
  { code: 'NoSuchBucket', status: 404 },
  { code: 'NoSuchKey', status: 404 },
];

/** The contract's groups: what the message must say for each code. */
function expectedKind(c: Case, method: string): Kind {
  // A HEAD answer has no body: only its status can be told.
  if (method === 'HEAD') {
    // S3's 503 is SlowDown as often as an outage: the message says both, as throttling.
    if (c.status === 429 || (c.service === 'S3' && c.status === 503)) return 'throttled';
    return c.status === 403 ? 'access-denied' : c.status === 404 ? 'not-found' : c.status >= 500 ? 'server-error' : 'invalid-request';
  }
  if (models.retry.throttling.includes(c.code) || c.status === 429) return 'throttled';
  if (
    [
      'ExpiredToken',
      'ExpiredTokenException',
      'InvalidClientTokenId',
      'UnrecognizedClientException',
      'InvalidAccessKeyId',
      'SignatureDoesNotMatch',
    ].includes(c.code)
  ) {
    return 'credentials-rejected';
  }
  if (c.code === 'AccessDenied' || c.code === 'AccessDeniedException') return 'access-denied';
  if (['ResourceNotFoundException', 'ResourceNotFound', 'NoSuchBucket', 'NoSuchKey'].includes(c.code)) return 'not-found';
  if (c.fault === 'server' || models.retry.transient.includes(c.code) || c.status >= 500) return 'server-error';
  return 'invalid-request';
}

function cases(): Case[] {
  const out: Case[] = [];
  for (const [service, ops] of Object.entries(operationsWeCall()) as Array<[ServiceName, string[]]>) {
    for (const operation of ops) {
      const op = models.services[service].operations[operation]!;
      const seen = new Set<string>();
      for (const e of op.errors) {
        seen.add(e.code);
        out.push({ service, operation, code: e.code, status: e.status, fault: e.fault, declared: true });
      }
      for (const g of [...GENERIC, ...(service === 'S3' ? GENERIC_S3 : [])]) {
        if (!seen.has(g.code)) out.push({ service, operation, ...g, declared: false });
      }
    }
  }
  return out;
}

async function send(
  service: ServiceName,
  operation: string,
  endpoint: string,
  tune?: (client: { config: unknown }) => void,
  limits?: TransportLimits,
) {
  // The local stack's static credentials: no credential chain on a test machine.
  const target = { region: REGION, endpoint, localStack: true, maxAttempts: 2, ...(limits ? { limits } : {}) };
  const client =
    service === 'S3'
      ? createS3Client(target)
      : service === 'MWAA'
        ? createMwaaClient(target)
        : service === 'Secrets Manager'
          ? createSecretsManagerClient(target)
          : createCloudWatchClient(target);
  tune?.(client as { config: unknown });
  const input = INPUTS[`${service} ${operation}`];
  if (!input) throw new Error(`no input for ${service} ${operation}: add one to INPUTS`);
  const sdk = (await import(PACKAGES[service])) as Record<string, new (input: unknown) => unknown>;
  try {
    await (client as { send: (command: unknown) => Promise<unknown> }).send(new sdk[`${operation}Command`]!(input));
    return undefined;
  } catch (error) {
    return error;
  } finally {
    (client as { destroy: () => void }).destroy();
  }
}

const context = awsErrorContext(
  { envName: ENV, localStack: false, mwaa: { region: REGION } as never, aws: { endpoints: {} } },
  { HOME: '/nonexistent' },
);

/** The words the line after the first must hold, per group. */
function expectHint(kind: Kind, c: Case, hint: string, attempts: number, code: string): void {
  const retried = attempts <= 1 ? /not retried/ : new RegExp(`retried ${attempts - 1} times? \\(${attempts} attempts\\)`);
  switch (kind) {
    case 'throttled':
      expect(hint).toMatch(retried);
      expect(hint).toMatch(/Try again in a few minutes/);
      break;
    case 'server-error':
      expect(hint).toMatch(/AWS had a problem/);
      expect(hint).toMatch(retried);
      expect(hint).toMatch(/Run the command again/);
      break;
    case 'credentials-rejected':
      expect(hint).toMatch(/AWS rejected the credentials\. Get new credentials/);
      break;
    case 'access-denied':
      expect(hint).toMatch(/may not call (s3|airflow|secretsmanager|cloudwatch):\w+/);
      expect(hint).toContain(`dist-artifacts/${ENV}/iam/deploy-role-policy.json`);
      break;
    case 'not-found':
      if (c.service === 'MWAA') expect(hint).toMatch(/^No MWAA environment named env-x \(mwaa\.environmentName\) in eu-west-1: create it/);
      else if (c.service === 'Secrets Manager') expect(hint).toContain(`No secret ${SECRET} (secrets.sshKeyArn) in eu-west-1: create it`);
      else if (code === 'NoSuchBucket')
        expect(hint).toMatch(/^No bucket named airflow-b \(mwaa\.bucket\)\. Create it .*put-bucket-versioning/);
      else expect(hint).toMatch(/(does not exist|no longer exists)/);
      break;
    case 'invalid-request':
      expect(hint).toMatch(/^AWS refused /);
      break;
    default:
      throw new Error(`unexpected kind ${kind}`);
  }
}

describe('every AWS error of every call we make, explained', () => {
  let server: AwsErrorServer;
  const byCase = new Map<string, Case>();
  const all = cases();
  /** The first line of each case, for the report table. */
  const table: string[] = [];

  beforeAll(async () => {
    server = await startAwsErrorServer((call) => {
      const c = byCase.get(String(call.headers['x-test-case']));
      if (!c) return NOT_AWS_404;
      return {
        error: { code: c.code, status: c.status, message: `AWS says ${c.code} to ${c.operation}`, ...(c.fault ? { fault: c.fault } : {}) },
      };
    });
  });
  afterAll(async () => {
    await server.close();
    if (process.env.AWS_ERRORS_TABLE) {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(process.env.AWS_ERRORS_TABLE, `${table.sort().join('\n')}\n`);
    }
  });

  it('walks the declared errors and the generic ones of each operation we call', () => {
    const calls = operationsWeCall();
    // What the models were extracted for is what the source calls now.
    for (const [service, ops] of Object.entries(calls) as Array<[ServiceName, string[]]>) {
      expect(Object.keys(models.services[service].operations).sort()).toEqual(ops);
    }
    expect(Object.values(calls).flat().length).toBeGreaterThanOrEqual(16);
    expect(all.filter((c) => c.declared).length).toBeGreaterThanOrEqual(25);
    expect(all.length).toBeGreaterThan(16 * GENERIC.length);
  });

  it('names service, operation, endpoint, code and AWS message, then what it means and what to do', async () => {
    const failures: string[] = [];
    await mapWithConcurrency(all, 24, async (c, index) => {
      const id = String(index);
      byCase.set(id, c);
      const error = await send(c.service, c.operation, server.url, (client) => {
        // Marks the requests of this case for the server.
        (client as unknown as { middlewareStack: { add: (m: unknown, o: unknown) => void } }).middlewareStack.add(
          (next: (a: { request: { headers: Record<string, string> } }) => unknown) =>
            (args: { request: { headers: Record<string, string> } }) => {
              args.request.headers['x-test-case'] = id;
              return next(args);
            },
          { step: 'build' },
        );
      });
      const seen = server.calls.filter((call) => call.headers['x-test-case'] === id);
      const method = seen[0]?.method ?? '?';
      const label = `${c.service} ${c.operation} ${c.code} (${c.status})`;
      try {
        expect(error, label).toBeDefined();
        const explained = explainRemoteError(error, context);
        expect(explained, label).toBeInstanceOf(RemoteError);
        const remote = explained as RemoteError;
        const [first, hint = ''] = remote.message.split('\n');
        const bodyless = method === 'HEAD';
        const code = bodyless ? `HTTP ${c.status}` : c.code;
        const endpoint = `127.0.0.1:${server.port}`;
        expect(first, label).toBe(
          `${c.service} ${c.operation} at ${endpoint} failed: ${code}${bodyless ? '' : `: AWS says ${c.code} to ${c.operation}`}`,
        );
        const kind = expectedKind(c, method);
        expect(remote.facts, label).toMatchObject({
          service: c.service,
          operation: c.operation,
          endpoint,
          code,
          kind,
          httpStatus: c.status,
          attempts: seen.length,
        });
        expect(remote.facts.requestId, label).toMatch(/^[0-9a-f-]{36}$/);
        expect(remote.exitCode).toBe(1);
        expectHint(kind, c, hint, seen.length, code);
        table.push(`| ${c.code} | ${c.service} ${c.operation} | ${kind} | \`${String(first).replace(`:${server.port}`, ':PORT')}\` |`);
      } catch (failure) {
        failures.push(`${label}: ${(failure as Error).message.split('\n').slice(0, 6).join(' / ')}`);
      }
    });
    expect(failures).toEqual([]);
  }, 240_000);
});

describe('transport failures of every call we make', () => {
  const ops = Object.entries(operationsWeCall()).flatMap(([service, list]) =>
    list.map((operation) => ({ service: service as ServiceName, operation })),
  );

  it('a refused connection names the endpoint that did not answer and what to check', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await mapWithConcurrency(ops, 8, async ({ service, operation }) => {
      const remote = explainRemoteError(await send(service, operation, `http://127.0.0.1:${port}`), context) as RemoteError;
      const [first, hint] = remote.message.split('\n');
      expect(first).toMatch(new RegExp(`^${service} ${operation} at 127\\.0\\.0\\.1:${port} failed: ECONNREFUSED: connect ECONNREFUSED`));
      expect(hint).toBe(
        `Nothing listens at 127.0.0.1:${port}: the connection was refused (2 attempts). Check the network and the region (mwaa.region of prod is eu-west-1).`,
      );
      expect(remote.facts).toMatchObject({ kind: 'unreachable', code: 'ECONNREFUSED', attempts: 2 });
    });
  });

  it('an endpoint that stalls names the bound it did not answer within', async () => {
    const server = await startAwsErrorServer(() => ({ stall: true }));
    // Every attempt ends at the client's own deadline (request-deadline.ts), whichever handler the client has.
    const limits = { ...transportLimits({}), requestTimeoutMs: 300, objectTransferTimeoutMs: 300 };
    try {
      await mapWithConcurrency(ops, 16, async ({ service, operation }) => {
        const remote = explainRemoteError(await send(service, operation, server.url, undefined, limits), context) as RemoteError;
        const [first, hint] = remote.message.split('\n');
        expect(first).toMatch(
          new RegExp(
            `^${service} ${operation} at 127\\.0\\.0\\.1:${server.port} failed: ETIMEDOUT: (did not answer|went silent for|did not finish its answer) (within )?0\\.3 s, 2 attempts`,
          ),
        );
        expect(hint).toMatch(/^Check the endpoint and the network\. /);
        expect(remote.facts).toMatchObject({ kind: 'timeout', attempts: 2 });
        // Our deadline's words are shown, never reported as the remote's own message.
        expect(remote.facts.remoteMessage).toBeUndefined();
      });
    } finally {
      await server.close();
    }
  });

  it('an endpoint that is not AWS (an HTML 404) says so and names the override that points there', async () => {
    const server = await startAwsErrorServer(() => NOT_AWS_404);
    try {
      await mapWithConcurrency(ops, 16, async ({ service, operation }) => {
        const variable = {
          S3: 'AWS_ENDPOINT_URL_S3',
          MWAA: 'AWS_ENDPOINT_URL_MWAA',
          'Secrets Manager': 'AWS_ENDPOINT_URL_SECRETS_MANAGER',
          CloudWatch: 'AWS_ENDPOINT_URL_CLOUDWATCH',
        }[service];
        const withOverride = { ...context, env: { [variable]: server.url } };
        const remote = explainRemoteError(await send(service, operation, server.url), withOverride) as RemoteError;
        const [first, hint] = remote.message.split('\n');
        expect(first).toBe(`${service} ${operation} at 127.0.0.1:${server.port} failed: HTTP 404`);
        expect(hint).toMatch(
          new RegExp(
            `^127\\.0\\.0\\.1:${server.port} answered HTTP 404( \\(text/html\\))? without an AWS request id: it is not an AWS API\\. Check ${variable}=http://127\\.0\\.0\\.1:${server.port}: it points at something that is not ${service}\\.$`,
          ),
        );
        expect(remote.facts).toMatchObject({ kind: 'not-aws', code: 'HTTP 404' });
      });
    } finally {
      await server.close();
    }
  });
});
