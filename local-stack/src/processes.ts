/**
 * Process plumbing for the local stack and its tests: running a program to completion (never
 * through a shell), detached children, the /proc process tree, and stopping by PID only (never by
 * name: other users may run the same programs on this machine). Linux only where it reads /proc.
 * Whether a PID is alive, which the product's deploy lock asks too, is src/util/processes.ts.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UserError } from '../../src/errors.js';
import { isAlive, procStat, type ProcStat } from '../../src/util/processes.js';

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

/**
 * One process, not just a PID: PIDs are reused (pid_max is 32768 on many machines, and a test run
 * starts that many processes), but no two processes of one boot share a PID and a start time.
 */
export interface ProcessRef {
  pid: number;
  /** Field 22 of /proc/<pid>/stat: clock ticks from boot to the process's start. */
  startTime: number;
}

/** The process now running as `pid` (zombies included: they are still that process), if any. */
export function processRef(pid: number): ProcessRef | undefined {
  const stat = procStat(pid);
  return stat === undefined || !Number.isFinite(stat.startTime) ? undefined : { pid, startTime: stat.startTime };
}

/** True while `ref`'s process runs: alive, and its PID not taken over by a later process. */
export function isSameProcess(ref: ProcessRef): boolean {
  const stat = procStat(ref.pid);
  return stat !== undefined && stat.startTime === ref.startTime && stat.state !== 'Z' && stat.state !== 'X';
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
  return descendantStats(pid).map((d) => d.pid);
}

/**
 * The descendants of `ref` as they run now, each with its start time. A child starts after its
 * parent, so nothing here can be a process that merely reuses the PID of one of them.
 */
export function processTree(ref: ProcessRef): ProcessRef[] {
  if (!isSameProcess(ref)) return [];
  return [ref, ...descendantStats(ref.pid).map((d) => ({ pid: d.pid, startTime: d.startTime }))];
}

function descendantStats(pid: number): Array<ProcStat & { pid: number }> {
  const all: Array<ProcStat & { pid: number }> = [];
  let entries: string[] = [];
  try {
    entries = readdirProc();
  } catch {
    return [];
  }
  for (const entry of entries) {
    const stat = procStat(Number(entry));
    // Gone while we looked, or a zombie: nothing to find below it.
    if (stat !== undefined) all.push({ pid: Number(entry), ...stat });
  }
  const result: Array<ProcStat & { pid: number }> = [];
  const queue = [pid];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const proc of all) {
      if (proc.ppid === current) {
        result.push(proc);
        queue.push(proc.pid);
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
 * reaches e.g. Airflow's forked workers), wait up to `graceMs`, then SIGKILL what is left. A bare
 * PID means the process running as that PID now; a ProcessRef whose PID now belongs to another
 * process is not running. Only the processes found at the start (by identity) and the group are
 * signalled: a PID that a process of the tree freed meanwhile and another program took is left alone.
 */
export async function stopPid(target: number | ProcessRef, graceMs = 10_000): Promise<StopResult> {
  const pid = typeof target === 'number' ? target : target.pid;
  const leader = typeof target === 'number' ? processRef(target) : target;
  if (leader === undefined || !isSameProcess(leader)) return { pid, outcome: 'not-running' };
  const tree = processTree(leader);
  signalGroup(leader, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (tree.every((p) => !isSameProcess(p))) return { pid, outcome: 'terminated' };
    await sleep(100);
  }
  signalGroup(leader, 'SIGKILL');
  for (const p of tree) signalProcess(p, 'SIGKILL');
  const killDeadline = Date.now() + 5_000;
  while (Date.now() < killDeadline && tree.some((p) => isSameProcess(p))) await sleep(50);
  return { pid, outcome: 'killed' };
}

/** Signals `ref` unless its PID now names another process (or none). */
export function signalProcess(ref: ProcessRef, sig: NodeJS.Signals): void {
  if (processRef(ref.pid)?.startTime !== ref.startTime) return;
  try {
    process.kill(ref.pid, sig);
  } catch {
    // Gone since.
  }
}

/**
 * Signals the process group `leader` leads, or the process alone when it leads none (a negative
 * PID of a non-leader could hit others). Once the leader has exited, its group may live on (its
 * members keep the group's ID from being handed out as a PID); but when the leader's PID names
 * another process, that PID, and so the group ID, belongs to someone else: nothing is signalled.
 */
export function signalGroup(leader: ProcessRef, sig: NodeJS.Signals): void {
  const now = procStat(leader.pid);
  if (now !== undefined && now.startTime !== leader.startTime) return;
  if (now === undefined || now.pgrp === leader.pid) {
    try {
      process.kill(-leader.pid, sig);
      return;
    } catch {
      // No such group: fall through to the process.
    }
  }
  if (now !== undefined) signalProcess(leader, sig);
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
    // Who the child is, read before it can exit: a timeout that fires after it exited must not
    // signal a later process that took its PID.
    const ref = child.pid === undefined ? undefined : processRef(child.pid);
    const out = collector(limit);
    const err = collector(limit);
    child.stdout?.on('data', out.push);
    child.stderr?.on('data', err.push);
    if (options.input !== undefined) {
      // A program may exit without reading its input (ssh-keygen asks nothing when there is no
      // key to overwrite): the write then fails with EPIPE, which its exit status already covers.
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(options.input);
    }
    let timedOut = false;
    const timer =
      options.timeoutMs && options.timeoutMs > 0
        ? setTimeout(() => {
            timedOut = true;
            if (ref) signalGroup(ref, 'SIGKILL');
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
      // A program that ran and failed (an install that could not reach the index, say) is the
      // machine's to fix, not a fault of ours: said as such, with the end of its log.
      reject(new UserError(`${command} ${args.join(' ')} exited with ${sig ?? code} (log: ${options.log})\n${tail}`));
    });
  });
}

/**
 * PIDs (other than this process) whose environment sets one of `names` to a value that `matches`.
 * Reads /proc/<pid>/environ, so it sees only processes this user may inspect, and only the
 * environment a process started with.
 */
export function processesWithEnv(names: string | readonly string[], matches: (value: string) => boolean): number[] {
  const prefixes = (typeof names === 'string' ? [names] : names).map((name) => `${name}=`);
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
    const hit = environ.split('\0').some((line) => {
      const prefix = prefixes.find((p) => line.startsWith(p));
      return prefix !== undefined && matches(line.slice(prefix.length));
    });
    if (hit && isAlive(pid)) found.push(pid);
  }
  return found.sort((a, b) => a - b);
}
