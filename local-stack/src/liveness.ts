/**
 * Is a recorded process still ours? A PID alone is not: PIDs are reused (pid_max is often 32768,
 * and a test run starts more processes than that), and another stack on the same machine runs
 * the same programs, so a reused PID can even name another stack's Airflow scheduler. Each
 * process is recorded with its start time (from /proc, read when it is spawned) and the boot it
 * was started in; a PID whose process started at another time is someone else's.
 */
import { readFileSync } from 'node:fs';
import { isAlive } from '../../src/util/processes.js';
import { commandLine, isSameProcess, processRef, type ProcessRef } from './processes.js';
import type { StackProcess } from './state.js';

/** A substring of the command line each kind of recorded process has (for records without identity). */
export function expectedCommand(name: string): string {
  if (name === 'moto') return 'moto_server';
  if (name === 'sshd') return 'sshd';
  if (name === 'control-plane') return 'control-plane';
  return 'airflow';
}

let cachedBootId: string | undefined;

/** This boot's id: start times count clock ticks from boot, so they say nothing across boots. */
export function bootId(): string {
  if (cachedBootId === undefined) {
    try {
      cachedBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    } catch {
      cachedBootId = '';
    }
  }
  return cachedBootId;
}

/** The identity fields of a record, for `ref`. */
export function identityOf(ref: ProcessRef): { startTime: number; bootId: string } {
  return { startTime: ref.startTime, bootId: bootId() };
}

/** A record of the process now running as `pid`; call it right after spawning it. */
export function recordOf(name: string, pid: number, log: string): StackProcess {
  const ref = processRef(pid);
  return { name, pid, log, ...(ref ? identityOf(ref) : {}) };
}

/** The process a record names, while it runs; undefined when its PID now names another or none. */
export function recordedRef(process: StackProcess): ProcessRef | undefined {
  if (process.startTime !== undefined) {
    if (process.bootId !== undefined && process.bootId !== bootId()) return undefined;
    const ref = { pid: process.pid, startTime: process.startTime };
    return isSameProcess(ref) ? ref : undefined;
  }
  // Written before records carried an identity: the command line is the best there is.
  if (!isAlive(process.pid) || commandLine(process.pid)?.includes(expectedCommand(process.name)) !== true) return undefined;
  return processRef(process.pid);
}

export function recordedAlive(process: StackProcess): boolean {
  return recordedRef(process) !== undefined;
}
