/**
 * The checks of one server, in order, over one SSH connection: reachable (TCP, SSH, host key,
 * authentication), whoami, checkout (branch and commit), version-file. A check that cannot run
 * because the connection failed is reported as failed and skipped, never left out.
 */
import { posix } from 'node:path';
import type { ParsedKey } from 'ssh2';
import type { ResolvedConfig, ResolvedServer } from '../config/resolved.js';
import { fingerprint, parsePublicKeyLine } from './host-key.js';
import { shellCommand } from './quote.js';
import type { CheckName, CheckResult } from './report.js';
import { CommandTimeoutError, connect, RemoteFileError, type HostKeyPolicy, type SshConnection } from './ssh.js';
import { parseVersionFile, type VersionValue } from './version-file.js';

export interface ServerCheckOutcome {
  checks: CheckResult[];
  git?: { branch: string; commit: string };
  /** The parsed version file values, keyed by file key, when the file was valid. */
  values?: Record<string, VersionValue>;
}

export interface ServerCheckContext {
  config: Pick<ResolvedConfig, 'ssh' | 'git' | 'versionFile'>;
  server: ResolvedServer;
  key: ParsedKey;
  now: () => number;
}

/** Checks that need a connection, in the order they run. */
const REMOTE_CHECKS: CheckName[] = ['whoami', 'checkout', 'version-file'];

export function checkoutPath(config: Pick<ResolvedConfig, 'git'>, server: ResolvedServer): string {
  return posix.join(server.workspacePath, config.git.checkoutDir);
}

export function versionFilePath(config: Pick<ResolvedConfig, 'git' | 'versionFile'>, server: ResolvedServer): string {
  return posix.join(checkoutPath(config, server), config.versionFile.path);
}

/** The host key rule for a server: its pinned key, accept-new when allowed, otherwise refuse. */
export function hostKeyPolicyFor(
  config: Pick<ResolvedConfig, 'ssh'>,
  server: ResolvedServer,
): { policy: HostKeyPolicy } | { problem: string } {
  if (server.hostPublicKey) {
    try {
      return { policy: { mode: 'pinned', key: parsePublicKeyLine(server.hostPublicKey) } };
    } catch (error) {
      return { problem: `the pinned hostPublicKey is not usable: ${(error as Error).message}` };
    }
  }
  if (config.ssh.hostKeyPolicy === 'accept-new') return { policy: { mode: 'accept' } };
  return { problem: 'no pinned hostPublicKey; get it with: npm run check -- --env <env> --print-host-keys' };
}

export async function checkServer(context: ServerCheckContext): Promise<ServerCheckOutcome> {
  const { config, server, now } = context;
  const checks: CheckResult[] = [];
  const skipRest = (why: string): ServerCheckOutcome => {
    for (const name of REMOTE_CHECKS) checks.push({ name, ok: false, ms: 0, reason: `skipped: ${why}` });
    return { checks };
  };

  const hostKey = hostKeyPolicyFor(config, server);
  if ('problem' in hostKey) {
    checks.push({ name: 'reachable', ok: false, ms: 0, reason: hostKey.problem });
    return skipRest('no usable host key');
  }

  let started = now();
  let connection: SshConnection;
  try {
    connection = await connect({
      host: server.host,
      port: server.port,
      user: server.user,
      privateKey: context.key,
      hostKey: hostKey.policy,
      connectTimeoutMs: config.ssh.connectTimeoutSeconds * 1000,
      keepaliveMs: config.ssh.keepaliveSeconds * 1000,
      retries: config.ssh.connectRetries,
      now,
    });
  } catch (error) {
    checks.push({ name: 'reachable', ok: false, ms: elapsed(started, now), reason: (error as Error).message });
    return skipRest('not connected');
  }
  const print = fingerprint(connection.hostKey);
  checks.push({
    name: 'reachable',
    ok: true,
    ms: elapsed(started, now),
    reason:
      hostKey.policy.mode === 'pinned'
        ? `SSH as ${server.user}, host key ${print} matches the pinned key`
        : `SSH as ${server.user}; WARNING: host key not pinned, accepted ${print} (pin it in the config)`,
  });

  const outcome: ServerCheckOutcome = { checks };
  const commandTimeoutMs = config.ssh.commandTimeoutSeconds * 1000;
  try {
    started = now();
    checks.push({ name: 'whoami', ...(await whoami(connection, server.user, commandTimeoutMs)), ms: elapsed(started, now) });

    started = now();
    const checkout = await gitCheckout(connection, checkoutPath(config, server), config.git.branch, commandTimeoutMs);
    checks.push({ name: 'checkout', ok: checkout.ok, reason: checkout.reason, ms: elapsed(started, now) });
    if (checkout.git) outcome.git = checkout.git;

    started = now();
    const file = await versionFile(connection, config, server, commandTimeoutMs);
    checks.push({ name: 'version-file', ok: file.ok, reason: file.reason, ms: elapsed(started, now) });
    if (file.values) outcome.values = file.values;
  } finally {
    connection.close();
  }
  return outcome;
}

async function whoami(connection: SshConnection, user: string, timeoutMs: number): Promise<{ ok: boolean; reason: string }> {
  const result = await run(connection, shellCommand(['whoami']), timeoutMs);
  if ('reason' in result) return { ok: false, reason: result.reason };
  const actual = result.stdout.trim();
  if (actual === user) return { ok: true, reason: actual };
  return { ok: false, reason: `logged in as ${JSON.stringify(actual)}, expected ${JSON.stringify(user)}` };
}

async function gitCheckout(
  connection: SshConnection,
  path: string,
  branch: string,
  timeoutMs: number,
): Promise<{ ok: boolean; reason: string; git?: { branch: string; commit: string } }> {
  // Both in one channel: one shell on the server instead of two.
  const command = `${shellCommand(['git', '-C', path, 'rev-parse', '--abbrev-ref', 'HEAD'])} && ${shellCommand([
    'git',
    '-C',
    path,
    'rev-parse',
    'HEAD',
  ])}`;
  const result = await run(connection, command, timeoutMs);
  if ('reason' in result) return { ok: false, reason: result.reason };
  if (result.code !== 0) {
    const detail = firstLine(result.stderr) || `exit code ${String(result.code)}`;
    return { ok: false, reason: `no git checkout at ${path}: ${detail}` };
  }
  const [current = '', commit = ''] = result.stdout.trim().split('\n').map((line) => line.trim());
  if (!/^[0-9a-f]{40,64}$/.test(commit)) return { ok: false, reason: `unexpected git output at ${path}` };
  const git = { branch: current, commit };
  const short = commit.slice(0, 12);
  if (current === branch) return { ok: true, reason: `${path} on ${branch} at ${short}`, git };
  const where = current === 'HEAD' ? 'a detached HEAD' : `branch ${JSON.stringify(current)}`;
  return { ok: false, reason: `${path} is on ${where} at ${short}, expected branch ${JSON.stringify(branch)}`, git };
}

async function versionFile(
  connection: SshConnection,
  config: Pick<ResolvedConfig, 'git' | 'versionFile'>,
  server: ResolvedServer,
  timeoutMs: number,
): Promise<{ ok: boolean; reason: string; values?: Record<string, VersionValue> }> {
  const path = versionFilePath(config, server);
  let bytes: Buffer;
  try {
    bytes = await connection.readFile(path, { maxBytes: config.versionFile.maxBytes, timeoutMs });
  } catch (error) {
    if (error instanceof RemoteFileError || error instanceof CommandTimeoutError) {
      return { ok: false, reason: error instanceof CommandTimeoutError ? `reading ${path}: ${error.message}` : error.message };
    }
    return { ok: false, reason: `reading ${path} over SFTP failed: ${(error as Error).message}` };
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { ok: false, reason: `${path} is not UTF-8 text` };
  }
  const parsed = parseVersionFile(text, config.versionFile.variables);
  if (!parsed.ok) return { ok: false, reason: `${path}: ${parsed.reason}` };
  const shown = config.versionFile.variables
    .map((mapping) => `${mapping.key}=${JSON.stringify(parsed.values[mapping.key])}`)
    .join(' ');
  return { ok: true, reason: shown, values: parsed.values };
}

type RunResult = { code: number | null; stdout: string; stderr: string } | { reason: string };

async function run(connection: SshConnection, command: string, timeoutMs: number): Promise<RunResult> {
  try {
    return await connection.exec(command, { timeoutMs });
  } catch (error) {
    if (error instanceof CommandTimeoutError) return { reason: `command timed out: ${error.message}` };
    return { reason: `command failed to start: ${(error as Error).message}` };
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

export function elapsed(started: number, now: () => number): number {
  return Math.round((now() - started) * 10) / 10;
}
