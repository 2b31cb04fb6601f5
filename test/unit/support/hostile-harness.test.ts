/**
 * The hostile harness's own test: its AWS errors are what the real SDK clients deserialize as
 * AWS's (the error's name, HTTP status and message), in each service's protocol; its well-behaved
 * answers are what the SDK parses.
 */
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { GetEnvironmentCommand } from '@aws-sdk/client-mwaa';
import { GetBucketVersioningCommand } from '@aws-sdk/client-s3';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudWatchClient, createMwaaClient, createS3Client, createSecretsManagerClient } from '../../../src/mwaa/clients.js';
import { AWS_ERROR_KINDS, AWS_MODELS, wireError } from '../../support/hostile/aws-wire.js';
import type { AwsService } from '../../support/hostile/botocore-models.js';
import { HostileHttpServer } from '../../support/hostile/http-server.js';
import { cloudWatchService } from '../../support/hostile/services/cloudwatch.js';
import { mwaaService } from '../../support/hostile/services/mwaa.js';
import { s3Service } from '../../support/hostile/services/s3.js';
import { secretsManagerService } from '../../support/hostile/services/secrets-manager.js';
import { newState } from '../../support/hostile/world.js';

const state = newState('2');
state.secret.value = 'not a key';
const servers: Record<AwsService, HostileHttpServer> = {
  s3: new HostileHttpServer(s3Service(state)),
  mwaa: new HostileHttpServer(mwaaService(state, () => '127.0.0.1:1')),
  cloudWatch: new HostileHttpServer(cloudWatchService(state)),
  secretsManager: new HostileHttpServer(secretsManagerService(state)),
};

beforeAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.listen()));
});
afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
});

/** One call of each service through the toolkit's own client factory. */
function call(service: AwsService): Promise<unknown> {
  const target = { region: 'us-east-1', endpoint: servers[service].url, localStack: true, maxAttempts: 1 };
  switch (service) {
    case 's3':
      return createS3Client(target).send(new GetBucketVersioningCommand({ Bucket: state.bucket }));
    case 'mwaa':
      return createMwaaClient(target).send(new GetEnvironmentCommand({ Name: state.environmentName }));
    case 'cloudWatch':
      return createCloudWatchClient(target).send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'x' }));
    case 'secretsManager':
      return createSecretsManagerClient(target).send(new GetSecretValueCommand({ SecretId: state.secret.arn }));
  }
}

const SERVICES = Object.keys(servers) as AwsService[];

describe('the harness speaks each service protocol as the pinned SDK expects', () => {
  it.each(SERVICES)('%s: a well-behaved answer parses', async (service) => {
    servers[service].set({ behaviour: 'ok' });
    await expect(call(service)).resolves.toBeDefined();
  });

  it('botocore lists the protocols the harness serves (the SDK pins: CloudWatch over JSON 1.0)', () => {
    expect(AWS_MODELS.services.s3.protocols).toContain('rest-xml');
    expect(AWS_MODELS.services.mwaa.protocols).toContain('rest-json');
    expect(AWS_MODELS.services.cloudWatch.protocols).toContain('json');
    expect(AWS_MODELS.services.cloudWatch.awsQueryCompatible).toBe(true);
    expect(AWS_MODELS.services.secretsManager).toMatchObject({ protocol: 'json', jsonVersion: '1.1' });
  });
});

describe('AWS errors on the wire are deserialized as AWS sends them', () => {
  const cases = SERVICES.flatMap((service) => AWS_ERROR_KINDS.map((kind) => [service, kind] as const));
  it.each(cases)('%s answers %s', async (service, kind) => {
    servers[service].set({ behaviour: kind });
    const wire = wireError(service, kind);
    const error = (await call(service).then(
      () => undefined,
      (e: unknown) => e,
    )) as { name?: string; message?: string; Code?: string; $metadata?: { httpStatusCode?: number } } | undefined;
    servers[service].set({ behaviour: 'ok' });
    expect(error).toBeDefined();
    expect(error?.$metadata?.httpStatusCode).toBe(wire.status);
    // A query-compatible service's errors carry the query code; a modeled one is named by its
    // shape, as the SDK's error class is; an unmodeled one by the query code, as query clients knew it.
    const modeled = AWS_MODELS.services[service].errors[wire.code] !== undefined;
    expect(error?.name).toBe(modeled || !wire.queryCode ? wire.code : wire.queryCode);
    if (wire.queryCode) expect(error?.Code).toBe(wire.queryCode);
    expect(error?.message).toBe(wire.message);
  });
});
