/**
 * The stand-in GPU server: OpenSSH sshd on 127.0.0.1 with its own config, host key and
 * authorized_keys, run as the OS user of the stack. Keys are generated here (never committed).
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { installStandIn, SERVER_ADDRESSES, standInFiles } from './gpu-stand-in.js';
import { run } from './processes.js';

export const SSHD_BINARY = '/usr/sbin/sshd';

export interface SshFiles {
  dir: string;
  hostKey: string;
  clientKey: string;
  authorizedKeys: string;
  config: string;
  log: string;
  pidFile: string;
}

export function sshFiles(dir: string): SshFiles {
  return {
    dir,
    hostKey: join(dir, 'host_ed25519'),
    clientKey: join(dir, 'client_ed25519'),
    authorizedKeys: join(dir, 'authorized_keys'),
    config: join(dir, 'sshd_config'),
    log: join(dir, 'sshd.log'),
    pidFile: join(dir, 'sshd.pid'),
  };
}

/** An ed25519 key pair made by ssh-keygen, unless one is already there. Returns the public key line. */
export async function ensureKeyPair(path: string, comment: string): Promise<string> {
  if (!existsSync(path) || !existsSync(`${path}.pub`)) {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { input: 'y\n' });
  }
  chmodSync(path, 0o600);
  return publicKeyLine(readFileSync(`${path}.pub`, 'utf8'));
}

/** "ssh-ed25519 AAAA..." without the comment. */
export function publicKeyLine(pubFile: string): string {
  const [type, key] = pubFile.trim().split(/\s+/);
  if (!type || !key) throw new Error('malformed public key file');
  return `${type} ${key}`;
}

/** The PATH of every session: the stand-in nvidia-smi's directory first, then the system's. */
export function sessionPath(files: SshFiles): string {
  return `${standInFiles(files.dir).binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`;
}

/**
 * sshd_config for the stack. Pure. `listenAddresses`: loopback addresses to serve on (all of
 * 127.0.0.0/8 is loopback on Linux, so one sshd can stand in for several servers).
 */
export function renderSshdConfig(files: SshFiles, port: number, user: string, listenAddresses: readonly string[] = ['127.0.0.1']): string {
  return [
    '# Written by `npm run local -- up` (local-stack/src/sshd.ts).',
    ...listenAddresses.map((address) => `ListenAddress ${address}`),
    `Port ${port}`,
    // The stand-in nvidia-smi (gpu-stand-in.ts) first on PATH; the login shell's rc files may add more.
    `SetEnv "PATH=${sessionPath(files)}"`,
    `HostKey ${files.hostKey}`,
    `PidFile ${files.pidFile}`,
    `AuthorizedKeysFile ${files.authorizedKeys}`,
    `AllowUsers ${user}`,
    'PubkeyAuthentication yes',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin prohibit-password',
    'UsePAM no',
    // Keys live under the repo's .local-stack, whose parents' modes we do not control.
    'StrictModes no',
    'LogLevel VERBOSE',
    // Tests open many connections at once (several servers, retries, concurrency checks).
    'MaxStartups 200:30:400',
    'MaxSessions 100',
    'MaxAuthTries 6',
    'LoginGraceTime 30',
    'ClientAliveInterval 30',
    'X11Forwarding no',
    'PrintMotd no',
    'AcceptEnv LANG LC_*',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** The stack's sshd_config: every server address of the stack (gpu-stand-in.ts). Pure. */
export function stackSshdConfig(files: SshFiles, port: number, user: string): string {
  return renderSshdConfig(files, port, user, SERVER_ADDRESSES);
}

export function writeSshdConfig(files: SshFiles, port: number, user: string, clientPublicKey: string): void {
  mkdirSync(files.dir, { recursive: true });
  installStandIn(standInFiles(files.dir));
  writeFileSync(files.authorizedKeys, `${clientPublicKey} local-stack-client\n`, { mode: 0o600 });
  writeFileSync(files.config, stackSshdConfig(files, port, user), { mode: 0o644 });
}

/** `sshd -t`: fails fast with sshd's own message when the config is wrong. */
export async function testSshdConfig(files: SshFiles): Promise<void> {
  await run(SSHD_BINARY, ['-t', '-f', files.config]);
}

/** True once something on the port greets with an SSH banner. */
export function sshBannerSeen(port: number, timeoutMs = 2_000, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const socket = connect({ host, port });
    let data = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolveProbe(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\n')) done(data.startsWith('SSH-2.0-'));
    });
    socket.on('error', () => done(false));
  });
}
