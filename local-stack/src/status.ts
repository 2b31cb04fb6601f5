/** `local status`: the state file plus, for every recorded process, whether it runs and its RSS. */
import { recordedProcesses } from './down.js';
import { recordedAlive } from './liveness.js';
import { rssKiB } from './processes.js';
import { readStateIfPresent, type LocalStackState, type StackProcess } from './state.js';
import { strayProcesses, type StrayProcess } from './strays.js';

export interface ProcessStatus extends StackProcess {
  up: boolean;
  rssKiB: number | null;
}

export interface StackStatus {
  root: string;
  /** True when state.json exists and every recorded process runs. */
  up: boolean;
  state: LocalStackState | null;
  processes: ProcessStatus[];
  /** RSS of the recorded processes and all their descendants (Airflow forks workers). */
  totalRssKiB: number;
  /** Stack processes that no record and no recorded process's tree accounts for. */
  strays: StrayProcess[];
}

export function stackStatus(root: string, descendantsOf: (pid: number) => number[]): StackStatus {
  const state = readStateIfPresent(root) ?? null;
  const processes: ProcessStatus[] = recordedProcesses(root).map((proc) => {
    const up = recordedAlive(proc);
    return { ...proc, up, rssKiB: up ? (rssKiB(proc.pid) ?? null) : null };
  });
  const counted = new Set<number>();
  let total = 0;
  for (const proc of processes.filter((p) => p.up)) {
    for (const pid of [proc.pid, ...descendantsOf(proc.pid)]) {
      if (counted.has(pid)) continue;
      counted.add(pid);
      total += rssKiB(pid) ?? 0;
    }
  }
  return {
    root,
    up: state !== null && processes.length > 0 && processes.every((p) => p.up),
    state,
    processes,
    totalRssKiB: total,
    strays: strayProcesses(root, counted),
  };
}
