import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveEnvironment } from '../../../src/config/resolved.js';
import { environmentSchema, type EnvironmentInput } from '../../../src/config/schema.js';
import { UserError } from '../../../src/errors.js';
import { runRuntimeCheck, type CheckEvent } from '../../../src/runtime-check/index.js';
import { useTmpDir } from '../../support/tmp.js';

const tmp = useTmpDir('run-check-test-');
const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE';

function config(overrides: Partial<EnvironmentInput> = {}) {
  const input: EnvironmentInput = {
    mwaa: { environmentName: 'unit', region: 'us-east-1', bucket: 'airflow-unit' },
    secrets: { sshKeyArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf' },
    git: { repoUrl: '/srv/git/cicd-test.git' },
    // Port 1 on loopback: nothing listens, so a connection is refused at once.
    ssh: { connectTimeoutSeconds: 2, connectRetries: 0 },
    servers: [
      { name: 'gpu-01', host: '127.0.0.1', port: 1, hostPublicKey: HOST_KEY },
      { name: 'gpu-02', host: '127.0.0.1', port: 1, hostPublicKey: HOST_KEY },
    ],
    ...overrides,
  };
  return resolveEnvironment('unit', environmentSchema.parse(input));
}

function privateKey(): string {
  const path = join(tmp(), 'id');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  return readFileSync(path, 'utf8');
}

describe('runRuntimeCheck', () => {
  it('rejects unknown server names as a usage error, naming the configured ones', async () => {
    const error = (await runRuntimeCheck(config(), { servers: ['gpu-01', 'gpu-99'], privateKey: 'x' }).catch(
      (e: unknown) => e,
    )) as UserError;
    expect(error).toBeInstanceOf(UserError);
    expect(error.exitCode).toBe(2);
    expect(error.message).toBe('Unknown server "gpu-99" in environment "unit". Configured servers: gpu-01, gpu-02.');
  });

  it.each([0, -1, 2.5])('rejects concurrency %s as a usage error', async (concurrency) => {
    await expect(runRuntimeCheck(config(), { concurrency, privateKey: 'x' })).rejects.toMatchObject({ exitCode: 2 });
  });

  it('reports every check of an unreachable server as failed, in order, with events', async () => {
    const events: CheckEvent[] = [];
    const report = await runRuntimeCheck(config(), { privateKey: privateKey(), servers: ['gpu-02'] }, (e) => events.push(e));
    expect(report.ok).toBe(false);
    expect(report.servers).toHaveLength(1);
    const [server] = report.servers;
    expect(server?.name).toBe('gpu-02');
    expect(server?.checks.map((c) => [c.name, c.ok])).toEqual([
      ['reachable', false],
      ['whoami', false],
      ['checkout', false],
      ['version-file', false],
    ]);
    expect(server?.checks[0]?.reason).toBe('ubuntu@127.0.0.1:1: connection refused (is sshd running and listening on that port?)');
    expect(server?.checks[1]?.reason).toBe('skipped: not connected');
    expect(events.map((e) => e.type)).toEqual(['key-loaded', 'server-started', 'server-finished']);
  });

  it('gives up on a server that accepts TCP but never speaks SSH, within the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      const cfg = config({
        // The most retries the config allows: retried, the silence would cost 1 s per attempt, 11 s in all.
        ssh: { connectTimeoutSeconds: 1, connectRetries: 10 },
        servers: [{ name: 'gpu-01', host: '127.0.0.1', port, hostPublicKey: HOST_KEY }],
      });
      const started = performance.now();
      const report = await runRuntimeCheck(cfg, { privateKey: privateKey() });
      const took = performance.now() - started;
      expect(report.servers[0]?.checks[0]?.reason).toBe(`ubuntu@127.0.0.1:${port}: no SSH handshake within 1.0 s`);
      // A timeout is not retried: the deadline is the whole budget.
      expect(took).toBeGreaterThan(900);
      expect(took).toBeLessThan(8_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });

  it('fails closed when a server has no pinned key and the policy is strict', async () => {
    const cfg = config();
    (cfg.servers[0] as { hostPublicKey: string | null }).hostPublicKey = null;
    const report = await runRuntimeCheck(cfg, { privateKey: privateKey(), servers: ['gpu-01'] });
    expect(report.servers[0]?.checks[0]).toMatchObject({
      name: 'reachable',
      ok: false,
      reason: 'no pinned hostPublicKey; get it with: npm run check -- --env <env> --print-host-keys',
    });
  });

  it('does not need a key to collect host keys', async () => {
    const report = await runRuntimeCheck(config(), { printHostKeys: true });
    expect(report.mode).toBe('host-keys');
    expect(report.ok).toBe(false);
    expect(report.servers.map((s) => s.checks[0]?.name)).toEqual(['host-key', 'host-key']);
  });

  it('skips the Variables comparison for servers without a valid version file', async () => {
    const reads: string[] = [];
    const report = await runRuntimeCheck(config(), {
      privateKey: privateKey(),
      compareVariables: true,
      variableReader: {
        variables: async (keys) => {
          reads.push(...keys);
          return new Map(keys.map((k) => [k, 'x']));
        },
      },
    });
    expect(reads).toEqual([]);
    expect(report.servers[0]?.checks.at(-1)).toEqual({
      name: 'variables',
      ok: false,
      ms: 0,
      reason: 'skipped: no valid version file to compare with',
    });
  });
});
