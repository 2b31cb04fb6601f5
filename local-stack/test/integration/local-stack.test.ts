/**
 * The local stack itself, against its real components: OpenSSH sshd (accepts the key stored in
 * moto Secrets Manager, rejects any other), moto S3 (versioned, non-public bucket), the bare git
 * repo, Airflow's config and an idempotent second `up`. A second stack beside this one is
 * side-by-side.test.ts's.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetBucketVersioningCommand, GetPublicAccessBlockCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { recordedProcesses } from '../../src/down.js';
import type { LocalStackState } from '../../src/state.js';
import { publicKeyBlob, requireStack, runLocalCli, stackPython, stackS3, stackSshKey } from '../../../test/support/stack.js';

const { Client } = ssh2;

let state: LocalStackState;
let s3: S3Client;
const scratch: string[] = [];

beforeAll(() => {
  state = requireStack();
  s3 = stackS3(state);
});

afterAll(() => {
  s3?.destroy();
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratch.push(dir);
  return dir;
}

/** Connects with `privateKey`, pinning the stack's host key; runs `command`; resolves its stdout. */
function sshRun(privateKey: string, command: string, hostPublicKey = state.ssh.hostPublicKey): Promise<string> {
  return new Promise((resolveRun, reject) => {
    const client = new Client();
    const expectedHostKey = publicKeyBlob(hostPublicKey);
    client
      .on('ready', () => {
        client.exec(command, (error, stream) => {
          if (error) {
            client.end();
            reject(error);
            return;
          }
          let out = '';
          stream.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
          stream.on('close', () => {
            client.end();
            resolveRun(out);
          });
        });
      })
      .on('error', reject)
      .connect({
        host: state.ssh.host,
        port: state.ssh.port,
        username: state.ssh.user,
        privateKey,
        readyTimeout: 20_000,
        hostVerifier: (key: Buffer) => key.equals(expectedHostKey),
      });
  });
}

describe('sshd (the stand-in GPU server)', () => {
  it('accepts the key stored in Secrets Manager and runs commands as the stack user', async () => {
    const key = await stackSshKey(state);
    expect(key).toMatch(/^-----BEGIN OPENSSH PRIVATE[ ]KEY-----/);
    const out = await sshRun(key, 'whoami');
    expect(out.trim()).toBe(state.ssh.user);
  });

  it('rejects a key that is not authorized', async () => {
    const dir = tmp('local-stack-key-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'other')]);
    const other = readFileSync(join(dir, 'other'), 'utf8');
    await expect(sshRun(other, 'whoami')).rejects.toThrow(/authentication methods failed/i);
  });

  it('refuses a client that expects a different host key', async () => {
    const key = await stackSshKey(state);
    const dir = tmp('local-stack-hostkey-');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'impostor')]);
    const impostor = readFileSync(join(dir, 'impostor.pub'), 'utf8');
    await expect(sshRun(key, 'whoami', impostor)).rejects.toThrow(/verification failed/i);
  });
});

describe('moto S3', () => {
  it('has the bucket with versioning Enabled and public access blocked', async () => {
    const versioning = await s3.send(new GetBucketVersioningCommand({ Bucket: state.bucket }));
    expect(versioning.Status).toBe('Enabled');
    const block = await s3.send(new GetPublicAccessBlockCommand({ Bucket: state.bucket }));
    expect(block.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
  });

  it('gives each put of the same key a new version id', async () => {
    const key = `local-stack-test/${Date.now()}.txt`;
    const first = await s3.send(new PutObjectCommand({ Bucket: state.bucket, Key: key, Body: 'one' }));
    const second = await s3.send(new PutObjectCommand({ Bucket: state.bucket, Key: key, Body: 'two' }));
    expect(first.VersionId).toBeTruthy();
    expect(second.VersionId).toBeTruthy();
    expect(second.VersionId).not.toBe(first.VersionId);
  });
});

describe('git fixture and workspace', () => {
  it('serves branch cicd_01_etl with www/version.yaml holding a, b, c, d', () => {
    const text = execFileSync('git', ['--git-dir', state.git.remoteUrl, 'show', `${state.git.branch}:www/version.yaml`], {
      encoding: 'utf8',
    });
    const values = parse(text) as Record<string, unknown>;
    expect(Object.keys(values).sort()).toEqual(['a', 'b', 'c', 'd']);
    const head = execFileSync('git', ['--git-dir', state.git.remoteUrl, 'symbolic-ref', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(head).toBe('refs/heads/main');
    expect(existsSync(state.workspace)).toBe(true);
  });
});

describe('Airflow of the stack', () => {
  it('runs the pinned version with the stack config (no examples, the stack dags folder)', () => {
    // One Python start instead of three `airflow` CLI calls (each costs seconds of imports).
    const probe = [
      'import airflow, json',
      'from airflow.configuration import conf',
      'print(json.dumps({"version": airflow.__version__, "load_examples": conf.getboolean("core", "load_examples"),',
      '  "dags_folder": conf.get("core", "dags_folder"), "executor": conf.get("core", "executor")}))',
    ].join('\n');
    const out = stackPython(state, ['-c', probe]).trim().split('\n').pop() ?? '';
    expect(JSON.parse(out)).toEqual({
      version: state.airflowVersion,
      load_examples: false,
      dags_folder: join(state.airflowHome, 'dags'),
      executor: state.airflowLine === '2' ? 'SequentialExecutor' : 'LocalExecutor',
    });
  });
});

describe('idempotent up', () => {
  it('a second up on the running stack installs nothing, restarts nothing and is fast', () => {
    const before = requireStack();
    const livePids = () => Object.fromEntries(recordedProcesses(before.root).map((p) => [p.name, p.pid]));
    const liveBefore = livePids();
    expect(Object.keys(liveBefore)).toContain('airflow-scheduler');
    const started = Date.now();
    const result = runLocalCli(['local', 'up', '--airflow', before.airflowLine]);
    const seconds = (Date.now() - started) / 1000;
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toContain('everything was already running');
    // A bound, not a speed: a venv rebuilt or a process restarted takes minutes; nothing, seconds
    // (up to about 20 on a loaded 2-core machine).
    expect(seconds).toBeLessThan(60);
    const after = requireStack();
    const pids = (s: LocalStackState) => Object.fromEntries(s.processes.map((p) => [p.name, p.pid]));
    expect(pids(after)).toEqual(pids(before));
    expect(livePids()).toEqual(liveBefore);
    expect(after.endpoints).toEqual(before.endpoints);
    expect(after.secretArn).toBe(before.secretArn);
    expect(after.ssh).toEqual(before.ssh);
  });
});
