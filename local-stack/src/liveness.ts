/**
 * Is a recorded process still ours? A PID alone is not enough after a reboot or a long pause (PIDs
 * get reused), so the command line must also match what that process was started as.
 */
import { commandLine, isAlive } from '../../src/util/processes.js';
import type { StackProcess } from './state.js';

/** A substring of the command line each kind of recorded process has. */
export function expectedCommand(name: string): string {
  if (name === 'moto') return 'moto_server';
  if (name === 'sshd') return 'sshd';
  if (name === 'control-plane') return 'control-plane';
  return 'airflow';
}

export function recordedAlive(process: StackProcess): boolean {
  if (!isAlive(process.pid)) return false;
  const cmd = commandLine(process.pid);
  return cmd?.includes(expectedCommand(process.name)) === true;
}
