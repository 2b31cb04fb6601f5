/**
 * `deploy --wait-for-available` against an environment MWAA reports as PENDING: its creation is
 * paused until the customer creates the VPC endpoints it needs, so waiting cannot end it. The
 * real CLI, with S3 from the local stack's moto and an MWAA endpoint on loopback that answers
 * GetEnvironment as MWAA's API reference describes such an environment (the local control plane
 * models environments that exist, never one that is still being created).
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { repoRoot, requireLocalStack, runDeploy } from './deploy-helpers.js';

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
  const doc = parseDocument(readFileSync(join(repoRoot, 'config/config.yaml'), 'utf8'));
  doc.setIn(['environments', 'pending'], {
    airflow: { version: stack.airflowVersion },
    mwaa: {
      environmentName: name,
      region: stack.region,
      accountId: '123456789012',
      bucket: stack.bucket,
      deploymentsPrefix: `deployments-${name}`,
    },
    aws: { endpoints: { s3: stack.endpoints.s3, secretsManager: stack.endpoints.secretsManager, mwaa: endpoint } },
    secrets: { sshKeyArn: stack.secretArn },
    ssh: { user: stack.ssh.user },
    servers: [
      {
        name: 'local-gpu',
        host: stack.ssh.host,
        port: stack.ssh.port,
        workspacePath: stack.workspace,
        hostPublicKey: stack.ssh.hostPublicKey,
      },
    ],
    git: { repoUrl: stack.git.remoteUrl, branch: stack.git.branch },
  });
  const file = join(mkdtempSync(join(tmpdir(), 'deploy-pending-')), 'config.yaml');
  writeFileSync(file, doc.toString());
  return file;
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
