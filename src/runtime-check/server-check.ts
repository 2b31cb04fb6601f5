/**
 * The checks of one server, in order, over one SSH connection: reachable (TCP, SSH, host key,
 * authentication), whoami, then per repository checkout (branch and commit) and, where the
 * repository names one, version-file. A check that cannot run because the connection failed is
 * reported as failed and skipped, never left out. With several repositories every per-repository
 * check carries the repository's name.
 */
import { posix } from 'node:path';
import type { ParsedKey } from 'ssh2';
import type { ResolvedConfig, ResolvedRepository, ResolvedServer } from '../config/resolved.js';
import { mapWithConcurrency } from '../util/concurrency.js';
import { fingerprint, parsePublicKeyLine } from './host-key.js';
import { shellJoin } from '../util/shell-quote.js';
import type { CheckResult } from './report.js';
import { CommandTimeoutError, connect, RemoteFileError, type HostKeyPolicy, type SshConnection } from './ssh.js';
import {
  GPU_QUERY_COMMAND,
  gpuShortfalls,
  gpuSummary,
  HEADER_COMMAND,
  MAX_OUTPUT_BYTES,
  readGpus,
  type CommandOutput,
  type GpuReading,
} from './nvidia-smi.js';
import { parseVersionFile, type VersionFileReadings, variableText, type VersionValue } from './version-file.js';

export interface ServerCheckOutcome {
  checks: CheckResult[];
  /** What the first repository's checkout is on. */
  git?: { branch: string; commit: string };
  /** What each repository's checkout is on, by repository name. */
  repositories?: Record<string, { branch: string; commit: string }>;
  /** The parsed version file values, by repository name, then file key, for each valid file. */
  values?: Record<string, Record<string, VersionValue>>;
  /** What nvidia-smi reported, when the server has a gpus expectation and nvidia-smi answered. */
  gpus?: GpuReading;
}

export interface ServerCheckContext {
  config: Pick<ResolvedConfig, 'ssh' | 'repositories'>;
  server: ResolvedServer;
  key: ParsedKey;
  now: () => number;
  /** Only reachable and whoami: a fleet-wide connectivity probe (no git, no version file). */
  quick?: boolean;
  /** Version files already read in this run (the servers of a fleet on one commit hold one file). */
  versionFiles?: VersionFileReadings;
}

/** Repositories checked at once on one connection: each takes up to two channels (git, SFTP),
 * well under OpenSSH's default MaxSessions of 10. */
const REPOSITORY_CONCURRENCY = 4;

/** Checks that need a connection, in the order they run. */
function remoteChecks(repositories: readonly ResolvedRepository[], gpus: boolean): Array<Pick<CheckResult, 'name' | 'repository'>> {
  return [
    { name: 'whoami' },
    ...(gpus ? [{ name: 'gpus' as const }] : []),
    ...repositories.flatMap((repository) => {
      const tag = repositoryTag(repositories, repository);
      const checkout: Pick<CheckResult, 'name' | 'repository'> = { name: 'checkout', ...tag };
      return repository.versionFile ? [checkout, { name: 'version-file' as const, ...tag }] : [checkout];
    }),
  ];
}

/** The repository field of a per-repository check: only with several repositories, so that the
 * report of one repository reads as it always did. */
export function repositoryTag(repositories: readonly { name: string }[], repository: { name: string }): { repository?: string } {
  return repositories.length > 1 ? { repository: repository.name } : {};
}

export function checkoutPath(repository: Pick<ResolvedRepository, 'checkoutDir'>, server: ResolvedServer): string {
  return posix.join(server.workspacePath, repository.checkoutDir);
}

export function versionFilePath(
  repository: Pick<ResolvedRepository, 'checkoutDir'>,
  file: { path: string },
  server: ResolvedServer,
): string {
  return posix.join(checkoutPath(repository, server), file.path);
}

/** The host key rule for a server: its pinned key; without one the server is refused. */
export function hostKeyPolicyFor(server: ResolvedServer): { policy: HostKeyPolicy } | { problem: string } {
  if (server.hostPublicKey) {
    try {
      return { policy: { mode: 'pinned', key: parsePublicKeyLine(server.hostPublicKey) } };
    } catch (error) {
      return { problem: `the pinned hostPublicKey is not usable: ${(error as Error).message}` };
    }
  }
  return { problem: 'no pinned hostPublicKey; get it with: npm run check -- --env <env> --print-host-keys' };
}

export async function checkServer(context: ServerCheckContext): Promise<ServerCheckOutcome> {
  const { config, server, now } = context;
  const checks: CheckResult[] = [];
  const skipRest = (why: string): ServerCheckOutcome => {
    const names = context.quick ? [{ name: 'whoami' as const }] : remoteChecks(config.repositories, server.gpus !== null);
    for (const check of names) checks.push({ ...check, ok: false, ms: 0, reason: `skipped: ${why}` });
    return { checks };
  };

  const hostKey = hostKeyPolicyFor(server);
  if ('problem' in hostKey) {
    checks.push({ name: 'reachable', ok: false, ms: 0, reason: hostKey.problem });
    return skipRest('no usable host key');
  }

  const started = now();
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
    reason: `SSH as ${server.user}, host key ${print} matches the pinned key`,
  });

  const outcome: ServerCheckOutcome = { checks };
  const commandTimeoutMs = config.ssh.commandTimeoutSeconds * 1000;
  try {
    if (context.quick) {
      const begin = now();
      const result = await run(connection, shellJoin(['whoami']), commandTimeoutMs);
      const whoami = 'reason' in result ? { ok: false, reason: result.reason } : interpretWhoami(result, server.user);
      checks.push({ name: 'whoami', ...whoami, ms: elapsed(begin, now) });
      return outcome;
    }
    // The identity/git commands and the SFTP reads run side by side on the one connection: a few
    // channels at once instead of round trips in a row. The first repository's git command rides
    // along with whoami.
    const timed = async <T>(work: Promise<T>): Promise<{ value: T; ms: number }> => {
      const begin = now();
      const value = await work;
      return { value, ms: elapsed(begin, now) };
    };
    const repositories = config.repositories;
    const expectation = server.gpus;
    const gpuWork = expectation ? timed(gpuCheck(connection, expectation, commandTimeoutMs)) : undefined;
    const results = await mapWithConcurrency(repositories, REPOSITORY_CONCURRENCY, (repository, index) =>
      Promise.all([
        timed(
          index === 0
            ? identityAndCheckout(connection, server.user, checkoutPath(repository, server), repository.branch, commandTimeoutMs)
            : checkoutOnly(connection, checkoutPath(repository, server), repository.branch, commandTimeoutMs),
        ),
        repository.versionFile
          ? timed(versionFile(connection, repository, repository.versionFile, server, commandTimeoutMs, context.versionFiles))
          : undefined,
      ]),
    );
    const gpus = await gpuWork;
    results.forEach(([identity, file], index) => {
      const repository = repositories[index] as ResolvedRepository;
      const tag = repositoryTag(repositories, repository);
      if (index === 0) checks.push({ name: 'whoami', ...identity.value.whoami, ms: identity.ms });
      if (index === 0 && gpus) {
        checks.push({ name: 'gpus', ok: gpus.value.ok, reason: gpus.value.reason, ms: gpus.ms });
        if (gpus.value.reading) outcome.gpus = gpus.value.reading;
      }
      checks.push({ name: 'checkout', ...tag, ...identity.value.checkout, ms: identity.ms });
      if (identity.value.git) {
        outcome.git ??= identity.value.git;
        outcome.repositories = { ...outcome.repositories, [repository.name]: identity.value.git };
      }
      if (file) {
        checks.push({ name: 'version-file', ...tag, ok: file.value.ok, reason: file.value.reason, ms: file.ms });
        if (file.value.values) outcome.values = { ...outcome.values, [repository.name]: file.value.values };
      }
    });
  } finally {
    connection.close();
  }
  return outcome;
}

/**
 * nvidia-smi's GPU query, then its header (for the CUDA version), one after the other on channels of
 * the same connection (the repositories' channels run beside them, under OpenSSH's MaxSessions),
 * each read up to MAX_OUTPUT_BYTES, and judged against the server's expectation.
 */
async function gpuCheck(
  connection: SshConnection,
  expectation: NonNullable<ResolvedServer['gpus']>,
  timeoutMs: number,
): Promise<{ ok: boolean; reason: string; reading?: GpuReading }> {
  const outputs: CommandOutput[] = [];
  for (const command of [GPU_QUERY_COMMAND, HEADER_COMMAND]) {
    let result: Awaited<ReturnType<SshConnection['exec']>>;
    try {
      result = await connection.exec(command, { timeoutMs, maxOutputBytes: MAX_OUTPUT_BYTES });
    } catch (error) {
      const why = error instanceof CommandTimeoutError ? `timed out: ${error.message}` : `failed to start: ${(error as Error).message}`;
      return { ok: false, reason: `${command.split(' ')[0]} ${why}` };
    }
    if (result.truncated) return { ok: false, reason: `nvidia-smi printed more than ${MAX_OUTPUT_BYTES} bytes; not read further` };
    outputs.push(result);
  }
  const reading = readGpus(outputs[0] as CommandOutput, outputs[1] as CommandOutput);
  if (!reading.ok) return { ok: false, reason: reading.reason };
  const shortfalls = gpuShortfalls(expectation, reading.value);
  const summary = gpuSummary(reading.value);
  if (shortfalls.length > 0) return { ok: false, reason: `${shortfalls.join('; ')} (found ${summary})`, reading: reading.value };
  return { ok: true, reason: summary, reading: reading.value };
}

/**
 * `whoami`, then the checkout's branch and commit, in one remote command (one shell on the
 * server instead of two): `git -C <path> rev-parse HEAD --abbrev-ref HEAD` prints the commit,
 * then the branch (`--abbrev-ref` applies to the arguments after it). Every argument is quoted.
 */
export function identityCommand(path: string): string {
  return `${shellJoin(['whoami'])} && ${shellJoin(['git', '-C', path, 'rev-parse', 'HEAD', '--abbrev-ref', 'HEAD'])}`;
}

interface IdentityOutcome {
  whoami: { ok: boolean; reason: string };
  checkout: { ok: boolean; reason: string };
  git?: { branch: string; commit: string };
}

async function identityAndCheckout(
  connection: SshConnection,
  user: string,
  path: string,
  branch: string,
  timeoutMs: number,
): Promise<IdentityOutcome> {
  const result = await run(connection, identityCommand(path), timeoutMs);
  if ('reason' in result) {
    return { whoami: { ok: false, reason: result.reason }, checkout: { ok: false, reason: `skipped: ${result.reason}` } };
  }
  return interpretIdentity(result, user, path, branch);
}

/** Reads the output of `whoami` (the first line of identityCommand's). Pure, for tests. */
export function interpretWhoami(
  result: { code: number | null; stdout: string; stderr: string },
  user: string,
): { ok: boolean; reason: string } {
  const actual = result.stdout.split('\n')[0]?.trim() ?? '';
  if (actual === '') return { ok: false, reason: `whoami failed: ${firstLine(result.stderr) || exitText(result.code)}` };
  if (actual === user) return { ok: true, reason: actual };
  return { ok: false, reason: `logged in as ${JSON.stringify(actual)}, expected ${JSON.stringify(user)}` };
}

/** The branch and commit of one more checkout (whoami already ran with the first). */
async function checkoutOnly(connection: SshConnection, path: string, branch: string, timeoutMs: number): Promise<IdentityOutcome> {
  const result = await run(connection, shellJoin(['git', '-C', path, 'rev-parse', 'HEAD', '--abbrev-ref', 'HEAD']), timeoutMs);
  const whoami = { ok: true, reason: '' };
  if ('reason' in result) return { whoami, checkout: { ok: false, reason: result.reason } };
  return {
    whoami,
    ...interpretCheckout(
      result,
      result.stdout.split('\n').map((line) => line.trim()),
      path,
      branch,
    ),
  };
}

/** Reads the output of identityCommand. Pure, for tests. */
export function interpretIdentity(
  result: { code: number | null; stdout: string; stderr: string },
  user: string,
  path: string,
  branch: string,
): IdentityOutcome {
  const lines = result.stdout.split('\n').map((line) => line.trim());
  const whoami = interpretWhoami(result, user);
  // `whoami && git ...`: no user name means git never ran.
  if (lines[0] === '' || lines[0] === undefined) return { whoami, checkout: { ok: false, reason: 'skipped: whoami failed' } };
  return { whoami, ...interpretCheckout(result, lines.slice(1), path, branch) };
}

/** Reads `git rev-parse HEAD --abbrev-ref HEAD` (commit, then branch). Pure, for tests. */
function interpretCheckout(
  result: { code: number | null; stderr: string },
  lines: string[],
  path: string,
  branch: string,
): Omit<IdentityOutcome, 'whoami'> {
  if (result.code !== 0) {
    const detail = firstLine(result.stderr) || exitText(result.code);
    return { checkout: { ok: false, reason: `no git checkout at ${path}: ${detail}` } };
  }
  const commit = lines[0] ?? '';
  const current = lines[1] ?? '';
  if (!/^[0-9a-f]{40,64}$/.test(commit) || current === '') {
    return { checkout: { ok: false, reason: `unexpected git output at ${path}` } };
  }
  const git = { branch: current, commit };
  const short = commit.slice(0, 12);
  // `--abbrev-ref HEAD` prints "HEAD" for a detached checkout: never a match, whatever is configured.
  const detached = current === 'HEAD';
  if (current === branch && !detached) return { checkout: { ok: true, reason: `${path} on ${branch} at ${short}` }, git };
  const where = detached ? 'a detached HEAD' : `branch ${JSON.stringify(current)}`;
  return {
    checkout: { ok: false, reason: `${path} is on ${where} at ${short}, expected branch ${JSON.stringify(branch)}` },
    git,
  };
}

async function versionFile(
  connection: SshConnection,
  repository: ResolvedRepository,
  file: NonNullable<ResolvedRepository['versionFile']>,
  server: ResolvedServer,
  timeoutMs: number,
  readings: VersionFileReadings | undefined,
): Promise<{ ok: boolean; reason: string; values?: Record<string, VersionValue> }> {
  const path = versionFilePath(repository, file, server);
  let bytes: Buffer;
  try {
    bytes = await connection.readFile(path, { maxBytes: file.maxBytes, timeoutMs });
  } catch (error) {
    if (error instanceof CommandTimeoutError) return { ok: false, reason: `reading ${path}: ${error.message}` };
    if (error instanceof RemoteFileError) return { ok: false, reason: error.message };
    return { ok: false, reason: `reading ${path} over SFTP failed: ${(error as Error).message}` };
  }
  return validateVersionBytes(bytes, path, file.variables, readings);
}

/** Refuses bytes that are not UTF-8 (a one-shot decode keeps no state between calls). */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 decoding and validation of the file's bytes. Pure, for tests. */
export function validateVersionBytes(
  bytes: Uint8Array,
  path: string,
  mappings: ResolvedConfig['versionFile']['variables'],
  readings?: VersionFileReadings,
): { ok: boolean; reason: string; values?: Record<string, VersionValue> } {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { ok: false, reason: `${path} is not UTF-8 text` };
  }
  const parsed = readings ? readings.read(text, mappings) : parseVersionFile(text, mappings);
  if (!parsed.ok) return { ok: false, reason: `${path}: ${parsed.reason}` };
  const shown = mappings
    .map((mapping) => {
      const value = parsed.values[mapping.key] as VersionValue;
      return `${mapping.key}=${typeof value === 'string' ? JSON.stringify(value) : variableText(value)}`;
    })
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

function exitText(code: number | null): string {
  return code === null ? 'no exit status (the connection dropped or the command was killed)' : `exit code ${code}`;
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}

export function elapsed(started: number, now: () => number): number {
  return Math.round((now() - started) * 10) / 10;
}
