/**
 * `deploy --wait-for-available` against an environment MWAA reports as PENDING: its creation is
 * paused until the customer creates the VPC endpoints it needs, so waiting cannot end it. The
 * real CLI, with S3 from the local stack's moto and an MWAA endpoint on loopback that answers
 * GetEnvironment as MWAA's API reference describes such an environment (the local control plane
 * models environments that exist, never one that is still being created).
 */
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explicitStackEnvironment, requireLocalStack, runDeploy } from './deploy-helpers.js';

const stack = requireLocalStack();
const name = `pending-${randomUUID().slice(0, 8)}`;
let server: Server;
let endpoint = '';
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    if (request.method === 'GET' && request.url === `/environments/${name}`) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          Environment: {
            Name: name,
            Arn: `arn:aws:airflow:${stack.region}:123456789012:environment/${name}`,
            Status: 'PENDING',
            EndpointManagement: 'CUSTOMER',
            AirflowVersion: stack.airflowVersion,
            SourceBucketArn: `arn:aws:s3:::${stack.bucket}`,
            DagS3Path: 'dags',
            CreatedAt: Date.now() / 1000,
          },
        }),
      );
      return;
    }
    response.writeHead(404, { 'content-type': 'application/json', 'x-amzn-errortype': 'ResourceNotFoundException' });
    response.end(JSON.stringify({ message: 'not here' }));
  });
  await new Promise<void>((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const address = server.address();
  endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
});

afterAll(async () => {
  await new Promise((resolveClose) => server.close(resolveClose));
});

function pendingConfig(): string {
  return explicitStackEnvironment(stack, 'pending', {
    mwaa: { environmentName: name, deploymentsPrefix: `deployments-${name}` },
    endpoints: { mwaa: endpoint },
  });
}

describe('deploy and a PENDING environment', () => {
  it('refuses at once, even when told to wait, saying what PENDING means and what to do', async () => {
    const out = await runDeploy(
      ['--env', 'pending', '--config', pendingConfig(), '--yes', '--wait-for-available', '--timeout', '90s', '--no-trigger'],
      { AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test' },
    );
    expect(out.code, out.stderr).toBe(1);
    expect(out.stderr).toContain('Deploy refused (environment status); nothing was changed.');
    // The plan's REFUSED line.
    expect(`${out.stdout}${out.stderr}`).toContain(
      `Environment ${name} is PENDING (MWAA paused its creation until the VPC endpoints it needs exist in your VPC (EndpointManagement CUSTOMER); ` +
        'without them it becomes CREATE_FAILED 72 hours after the create request), not AVAILABLE. Create the VPC endpoints',
    );
    expect(`${out.stdout}${out.stderr}`).not.toMatch(/Timed out|waiting for the environment/);
    // One look at the environment is enough: nothing was polled, nothing written.
    expect(requests.filter((r) => r.startsWith('GET /environments/')).length).toBeLessThanOrEqual(2);
    expect(out.ms).toBeLessThan(60_000);
  });
});
