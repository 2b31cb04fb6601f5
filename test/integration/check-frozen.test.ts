/**
 * A GPU server that authenticates and then stops answering (its sshd session process frozen with
 * SIGSTOP, as a hung kernel or a full disk can do): `check` must report the timeout and exit, not
 * hang until it is killed.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCheckout, startSshd, type TestSshd } from './check-sshd.js';

const root = join(import.meta.dirname, '..', '..');
const COMMAND_TIMEOUT_SECONDS = 2;
/**
 * Far above what the check needs (connect, a 2 s command timeout, the report: a few seconds, and
 * about 20 s on a machine loaded many times over), and still only a bound: a hang never ends.
 */
const EXIT_BOUND_MS = 60_000;

let sshd: TestSshd;
let dir: string;
let frozenPidFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'check-frozen-'));
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  frozenPidFile = join(dir, 'frozen.pid');
  // Runs as the check's `whoami`: freezes the sshd process that serves this session (the parent
  // of the shell that runs the command), after authentication, before any answer.
  writeFileSync(
    join(bin, 'whoami'),
    [
      '#!/bin/sh',
      'session=$(ps -o ppid= -p "$PPID" | tr -d " ")',
      `echo "$session" > ${frozenPidFile}`,
      'kill -STOP "$session"',
      'exec /usr/bin/whoami',
      '',
    ].join('\n'),
  );
  chmodSync(join(bin, 'whoami'), 0o755);
  sshd = await startSshd({ extraConfig: [`SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin`] });
  makeCheckout(join(dir, 'ws'), 'cicd-test', 'cicd_01_etl', 'a: 1\nb: 2\nc: 3\nd: 4\n');
});

afterAll(async () => {
  if (frozenPidFile && existsSync(frozenPidFile)) {
    const pid = Number(readFileSync(frozenPidFile, 'utf8').trim());
    if (pid > 1) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function runCheck(configPath: string): Promise<{ code: number | null; stdout: string; stderr: string; ms: number; killed: boolean }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(root, 'src/cli/main.ts'),
        'check',
        '--env',
        'frozen',
        '--config',
        configPath,
        '--identity-file',
        sshd.clientKeyPath,
        '--json',
      ],
      { cwd: root },
    );
    let stdout = '';
    let stderr = '';
    let killed = false;
    // A safety net for the old behaviour, so that the test reports instead of hanging.
    const guard = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, 2 * EXIT_BOUND_MS);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, ms: performance.now() - started, killed });
    });
  });
}

describe('check against a server that stops answering', () => {
  it('reports the command timeout and exits within a bound', async () => {
    const configPath = join(dir, 'config.yaml');
    writeFileSync(
      configPath,
      [
        'environments:',
        '  frozen:',
        '    mwaa: { environmentName: frozen, region: us-east-1, bucket: airflow-frozen }',
        '    secrets: { sshKeyArn: "arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf" }',
        `    ssh: { user: ${sshd.user}, connectTimeoutSeconds: 10, connectRetries: 0, commandTimeoutSeconds: ${COMMAND_TIMEOUT_SECONDS}, keepaliveSeconds: 0 }`,
        '    git: { repoUrl: /srv/git/cicd-test.git }',
        '    servers:',
        `      - { name: gpu-frozen, host: 127.0.0.1, port: ${sshd.port}, workspacePath: "${join(dir, 'ws')}", hostPublicKey: "${sshd.hostPublicKey}" }`,
        '',
      ].join('\n'),
    );
    const run = await runCheck(configPath);
    expect(existsSync(frozenPidFile), 'the server was frozen').toBe(true);
    expect(run.killed, `check did not exit: ${run.stdout.slice(-2000)} ${run.stderr.slice(-2000)}`).toBe(false);
    expect(run.ms).toBeLessThan(EXIT_BOUND_MS);
    expect(run.code, run.stderr).toBe(1);
    const report = JSON.parse(run.stdout) as { servers: Array<{ checks: Array<{ name: string; ok: boolean; reason: string }> }> };
    const checks = report.servers[0]?.checks ?? [];
    expect(checks.find((c) => c.name === 'reachable')?.ok).toBe(true);
    expect(checks.find((c) => c.name === 'whoami')?.reason).toMatch(/timed out/);
  });
});
