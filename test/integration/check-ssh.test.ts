/**
 * The SSH layer of the runtime check against a real OpenSSH server of this test's own: one
 * connection reused for commands and SFTP, command timeouts, output caps, host key policies.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveEnvironment } from '../../src/config/resolved.js';
import { environmentSchema } from '../../src/config/schema.js';
import { fingerprint, parsePublicKeyLine } from '../../src/runtime-check/host-key.js';
import { runRuntimeCheck } from '../../src/runtime-check/index.js';
import { parsePrivateKey } from '../../src/runtime-check/ssh-key.js';
import { CommandTimeoutError, connect, RemoteFileError, type SshConnection } from '../../src/runtime-check/ssh.js';
import { makeCheckout, startSshd, type TestSshd } from './check-sshd.js';

let sshd: TestSshd;
let dir: string;
let connection: SshConnection;

beforeAll(async () => {
  sshd = await startSshd({ addresses: 1 });
  dir = mkdtempSync(join(tmpdir(), 'check-ssh-'));
  connection = await connectTo(sshd);
});

/** A connection to one of this file's servers, with the pinned host key and the client key. */
function connectTo(server: TestSshd): Promise<SshConnection> {
  return connect({
    host: '127.0.0.1',
    port: server.port,
    user: server.user,
    privateKey: parsePrivateKey(readFileSync(server.clientKeyPath, 'utf8'), 'test key'),
    hostKey: { mode: 'pinned', key: parsePublicKeyLine(server.hostPublicKey) },
    connectTimeoutMs: 30_000,
    keepaliveMs: 5_000,
    retries: 2,
    now: () => performance.now(),
  });
}

afterAll(async () => {
  connection?.close();
  await sshd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('SshConnection', () => {
  it('reports the verified host key and runs commands with exit codes and stderr', async () => {
    expect(fingerprint(connection.hostKey)).toBe(fingerprint(parsePublicKeyLine(sshd.hostPublicKey).blob));
    const result = await connection.exec('printf out; printf err >&2; exit 3', { timeoutMs: 30_000 });
    expect(result).toMatchObject({ code: 3, stdout: 'out', stderr: 'err', truncated: false });
  });

  it('runs several commands and an SFTP read at once over the one connection', async () => {
    const file = join(dir, 'f.txt');
    writeFileSync(file, 'hello\n');
    const results = await Promise.all([
      connection.exec('echo one', { timeoutMs: 30_000 }),
      connection.exec('echo two', { timeoutMs: 30_000 }),
      connection.readFile(file, { maxBytes: 100, timeoutMs: 30_000 }),
    ]);
    expect(results[0].stdout).toBe('one\n');
    expect(results[1].stdout).toBe('two\n');
    expect(results[2].toString()).toBe('hello\n');
  });

  it('times a hanging command out, and the connection stays usable', async () => {
    const started = performance.now();
    // The marker names the process so that it can be found and ended afterwards.
    const marker = `check-ssh-hang-${process.pid}`;
    await expect(connection.exec(`exec -a ${marker} sleep 30`, { timeoutMs: 800 })).rejects.toBeInstanceOf(CommandTimeoutError);
    expect(performance.now() - started).toBeLessThan(5_000);
    // The server is asked to KILL the command (OpenSSH honours that only under privilege
    // separation for the session, so the process may outlive the channel: end it here).
    await connection.exec(`pkill -f '^${marker}' || true`, { timeoutMs: 30_000 });
    expect((await connection.exec('echo still-here', { timeoutMs: 30_000 })).stdout).toBe('still-here\n');
  });

  it('caps the output it keeps', async () => {
    const result = await connection.exec('head -c 200000 /dev/zero', { timeoutMs: 30_000, maxOutputBytes: 1000 });
    expect(result.stdout.length).toBe(1000);
    expect(result.truncated).toBe(true);
  });

  it('reads files over SFTP up to the limit and refuses larger ones before reading', async () => {
    const exact = join(dir, 'exact.yaml');
    writeFileSync(exact, 'x'.repeat(64));
    expect((await connection.readFile(exact, { maxBytes: 64, timeoutMs: 30_000 })).length).toBe(64);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, 'x'.repeat(65));
    const error = await connection.readFile(big, { maxBytes: 64, timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFileError);
    expect((error as RemoteFileError).kind).toBe('too-large');
    expect((error as Error).message).toBe(`${big} is 65 bytes, over the limit of 64`);
    const missing = await connection.readFile(join(dir, 'nope'), { maxBytes: 64, timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect((missing as RemoteFileError).kind).toBe('missing');
    const directory = await connection.readFile(dir, { maxBytes: 64, timeoutMs: 30_000 }).catch((e: unknown) => e);
    expect((directory as RemoteFileError).kind).toBe('not-a-file');
  });
});

/** A config of one server: this test's sshd, with `workspace` and the given repositories. */
function sshdConfig(name: string, workspace: string, repositories: Record<string, unknown>) {
  return resolveEnvironment(
    name,
    environmentSchema.parse({
      mwaa: { environmentName: name, region: 'us-east-1', bucket: `airflow-${name}` },
      secrets: { sshKeyArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:gpu-server-ssh-key-AbCdEf' },
      ...repositories,
      ssh: { user: sshd.user },
      servers: [{ name: 'gpu-01', host: '127.0.0.1', port: sshd.port, workspacePath: workspace, hostPublicKey: sshd.hostPublicKey }],
    }),
  );
}

describe('a server without a pinned host key', () => {
  it('is never connected to: the check has no accept-new policy', async () => {
    const workspace = join(dir, 'ws');
    makeCheckout(workspace, 'cicd-test', 'cicd_01_etl', 'a: 1\nb: 2\nc: 3\nd: 4\n');
    const config = sshdConfig('unpinned', workspace, { git: { repoUrl: '/srv/git/cicd-test.git' } });
    // The schema requires a pinned key; a config object built some other way still gets no connection.
    config.servers[0]!.hostPublicKey = null;
    const report = await runRuntimeCheck(config, { identityFile: sshd.clientKeyPath });
    expect(report.ok).toBe(false);
    expect(report.servers[0]?.checks[0]?.reason).toMatch(/^no pinned hostPublicKey/);
    expect(report.servers[0]?.checks.slice(1).every((c) => !c.ok && c.reason.startsWith('skipped'))).toBe(true);
  });
});

describe('several repositories', () => {
  it('checks every checkout and compares each version file with its own Variables', async () => {
    const workspace = join(dir, 'ws-many');
    makeCheckout(workspace, 'cicd-test', 'cicd_01_etl', 'a: 1\nb: two\nc: 3.5\nd: true\n');
    makeCheckout(workspace, 'models', 'main', 'model: resnet-7\n');
    const config = sshdConfig('many', workspace, {
      repositories: [
        { name: 'etl', url: '/srv/git/cicd-test.git', checkoutDir: 'cicd-test', versionFile: 'www/version.yaml' },
        {
          name: 'models',
          url: '/srv/git/models.git',
          branch: 'main',
          checkoutDir: 'models',
          versionFile: { path: 'www/version.yaml', variables: [{ key: 'model', variable: 'model' }] },
        },
        // Configured but never cloned on this server: its checkout check fails.
        { name: 'docs', url: '/srv/git/docs.git', branch: 'main', checkoutDir: 'docs' },
      ],
    });
    const asked: string[] = [];
    const airflow = new Map([
      ['etl__a', '1'],
      ['etl__b', 'two'],
      ['etl__c', '3.5'],
      ['etl__d', 'true'],
      ['models__model', 'resnet-6'],
    ]);
    const report = await runRuntimeCheck(config, {
      identityFile: sshd.clientKeyPath,
      compareVariables: true,
      variableReader: {
        variables: async (keys) => {
          asked.push(...keys);
          return new Map(keys.map((key) => [key, airflow.get(key)]));
        },
      },
    });
    const [server] = report.servers;
    expect(server?.checks.map((c) => [c.name, c.repository, c.ok])).toEqual([
      ['reachable', undefined, true],
      ['whoami', undefined, true],
      ['checkout', 'etl', true],
      ['version-file', 'etl', true],
      ['checkout', 'models', true],
      ['version-file', 'models', true],
      ['checkout', 'docs', false],
      ['variables', 'etl', true],
      ['variables', 'models', false],
    ]);
    expect(asked.sort()).toEqual(['etl__a', 'etl__b', 'etl__c', 'etl__d', 'models__model']);
    expect(server?.checks[4]?.reason).toMatch(/\/models on main at [0-9a-f]{12}$/);
    expect(server?.checks[6]?.reason).toMatch(/^no git checkout at .*\/docs: fatal: cannot change to/);
    expect(server?.repositories).toEqual({
      etl: { branch: 'cicd_01_etl', commit: expect.stringMatching(/^[0-9a-f]{40}$/) },
      models: { branch: 'main', commit: expect.stringMatching(/^[0-9a-f]{40}$/) },
    });
    expect(server?.variables?.find((row) => row.key === 'models__model')).toMatchObject({ equal: false, airflowValue: 'resnet-6' });
    expect(report.ok).toBe(false);
  });
});

describe('the algorithms negotiated with OpenSSH', () => {
  it('are the cheapest we offer with a stock server: ecdh-sha2-nistp256 and AES-GCM', () => {
    expect(connection.negotiated).toMatchObject({
      kex: 'ecdh-sha2-nistp256',
      serverHostKey: 'ssh-ed25519',
      cs: { cipher: 'aes128-gcm@openssh.com' },
      sc: { cipher: 'aes128-gcm@openssh.com' },
    });
  });

  it('fall back to curve25519 and chacha20-poly1305 on a server that allows only those', async () => {
    const hardened = await startSshd({
      clientKeyPath: sshd.clientKeyPath,
      extraConfig: ['KexAlgorithms curve25519-sha256', 'Ciphers chacha20-poly1305@openssh.com'],
    });
    try {
      const pinned = parsePublicKeyLine(hardened.hostPublicKey);
      const other = await connectTo(hardened);
      try {
        expect(other.negotiated).toMatchObject({ kex: 'curve25519-sha256', cs: { cipher: 'chacha20-poly1305@openssh.com' } });
        expect(other.hostKey.equals(pinned.blob)).toBe(true);
        expect((await other.exec('echo ok', { timeoutMs: 30_000 })).stdout).toBe('ok\n');
      } finally {
        other.close();
      }
    } finally {
      await hardened.stop();
    }
  });
});

describe("OpenSSH's notice of its host keys", () => {
  it('is not answered with a request to prove them (the pinned key was verified in the key exchange)', async () => {
    // A stock server's set of host keys (RSA, ECDSA and ed25519), and a log that names every
    // global request the client sends.
    const keys = mkdtempSync(join(tmpdir(), 'check-ssh-hostkeys-'));
    for (const type of ['rsa', 'ecdsa']) {
      execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', join(keys, type)], { stdio: 'ignore' });
    }
    const stock = await startSshd({
      clientKeyPath: sshd.clientKeyPath,
      logLevel: 'DEBUG3',
      extraConfig: [`HostKey ${join(keys, 'rsa')}`, `HostKey ${join(keys, 'ecdsa')}`],
    });
    try {
      const other = await connectTo(stock);
      // The notice goes out right after authentication, before the answer to this command.
      expect((await other.exec('echo ok', { timeoutMs: 30_000 })).stdout).toBe('ok\n');
      other.close();
      // The session's last lines reach the log once the server has seen the client leave.
      const deadline = performance.now() + 20_000;
      let log = '';
      while (performance.now() < deadline) {
        log = readFileSync(stock.log, 'utf8');
        if (/Received disconnect from/.test(log)) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(log).toMatch(/Received disconnect from/);
      expect(log).toMatch(/notify_hostkeys: sent 3 hostkeys/);
      expect(log).not.toMatch(/hostkeys-prove/);
    } finally {
      await stock.stop();
      rmSync(keys, { recursive: true, force: true });
    }
  });
});
