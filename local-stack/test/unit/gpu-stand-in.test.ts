/**
 * The stand-in nvidia-smi, run by a real shell as sshd runs a session's command: it plays every
 * recorded output exactly for the commands the check sends, per server address, and nothing else.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GPU_QUERY_COMMAND, HEADER_COMMAND } from '../../../src/runtime-check/nvidia-smi.js';
import { recordedServers } from '../../../test/support/nvidia-smi-fixtures.js';
import { useTmpDir } from '../../../test/support/tmp.js';
import { installStandIn, playGpuRecording, standInFiles } from '../../src/gpu-stand-in.js';
import { ensureKeyPair, sessionPath, sshFiles, testSshdConfig, writeSshdConfig } from '../../src/sshd.js';
import { SERVER_ADDRESSES } from '../../src/gpu-stand-in.js';

const tmp = useTmpDir('gpu-stand-in-');

function stack() {
  const ssh = sshFiles(join(tmp(), 'ssh'));
  installStandIn(standInFiles(ssh.dir));
  // A session on 127.0.0.2, as sshd sets it up: the stack's PATH and SSH_CONNECTION.
  const run = (command: string, address = '127.0.0.2') => {
    const result = spawnSync('/bin/sh', ['-c', command], {
      env: { PATH: sessionPath(ssh), SSH_CONNECTION: `127.0.0.1 40000 ${address} 2222` },
      encoding: 'utf8',
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  };
  return { ssh, run };
}

describe('the stand-in nvidia-smi', () => {
  it.each(recordedServers().map((r) => [r.name, r] as const))('plays %s for both commands the check sends', (_name, recording) => {
    const { ssh, run } = stack();
    playGpuRecording(ssh.config, '127.0.0.2', recording.dir);
    expect(run(GPU_QUERY_COMMAND)).toEqual(recording.query);
    expect(run(HEADER_COMMAND)).toEqual(recording.header);
  });

  it('is a missing nvidia-smi on an address with no recording chosen, and after the choice is dropped', () => {
    const { ssh, run } = stack();
    const [first] = recordedServers();
    playGpuRecording(ssh.config, '127.0.0.2', first?.dir ?? '');
    expect(run(GPU_QUERY_COMMAND, '127.0.0.3')).toEqual({ code: 127, stdout: '', stderr: 'nvidia-smi: command not found\n' });
    playGpuRecording(ssh.config, '127.0.0.2', null);
    expect(run(GPU_QUERY_COMMAND).code).toBe(127);
  });

  it('refuses any other query, and addresses the stack does not serve', () => {
    const { ssh, run } = stack();
    playGpuRecording(ssh.config, '127.0.0.2', recordedServers()[0]?.dir ?? '');
    const other = run('nvidia-smi --query-gpu=name --format=csv');
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/^stand-in nvidia-smi: plays only/);
    expect(() => playGpuRecording(ssh.config, '10.0.0.5', '/x')).toThrow(/not one of the stack's server addresses/);
  });
});

describe("the stack's sshd config", () => {
  it('serves every server address and puts the stand-in first on PATH; sshd itself accepts it', async () => {
    const ssh = sshFiles(join(tmp(), 'ssh'));
    mkdirSync(ssh.dir, { recursive: true });
    await ensureKeyPair(ssh.hostKey, 'host');
    writeSshdConfig(ssh, 2222, 'root', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPb1nLd3Y6u0m3dQ8n7p1mS3T6dXk2yq0GWqk3W2v9cE');
    await testSshdConfig(ssh);
    const text = readFileSync(ssh.config, 'utf8');
    expect(text.split('\n').filter((line) => line.startsWith('ListenAddress '))).toEqual(SERVER_ADDRESSES.map((a) => `ListenAddress ${a}`));
    expect(text).toContain(`SetEnv "PATH=${join(ssh.dir, 'bin')}:`);
  });
});
