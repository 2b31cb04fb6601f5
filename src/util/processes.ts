/**
 * What the deploy lock needs to know about a process: whether a PID runs, and which boot and PID
 * namespace a PID belongs to (a lock held on another machine or container names a PID that means
 * nothing here). Linux only where it reads /proc. Starting and stopping processes is the local
 * stack's business (local-stack/src/processes.ts).
 */
import { readFileSync, readlinkSync } from 'node:fs';

export interface ProcStat {
  state: string;
  ppid: number;
  pgrp: number;
  startTime: number;
}

/** /proc/<pid>/stat, parsed after the command name (which may hold spaces and parentheses). */
export function procStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields from 3 (state) on; field N is at index N - 3.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0] ?? '', ppid: Number(fields[1]), pgrp: Number(fields[2]), startTime: Number(fields[19]) };
}

/** True when a process with this PID exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A killed child of ours that nobody reaped yet still answers kill(0); /proc tells the truth.
  const stat = procStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
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
