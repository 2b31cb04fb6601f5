/**
 * Every request ends and reads a bounded amount, whatever the remote does: the AWS SDK clients of
 * clients.ts (connect timeout, a deadline per attempt that covers the body, a cap on answers,
 * bounded retries) and the MWAA web server clients (rest-client.ts, cli-client.ts: a deadline
 * that covers the body, a cap on what is read), against the hostile harness on 127.0.0.1.
 */
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { GetEnvironmentCommand } from '@aws-sdk/client-mwaa';
import { GetBucketVersioningCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterEach, describe, expect, it } from 'vitest';
import { createCloudWatchClient, createMwaaClient, createS3Client, createSecretsManagerClient } from '../../../src/mwaa/clients.js';
import { createMwaaCli } from '../../../src/mwaa/cli-client.js';
import { DEFAULT_LIMITS, transportLimits, type TransportLimits } from '../../../src/mwaa/limits.js';
import { createAirflowRest } from '../../../src/mwaa/rest-client.js';
import type { AwsService } from '../../support/hostile/botocore-models.js';
import { type Hostility, HostileHttpServer, type Service } from '../../support/hostile/http-server.js';
import { cloudWatchService } from '../../support/hostile/services/cloudwatch.js';
import { mwaaService } from '../../support/hostile/services/mwaa.js';
import { s3Service } from '../../support/hostile/services/s3.js';
import { secretsManagerService } from '../../support/hostile/services/secrets-manager.js';
import { webServerService } from '../../support/hostile/services/web-server.js';
import { newState } from '../../support/hostile/world.js';
import { timedRejection } from '../../support/hostile/rejection.js';

const servers: HostileHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(service: Service, hostility: Hostility, hugeBytes?: number): Promise<HostileHttpServer> {
  const server = new HostileHttpServer(service, hostility, hugeBytes);
  servers.push(server);
  await server.listen();
  return server;
}

/** Short bounds, so that each case costs a second or two; the defaults are tested below. */
const LIMITS: TransportLimits = { ...DEFAULT_LIMITS, connectTimeoutMs: 500, requestTimeoutMs: 600, objectTransferTimeoutMs: 600 };
const ATTEMPTS = 2;
/**
 * What a bounded call may take past its deadlines on a busy 2-core machine. An unbounded one never
 * ends (the remotes stall or drip forever), so the slack can be generous and still tell them apart.
 */
const SLACK_S = 10;

const state = newState('2');
const SERVICES: Record<
  AwsService,
  { display: string; service: () => Service; call: (url: string, limits?: TransportLimits) => Promise<unknown> }
> = {
  s3: {
    display: 'S3',
    service: () => s3Service(state),
    call: (url, limits = LIMITS) =>
      createS3Client({ region: 'us-east-1', endpoint: url, localStack: true, maxAttempts: ATTEMPTS, limits }).send(
        new GetBucketVersioningCommand({ Bucket: state.bucket }),
      ),
  },
  mwaa: {
    display: 'MWAA',
    service: () => mwaaService(state, () => '127.0.0.1:1'),
    call: (url, limits = LIMITS) =>
      createMwaaClient({ region: 'us-east-1', endpoint: url, localStack: true, maxAttempts: ATTEMPTS, limits }).send(
        new GetEnvironmentCommand({ Name: state.environmentName }),
      ),
  },
  cloudWatch: {
    display: 'CloudWatch',
    service: () => cloudWatchService(state),
    call: (url, limits = LIMITS) =>
      createCloudWatchClient({ region: 'us-east-1', endpoint: url, localStack: true, maxAttempts: ATTEMPTS, limits }).send(
        new DescribeAlarmsCommand({ AlarmNamePrefix: 'x' }),
      ),
  },
  secretsManager: {
    display: 'Secrets Manager',
    service: () => secretsManagerService(state),
    call: (url, limits = LIMITS) =>
      createSecretsManagerClient({ region: 'us-east-1', endpoint: url, localStack: true, maxAttempts: ATTEMPTS, limits }).send(
        new GetSecretValueCommand({ SecretId: state.secret.arn }),
      ),
  },
};

describe('AWS SDK clients end within their bounds', () => {
  const cases = (Object.keys(SERVICES) as AwsService[]).flatMap((name) =>
    (['never-answer', 'stall-body', 'drip', 'tls-stall'] as const).map((behaviour) => [name, behaviour] as const),
  );
  it.each(cases)('%s that does %s: a TimeoutError after %#', async (name, behaviour) => {
    const remote = SERVICES[name];
    const server = await serve(remote.service(), { behaviour });
    const { error, seconds } = await timedRejection(remote.call(server.url));
    // Each attempt ends at its deadline; the SDK's backoff between attempts is well under a second here.
    expect(seconds).toBeLessThan(ATTEMPTS * (LIMITS.requestTimeoutMs / 1000) + SLACK_S);
    expect(error.name).toBe('TimeoutError');
    expect(error.message).toContain(`${remote.display} at ${server.hostPort}`);
    expect(error.$metadata?.attempts).toBe(ATTEMPTS);
  });

  it.each(Object.keys(SERVICES) as AwsService[])('%s that sends 2 GiB: refused at the answer cap, most of it never sent', async (name) => {
    const remote = SERVICES[name];
    const server = await serve(remote.service(), { behaviour: 'huge-body' });
    // A deadline long enough for 16 MiB on a loaded machine: the cap, not the clock, ends this.
    const { error } = await timedRejection(remote.call(server.url, { ...LIMITS, requestTimeoutMs: 30_000 }));
    expect(error.name).toBe('AnswerTooLargeError');
    expect(error.message).toContain(`${remote.display} at ${server.hostPort} sent an answer larger than 16 MiB`);
    // Backpressure: what left the harness is the cap plus what the socket buffers hold.
    expect(server.stats.hugeBytesSent).toBeLessThan(LIMITS.maxAnswerBytes + 8 * 1024 * 1024);
    // Not retried: one request.
    expect(server.stats.requests).toBe(1);
  });

  it("the SDK handler's own silence timeout reads like ours: service, endpoint, bound, attempts", async () => {
    const server = await serve(SERVICES.s3.service(), { behaviour: 'never-answer', only: ['PutObject'] });
    // An upload's attempt may take five request deadlines; a silence ends it at one.
    const client = createS3Client({
      region: 'us-east-1',
      endpoint: server.url,
      localStack: true,
      maxAttempts: ATTEMPTS,
      limits: { ...LIMITS, objectTransferTimeoutMs: 30_000 },
    });
    const { error, seconds } = await timedRejection(client.send(new PutObjectCommand({ Bucket: state.bucket, Key: 'k', Body: 'x' })));
    expect(seconds).toBeLessThan(ATTEMPTS * (LIMITS.requestTimeoutMs / 1000) + SLACK_S);
    expect(error.message).toBe(
      `S3 at ${server.hostPort} went silent for 0.6 s, 2 attempts (MWAA_GPU_CICD_REQUEST_TIMEOUT changes it). Check the endpoint and the network.`,
    );
  });

  it('retries stay bounded: the SDK makes its max attempts, no more', async () => {
    const server = await serve(SERVICES.mwaa.service(), { behaviour: 'unavailable' });
    const { error } = await timedRejection(SERVICES.mwaa.call(server.url));
    expect(error.name).toBe('ServiceUnavailableException');
    expect(server.stats.requests).toBe(ATTEMPTS);
  });

  it('without settings: a 10 s connect timeout, 60 s per attempt, 3 attempts in the standard mode', async () => {
    expect(transportLimits({})).toMatchObject({ connectTimeoutMs: 10_000, requestTimeoutMs: 60_000, maxAnswerBytes: 16 * 1024 * 1024 });
    const client = createMwaaClient({ region: 'us-east-1', endpoint: 'http://127.0.0.1:1', localStack: true });
    expect(await client.config.maxAttempts()).toBe(3);
    expect(await (client.config.retryMode as () => Promise<string>)()).toBe('standard');
  });

  it('MWAA_GPU_CICD_CONNECT_TIMEOUT and MWAA_GPU_CICD_REQUEST_TIMEOUT set the timeouts; nonsense is refused, naming the variable', () => {
    expect(transportLimits({ MWAA_GPU_CICD_CONNECT_TIMEOUT: '2', MWAA_GPU_CICD_REQUEST_TIMEOUT: '0.5' })).toMatchObject({
      connectTimeoutMs: 2000,
      requestTimeoutMs: 500,
      objectTransferTimeoutMs: 2500,
    });
    expect(() => transportLimits({ MWAA_GPU_CICD_REQUEST_TIMEOUT: '1m' })).toThrow(
      /MWAA_GPU_CICD_REQUEST_TIMEOUT must be a number of seconds/,
    );
    expect(() => transportLimits({ MWAA_GPU_CICD_CONNECT_TIMEOUT: '0' })).toThrow(/MWAA_GPU_CICD_CONNECT_TIMEOUT/);
  });
});

describe('the MWAA web server clients end within their bounds and read at most their cap', () => {
  const webState = newState('2');
  const tokens = (server: HostileHttpServer) => ({
    async createWebLoginToken() {
      return { token: 't', hostname: server.hostPort };
    },
    async createCliToken() {
      return { token: 't', hostname: server.hostPort };
    },
  });

  it('REST: a 64 MiB answer is refused at a 1 MiB cap, and little more than the cap is ever sent', async () => {
    const server = await serve(webServerService(webState), { behaviour: 'huge-body', only: ['GET variables'] }, 64 * 1024 * 1024);
    const rest = createAirflowRest(tokens(server), 'env', 'http', '2', { requestTimeoutMs: 10_000, maxAnswerBytes: 1024 * 1024 });
    const { error } = await timedRejection(rest.request('GET', '/variables'));
    expect(error.message).toBe(
      `Airflow web server at ${server.hostPort}: the answer is larger than 1 MiB, the most the toolkit reads from one request (GET /api/v1/variables)`,
    );
    expect(server.stats.hugeBytesSent).toBeLessThan(8 * 1024 * 1024);
  });

  it('REST: a login page of 64 MiB is read for a snippet only', async () => {
    const server = await serve(webServerService(webState), { behaviour: 'huge-body', only: ['login'] }, 64 * 1024 * 1024);
    const rest = createAirflowRest(tokens(server), 'env', 'http', '2', { requestTimeoutMs: 10_000 });
    const { error } = await timedRejection(rest.request('GET', '/variables'));
    expect(error.message).toMatch(
      /^Airflow web server at 127\.0\.0\.1:\d+: the web login \(POST \/aws_mwaa\/login\) answered HTTP 200 without/,
    );
    expect(server.stats.hugeBytesSent).toBeLessThan(8 * 1024 * 1024);
  });

  it.each(['never-answer', 'stall-body', 'drip', 'tls-stall'] as const)(
    'REST: a web server that does %s ends at the deadline',
    async (behaviour) => {
      const server = await serve(webServerService(webState), {
        behaviour,
        only: behaviour === 'tls-stall' ? undefined : ['GET variables'],
      });
      const rest = createAirflowRest(tokens(server), 'env', behaviour === 'tls-stall' ? 'https' : 'http', '2', { requestTimeoutMs: 600 });
      const { error, seconds } = await timedRejection(rest.request('GET', '/variables'));
      expect(seconds).toBeLessThan(0.6 + SLACK_S);
      expect(error.message).toMatch(
        new RegExp(`^Airflow web server at ${server.hostPort}: did (not answer|not finish its answer) within 0\\.6 s`),
      );
    },
  );

  it('CLI: a 64 MiB answer is refused at the cap; a dripping answer ends at the deadline', async () => {
    const huge = await serve(webServerService(webState), { behaviour: 'huge-body' }, 64 * 1024 * 1024);
    const cli = createMwaaCli(tokens(huge), 'env-huge', 'http', '2.11.2', { requestTimeoutMs: 10_000, maxAnswerBytes: 1024 * 1024 });
    expect((await timedRejection(cli.run(['dags', 'list']))).error.message).toBe(
      `Airflow web server at ${huge.hostPort}: the answer is larger than 1 MiB, the most the toolkit reads from one request (POST /aws_mwaa/cli)`,
    );
    expect(huge.stats.hugeBytesSent).toBeLessThan(8 * 1024 * 1024);
    const drip = await serve(webServerService(webState), { behaviour: 'drip' });
    const slow = createMwaaCli(tokens(drip), 'env-drip', 'http', '2.11.2', { requestTimeoutMs: 600 });
    const { error, seconds } = await timedRejection(slow.run(['dags', 'list']));
    expect(seconds).toBeLessThan(0.6 + SLACK_S);
    expect(error.message).toContain(`Airflow web server at ${drip.hostPort}: did not finish its answer within 0.6 s`);
  });
});
