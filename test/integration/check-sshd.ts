/**
 * A throwaway OpenSSH server for the runtime check's tests and bench: its own host key, client
 * key, authorized_keys and pid file in a temp dir, listening on many loopback addresses
 * (127.0.0.1 .. 127.0.0.N, one port) so that a few processes stand in for many GPU servers.
 * OpenSSH listens on at most 16 sockets per process, so every 16 addresses get their own sshd.
 * Keys are generated per run; nothing is committed.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../local-stack/src/net.js';

export interface TestSshd {
  dir: string;
  port: number;
  /** One loopback address per simulated server. */
  hosts: string[];
  user: string;
  /** `ssh-ed25519 AAAA...` as the config pins it. */
  hostPublicKey: string;
  clientKeyPath: string;
  knownHostsPath: string;
  log: string;
  configPath: string;
  /**
   * CPU the sshd processes and every connection they served (reaped children) have used, in ms:
   * the server side's cost, for the bench.
   */
  serverCpuMs(): number;
  stop(): Promise<void>;
  /** Stops the server but keeps the directory (for "sshd stopped" cases). */
  kill(): Promise<void>;
}

export interface SshdOptions {
  addresses?: number;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
  /** Use this client key (public half is authorized) instead of generating one. */
  clientKeyPath?: string;
  /**
   * `internal` (default): sshd's built-in SFTP server. `external`: /usr/lib/openssh/sftp-server,
   * which sshd starts through the user's shell; where that shell sources a heavy ~/.bashrc (root's
   * runs `pyenv init` on this machine), every SFTP session pays for it.
   */
  sftp?: 'internal' | 'external';
  /** sshd's LogLevel (ERROR unless given; sshd keeps the first value, so extraConfig cannot change it). */
  logLevel?: 'ERROR' | 'INFO' | 'DEBUG' | 'DEBUG3';
}

const LISTEN_SOCKETS_PER_SSHD = 16;

export function keygen(path: string, comment = 'runtime-check-test'): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', path], { stdio: 'ignore' });
}

export async function startSshd(options: SshdOptions = {}): Promise<TestSshd> {
  const count = options.addresses ?? 1;
  if (count < 1 || count > 250) throw new Error('addresses must be 1..250');
  const dir = mkdtempSync(join(tmpdir(), 'check-sshd-'));
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  keygen(hostKey, 'host');
  const clientKeyPath = options.clientKeyPath ?? join(dir, 'client_ed25519');
  if (!options.clientKeyPath) keygen(clientKeyPath, 'client');
  const clientPub = options.clientKeyPath
    ? execFileSync('ssh-keygen', ['-y', '-f', clientKeyPath], { encoding: 'utf8' })
    : readFileSync(`${clientKeyPath}.pub`, 'utf8');
  writeFileSync(join(dir, 'authorized_keys'), clientPub, { mode: 0o600 });
  const hostPublicKey = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/).slice(0, 2).join(' ');
  const port = await freePort();
  const hosts = Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
  const log = join(dir, 'sshd.log');
  const configPath = join(dir, 'sshd_config');
  const groups: string[][] = [];
  for (let i = 0; i < hosts.length; i += LISTEN_SOCKETS_PER_SSHD) groups.push(hosts.slice(i, i + LISTEN_SOCKETS_PER_SSHD));
  const sftpServer = ['/usr/lib/openssh/sftp-server', '/usr/libexec/openssh/sftp-server'].find((p) => {
    try {
      readFileSync(p);
      return true;
    } catch {
      return false;
    }
  });
  // Shared settings; each process adds its ListenAddress lines and pid file on the command line.
  writeFileSync(
    configPath,
    [
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'UsePAM no',
      'StrictModes no',
      'UseDNS no',
      'PrintMotd no',
      'MaxStartups 200:30:300',
      'MaxSessions 20',
      `LogLevel ${options.logLevel ?? 'ERROR'}`,
      `Subsystem sftp ${options.sftp === 'external' && sftpServer ? sftpServer : 'internal-sftp'}`,
      ...(options.extraConfig ?? []),
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'known_hosts'), `${hosts.map((host) => `[${host}]:${port} ${hostPublicKey}`).join('\n')}\n`);
  mkdirSync('/run/sshd', { recursive: true });

  const children = groups.map((group, index) => {
    const args = ['-D', '-f', configPath, '-E', log, '-o', `PidFile=${join(dir, `sshd-${index}.pid`)}`];
    for (const host of group) args.push('-o', `ListenAddress=${host}:${port}`);
    const child: ChildProcess = spawn('/usr/sbin/sshd', args, { stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return { child, exited, running: true };
  });
  const kill = async () => {
    await Promise.all(
      children.map(async (entry) => {
        if (!entry.running) return;
        entry.child.kill('SIGTERM');
        await entry.exited;
        entry.running = false;
      }),
    );
  };
  try {
    await Promise.all(groups.map((group) => waitForBanner(group[group.length - 1] as string, port, 10_000, log)));
  } catch (error) {
    await kill();
    throw error;
  }
  return {
    dir,
    port,
    hosts,
    user: userInfo().username,
    hostPublicKey,
    clientKeyPath,
    knownHostsPath: join(dir, 'known_hosts'),
    log,
    configPath,
    serverCpuMs: () => children.reduce((sum, entry) => sum + (entry.child.pid ? processTreeCpuMs(entry.child.pid) : 0), 0),
    kill,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** utime + stime + cutime + cstime of a process, from /proc (clock ticks of 10 ms on Linux). */
function processTreeCpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of stat(5); after the ")" the list starts at field 3.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return ticks * 10;
  } catch {
    return 0;
  }
}

async function waitForBanner(host: string, port: number, timeoutMs: number, log: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = tcpConnect({ host, port });
      socket.once('data', (data) => {
        socket.destroy();
        resolve(data.toString('latin1').startsWith('SSH-'));
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) {
      let detail = '';
      try {
        detail = readFileSync(log, 'utf8').slice(-2000);
      } catch {
        /* no log yet */
      }
      throw new Error(`sshd did not start on ${host}:${port} within ${timeoutMs} ms. Log:\n${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A git repo with `branch` holding `www/version.yaml`, cloned into `<workspace>/<checkoutDir>`. */
export function makeCheckout(workspace: string, checkoutDir: string, branch: string, versionYaml: string): string {
  const path = join(workspace, checkoutDir);
  mkdirSync(join(path, 'www'), { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-C', path, ...args], {
      stdio: 'ignore',
      env: { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t' },
    });
  git('init', '-q', '-b', branch);
  writeFileSync(join(path, 'www', 'version.yaml'), versionYaml);
  git('add', '.');
  git('commit', '-q', '-m', 'version');
  return path;
}
