/**
 * PIDs that `up` started before state.json records them (an `up` that fails or is interrupted
 * half-way must not leave orphans that `down` cannot find).
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeJsonAtomic, type StackProcess } from './state.js';

const PENDING_FILE = 'processes.pending.json';

export function readPending(root: string): StackProcess[] {
  try {
    return JSON.parse(readFileSync(join(root, PENDING_FILE), 'utf8')) as StackProcess[];
  } catch {
    return [];
  }
}

export function recordPending(root: string, process: StackProcess): void {
  writeJsonAtomic(join(root, PENDING_FILE), [...readPending(root), process]);
}

export function clearPending(root: string): void {
  rmSync(join(root, PENDING_FILE), { force: true });
}
