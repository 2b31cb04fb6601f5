/**
 * Small conventions of the CLI, each driven through the built CLI as a user meets it.
 */
import { spawn } from 'node:child_process';
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { cliPath, repoRoot, runCli } from '../../support/cli.js';

describe('usage errors', () => {
  it('an unknown option is reported once, as typed (yargs also lists it camel-cased)', () => {
    const run = runCli(['generate', '--env-name', 'dev']);
    expect(run.status).toBe(2);
    expect(run.stderr.match(/Unknown option/g)).toHaveLength(1);
    expect(run.stderr).toContain('Unknown option --env-name.');
    expect(run.stderr).not.toContain('envName');
  });

  it('a typo of a required option is reported as the typo, not as the option missing', () => {
    const typo = runCli(['deploy', '--env-name', 'prod', '--plan']);
    expect(typo.status).toBe(2);
    expect(typo.stderr).toMatch(/^Unknown option --env-name\./);
    expect(typo.stderr).not.toContain('is required');
    // Without a typo, the missing option is the message; --no-<flag> is not a typo.
    const missing = runCli(['deploy', '--no-trigger', '--plan']);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^--env is required\./);
  });
});

describe('stopping a plan', () => {
  it('Ctrl-C during a plan says it stops, and nothing of a deploy lock it never took', async () => {
    // An AWS endpoint that accepts connections and never answers: the plan waits on it.
    const sockets: Socket[] = [];
    let connected: () => void = () => undefined;
    const firstConnection = new Promise<void>((resolve) => (connected = resolve));
    const server = createServer((socket) => {
      sockets.push(socket);
      connected();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      const child = spawn(process.execPath, [cliPath, 'deploy', '--env', 'dev', '--plan'], {
        cwd: repoRoot,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          AWS_ENDPOINT_URL: `http://127.0.0.1:${port}`,
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
          AWS_MAX_ATTEMPTS: '1',
        },
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await firstConnection;
      child.kill('SIGINT');
      expect(await exited, stderr).toBe(130);
      expect(stderr).toContain('SIGINT: stopping.');
      expect(stderr).not.toContain('deploy lock');
    } finally {
      for (const socket of sockets) socket.destroy();
      server.close();
    }
  });
});
