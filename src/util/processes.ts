/**
 * Process plumbing: running a program to completion (never through a shell), detached children,
 * liveness, the /proc process tree, and stopping by PID only (never by name: other users may run
 * the same programs on this machine). Linux only where it reads /proc.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DetachedOptions {
  command: string;
  args: string[];
  /** stdout and stderr both go here (appended). */
  log: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Starts a child in its own session that outlives this process; returns its PID. */
export function spawnDetached(options: DetachedOptions): number {
  mkdirSync(dirname(options.log), { recursive: true });
  const fd = openSync(options.log, 'a');
  try {
    const child = spawn(options.command, options.args, {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    if (child.pid === undefined) throw new Error(`could not start ${options.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True when a process with this PID exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed child of ours that nobody reaped yet still answers kill(0); /proc tells the truth.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}

/** The command line of a PID (for status output and to guard against PID reuse). */
export function commandLine(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

/** Resident set size in KiB, or undefined when the process is gone. */
export function rssKiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) : 0;
  } catch {
    return undefined;
  }
}

/** PIDs of all descendants of `pid` (children, grandchildren...), read from /proc. */
export function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = readdirProc();
  } catch {
    return [];
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parentOf.set(Number(entry), Number(fields[1]));
    } catch {
      // The process ended while we looked.
    }
  }
  const result: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const [child, parent] of parentOf) {
      if (parent === current) {
        result.push(child);
        queue.push(child);
      }
    }
  }
  return result;
}

function readdirProc(): string[] {
  return readdirSync('/proc').filter((name) => /^\d+$/.test(name));
}

export interface StopResult {
  pid: number;
  /** `not-running` when it was already gone; `killed` when SIGTERM was not enough. */
  outcome: 'not-running' | 'terminated' | 'killed';
}

/**
 * SIGTERM to the process and its process group (detached children lead their own group, so this
 * reaches e.g. Airflow's forked workers), wait up to `graceMs`, then SIGKILL what is left.
 */
export async function stopPid(pid: number, graceMs = 10_000): Promise<StopResult> {
  if (!isAlive(pid)) return { pid, outcome: 'not-running' };
  const tree = [pid, ...descendants(pid)];
  signal(pid, 'SIGTERM', true);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (tree.every((p) => !isAlive(p))) return { pid, outcome: 'terminated' };
    await sleep(100);
  }
  signal(pid, 'SIGKILL', true);
  for (const p of tree) signal(p, 'SIGKILL', false);
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline && tree.some((p) => isAlive(p))) await sleep(50);
  return { pid, outcome: 'killed' };
}

function signal(pid: number, sig: NodeJS.Signals, group: boolean): void {
  // Only signal the group when this PID leads it: a negative PID of a non-leader could hit others.
  if (group && processGroupOf(pid) === pid) {
    try {
      process.kill(-pid, sig);
      return;
    } catch {
      // Fall through to the single process.
    }
  }
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function processGroupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

/** Polls `probe` until it returns true, or throws with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs: number,
  options: { intervalMs?: number; alive?: () => boolean; hint?: string } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      if (await probe()) return;
    } catch (error) {
      lastError = error;
    }
    if (options.alive && !options.alive()) {
      throw new Error(`${what}: the process exited.${options.hint ? ` ${options.hint}` : ''}`);
    }
    await sleep(options.intervalMs ?? 200);
  }
  const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`${what}: not ready after ${timeoutMs} ms${cause}.${options.hint ? ` ${options.hint}` : ''}`);
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill the program (and its process group) after this long; 0 or absent: no limit. */
  timeoutMs?: number;
  /** Written to the program's stdin, which is closed afterwards. */
  input?: string;
  /** Output beyond this many bytes per stream is dropped (the program keeps running). */
  maxOutputBytes?: number;
}

export interface ProgramResult {
  /** Exit code; null when killed by a signal (for example on timeout). */
  code: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * Runs a program without a shell and collects its output, whatever its exit status. With a timeout
 * it runs in its own process group, so the timeout kills it and whatever it spawned.
 */
export function runProgram(file: string, args: readonly string[], options: RunOptions = {}): Promise<ProgramResult> {
  const limit = options.maxOutputBytes ?? 64 * 1024 * 1024;
  return new Promise((resolveRun, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      // Its own process group when it may have to be killed, so the kill reaches what it spawned.
      detached: Boolean(options.timeoutMs),
    });
    const out = collector(limit);
    const err = collector(limit);
    child.stdout?.on('data', out.push);
    child.stderr?.on('data', err.push);
    if (options.input !== undefined) child.stdin?.end(options.input);
    let timedOut = false;
    const timer =
      options.timeoutMs && options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            killGroup(child.pid, 'SIGKILL');
          }, options.timeoutMs)
        : undefined;
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, timedOut, stdout: out.value(), stderr: err.value() });
    });
  });
}

/** Runs a program to completion; rejects with its stderr's tail unless it exits 0. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<{ stdout: string; stderr: string }> {
  let result: ProgramResult;
  try {
    result = await runProgram(command, args, options);
  } catch (error) {
    throw new Error(`${command} ${args.join(' ')} failed: ${(error as Error).message}`);
  }
  const stdout = result.stdout.toString('utf8');
  const stderr = result.stderr.toString('utf8');
  if (result.code !== 0) {
    const why = result.timedOut ? `timed out after ${options.timeoutMs} ms` : `exited with ${result.signal ?? result.code}`;
    const tail = stderr.trim().split('\n').slice(-20).join('\n');
    throw new Error(`${command} ${args.join(' ')} ${why}\n${tail}`);
  }
  return { stdout, stderr };
}

/** Signals a whole process group; a group that is already gone is not an error. */
export function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function collector(limit: number): { push: (chunk: Buffer) => void; value: () => Buffer } {
  const chunks: Buffer[] = [];
  let size = 0;
  return {
    push: (chunk: Buffer) => {
      if (size >= limit) return;
      const part = chunk.subarray(0, limit - size);
      chunks.push(part);
      size += part.length;
    },
    value: () => Buffer.concat(chunks),
  };
}

/** Runs a program to completion with its output appended to `log`; rejects with the log's tail. */
export function runLogged(command: string, args: string[], options: { log: string; env?: NodeJS.ProcessEnv; cwd?: string }): Promise<void> {
  mkdirSync(dirname(options.log), { recursive: true });
  const fd = openSync(options.log, 'a');
  return new Promise<void>((resolveRun, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', fd, fd], env: options.env ?? process.env, cwd: options.cwd });
    child.on('error', (error) => {
      closeSync(fd);
      reject(new Error(`${command}: ${error.message}`));
    });
    child.on('exit', (code, sig) => {
      closeSync(fd);
      if (code === 0) {
        resolveRun();
        return;
      }
      let tail = '';
      try {
        tail = readFileSync(options.log, 'utf8').trimEnd().split('\n').slice(-15).join('\n');
      } catch {
        // No log to show.
      }
      reject(new Error(`${command} ${args.join(' ')} exited with ${sig ?? code} (log: ${options.log})\n${tail}`));
    });
  });
}

/**
 * What makes a PID meaningful: the kernel boot and the PID namespace it was read in. Containers
 * share host names but not PID namespaces, and PIDs restart at every boot, so a PID recorded
 * elsewhere says nothing here unless both match. Fields are absent where /proc does not tell.
 */
export interface ProcessIdentity {
  bootId?: string;
  pidNamespace?: string;
}

export function processIdentity(): ProcessIdentity {
  const identity: ProcessIdentity = {};
  try {
    identity.bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // Not Linux, or /proc is not mounted.
  }
  try {
    identity.pidNamespace = readlinkSync('/proc/self/ns/pid');
  } catch {
    // Same.
  }
  return identity;
}

/**
 * PIDs (other than this process) whose environment has `name` set to a value that `matches`.
 * Reads /proc/<pid>/environ, so it sees only processes this user may inspect.
 */
export function processesWithEnv(name: string, matches: (value: string) => boolean): number[] {
  const prefix = `${name}=`;
  const found: number[] = [];
  for (const entry of readdirProc()) {
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let environ: string;
    try {
      environ = readFileSync(`/proc/${entry}/environ`, 'latin1');
    } catch {
      continue;
    }
    const variable = environ.split('\0').find((line) => line.startsWith(prefix));
    if (variable !== undefined && matches(variable.slice(prefix.length)) && isAlive(pid)) found.push(pid);
  }
  return found.sort((a, b) => a - b);
}
