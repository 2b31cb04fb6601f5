/**
 * The deployer's S3 and CloudWatch reads stay bounded against the hostile harness: list loops end
 * at a page limit (or at once, when a token comes back unchanged), object reads at their cap,
 * and the one ListTagsForResource per alarm runs a few at a time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { cloudWatchPort, MAX_LIST_PAGES, s3Port, TAG_READ_CONCURRENCY } from '../../../src/deployer/aws-ports.js';
import { RECORD_MAX_BYTES, readRecord } from '../../../src/deployer/records.js';
import { createCloudWatchClient, createS3Client } from '../../../src/mwaa/clients.js';
import { HostileHttpServer, type Hostility, type Service } from '../../support/hostile/http-server.js';
import { cloudWatchService } from '../../support/hostile/services/cloudwatch.js';
import { s3Service } from '../../support/hostile/services/s3.js';
import { putVersion } from '../../support/hostile/state.js';
import { newState } from '../../support/hostile/world.js';
import { rejection } from '../../support/hostile/rejection.js';

const servers: HostileHttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(service: Service, hostility: Hostility = { behaviour: 'ok' }): Promise<HostileHttpServer> {
  const server = new HostileHttpServer(service, hostility, 64 * 1024 * 1024);
  servers.push(server);
  await server.listen();
  return server;
}

const target = (url: string) => ({ region: 'us-east-1', endpoint: url, localStack: true, maxAttempts: 1 });

describe('S3', () => {
  it('listKeys: a ListObjectsV2 that never ends its pages stops at the page limit', async () => {
    const state = newState('2');
    const server = await serve(s3Service(state), { behaviour: 'endless-pages' });
    const error = await rejection(s3Port(createS3Client(target(server.url))).listKeys(state.bucket, 'deployments/records/'));
    expect(error.message).toBe(
      `S3 at ${server.hostPort}: ListObjectsV2 of s3://${state.bucket}/deployments/records/ has more than ${MAX_LIST_PAGES} pages, ` +
        'the most the toolkit reads; stopped there.',
    );
    expect(server.stats.operations.ListObjectsV2).toBe(MAX_LIST_PAGES);
  });

  it('a deploy record over its cap is refused, and little more than the cap is read', async () => {
    const state = newState('2');
    const server = await serve(s3Service(state), { behaviour: 'huge-body', only: ['GetObject'] });
    const key = 'deployments/records/2025-01-01T00-00-00.000Z-abc.json';
    putVersion(state, key, Buffer.from('{}'));
    const error = await rejection(readRecord(s3Port(createS3Client(target(server.url))), state.bucket, key));
    expect(error.message).toBe(
      `S3 at ${server.hostPort}: s3://${state.bucket}/${key} is larger than 16 MiB, the most the toolkit reads of it.`,
    );
    expect(RECORD_MAX_BYTES).toBe(16 * 1024 * 1024);
    expect(server.stats.hugeBytesSent).toBeLessThan(RECORD_MAX_BYTES + 8 * 1024 * 1024);
  });

  it('an object whose Content-Length is over the cap is refused before its body is read', async () => {
    const state = newState('2');
    const server = await serve(s3Service(state));
    putVersion(state, 'big', Buffer.alloc(2 * 1024 * 1024, 1));
    const error = await rejection(s3Port(createS3Client(target(server.url))).getObject(state.bucket, 'big', undefined, 1024 * 1024));
    expect(error.message).toContain('s3://airflow-hostile/big is larger than 1 MiB');
  });
});

describe('CloudWatch', () => {
  it('describeAlarms: endless NextTokens stop at the page limit', async () => {
    const state = newState('2');
    const server = await serve(cloudWatchService(state), { behaviour: 'endless-pages', only: ['DescribeAlarms'] });
    const error = await rejection(cloudWatchPort(createCloudWatchClient(target(server.url))).describeAlarms('hostile-env-'));
    expect(error.message).toBe(
      `CloudWatch at ${server.hostPort}: DescribeAlarms of the alarms named hostile-env-* has more than ${MAX_LIST_PAGES} pages, ` +
        'the most the toolkit reads; stopped there.',
    );
    expect(server.stats.operations.DescribeAlarms).toBe(MAX_LIST_PAGES);
  });

  it('describeAlarms: a NextToken answered with itself ends at once', async () => {
    const state = newState('2');
    const same: Service = {
      ...cloudWatchService(state),
      handle: () => ({
        status: 200,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: JSON.stringify({ MetricAlarms: [], NextToken: 'again' }),
      }),
    };
    const server = await serve(same);
    const error = await rejection(cloudWatchPort(createCloudWatchClient(target(server.url))).describeAlarms('p-'));
    expect(error.message).toContain('answered the continuation token "again" with itself; stopped there.');
    expect(server.stats.requests).toBe(2);
  });

  it(`one ListTagsForResource per alarm, at most ${TAG_READ_CONCURRENCY} at once`, async () => {
    const state = newState('2');
    for (let i = 0; i < 40; i += 1) {
      const name = `hostile-env-a${i}`;
      state.alarms.set(name, { alarm: { AlarmName: name, AlarmArn: `arn:aws:cloudwatch:us-east-1:1:alarm:${name}` }, tags: [] });
    }
    const base = cloudWatchService(state);
    const slow: Service = {
      ...base,
      async handle(request, context) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return base.handle.call(this, request, context);
      },
    };
    const server = await serve(slow);
    const alarms = await cloudWatchPort(createCloudWatchClient(target(server.url))).describeAlarms('hostile-env-');
    expect(alarms).toHaveLength(40);
    expect(server.stats.operations.ListTagsForResource).toBe(40);
    expect(server.stats.maxInFlight).toBe(TAG_READ_CONCURRENCY);
  });
});
