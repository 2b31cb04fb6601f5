/**
 * `local down`: stops every process the stack recorded (control plane first, which stops its
 * Airflow processes itself; then whatever is left, moto and sshd), by PID only. `--wipe` then
 * deletes the stack's data; the venvs (minutes to rebuild) survive unless `wipeVenvs` is set.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readControlPlaneInfo } from './control-plane-client.js';
import { recordedRef } from './liveness.js';
import { clearPending, readPending } from './pending.js';
import { step, type ProgressListener } from './progress.js';
import { isSameProcess, stopPid } from './processes.js';
import { strayProcesses } from './strays.js';
import { readStateIfPresent, statePath, type StackProcess } from './state.js';

export interface DownOptions {
  root: string;
  wipe: boolean;
  wipeVenvs: boolean;
  progress: ProgressListener;
  now: () => number;
}

export interface DownResult {
  /** `with-control-plane`: an Airflow process the control plane stopped as it shut down. */
  stopped: Array<StackProcess & { outcome: string }>;
  wiped: string[];
}

/** Stop order: the control plane first (it shuts its Airflow down cleanly), the leaves last. */
const ORDER = ['control-plane', 'airflow-', 'moto', 'sshd'];

function rank(name: string): number {
  const index = ORDER.findIndex((prefix) => name === prefix || name.startsWith(prefix));
  return index === -1 ? ORDER.length : index;
}

/** Every process recorded anywhere: state.json and the control plane's own report. */
export function recordedProcesses(root: string): StackProcess[] {
  const state = readStateIfPresent(root);
  const cp = readControlPlaneInfo(join(root, 'control-plane.json'));
  // The control plane rewrites its file whenever it restarts Airflow: its list is the live one.
  const fromState = (state?.processes ?? []).filter((p) => !(cp && p.name.startsWith('airflow-')));
  const all = [...fromState, ...(cp?.processes ?? []), ...readPending(root)];
  if (cp && !all.some((p) => p.pid === cp.pid)) {
    const identity = cp.startTime === undefined ? {} : { startTime: cp.startTime, ...(cp.bootId ? { bootId: cp.bootId } : {}) };
    all.push({ name: 'control-plane', pid: cp.pid, log: join(root, 'logs', 'control-plane.log'), ...identity });
  }
  // The first record of a pid wins: the live list comes before pending entries.
  const byPid = new Map<number, StackProcess>();
  for (const p of all) if (!byPid.has(p.pid)) byPid.set(p.pid, p);
  return [...byPid.values()];
}

export async function down(options: DownOptions): Promise<DownResult> {
  const { root, progress, now } = options;
  const stopped: DownResult['stopped'] = [];
  const processes = recordedProcesses(root).sort((a, b) => rank(a.name) - rank(b.name));
  // Identities first: a PID that names another process now (reused) is never signalled.
  const refs = new Map(processes.map((proc) => [proc, recordedRef(proc)]));
  let controlPlaneStopped = false;
  for (const proc of processes) {
    await step(progress, now, `stop ${proc.name}`, async () => {
      const ref = refs.get(proc);
      if (ref === undefined || !isSameProcess(ref)) {
        // The control plane stops its Airflow processes as it shuts down: that is their stop.
        if (controlPlaneStopped && proc.name.startsWith('airflow-') && ref !== undefined) {
          stopped.push({ ...proc, outcome: 'with-control-plane' });
          return { detail: `pid ${proc.pid} stopped by the control plane` };
        }
        stopped.push({ ...proc, outcome: 'not-running' });
        return { cached: true, detail: `pid ${proc.pid} not running` };
      }
      // The control plane gives its Airflow processes 20 s before SIGKILL: wait longer than that.
      const grace = proc.name === 'control-plane' ? 40_000 : proc.name === 'sshd' ? 3_000 : 10_000;
      const result = await stopPid(ref, grace);
      if (proc.name === 'control-plane') controlPlaneStopped = true;
      stopped.push({ ...proc, outcome: result.outcome });
      return { detail: `pid ${proc.pid} ${result.outcome}` };
    });
  }
  // What outlived its recorded parent (its pid is in no record): found by its environment.
  const strays = strayProcesses(root);
  if (strays.length > 0) {
    await step(progress, now, 'stop stray processes', async () => {
      for (const stray of strays) if (stray.ref) await stopPid(stray.ref, 5_000);
      return { detail: strays.map((s) => `pid ${s.pid} (${s.command.slice(0, 60)})`).join(', ') };
    });
  }
  rmSync(statePath(root), { force: true });
  clearPending(root);
  rmSync(join(root, 'control-plane.json'), { force: true });

  const wiped: string[] = [];
  if (options.wipe) {
    await step(progress, now, 'wipe', async () => {
      let entries: string[] = [];
      try {
        entries = readdirSync(root);
      } catch {
        // Nothing there.
      }
      for (const entry of entries) {
        if (entry === 'venvs' && !options.wipeVenvs) continue;
        rmSync(join(root, entry), { recursive: true, force: true });
        wiped.push(join(root, entry));
      }
      return { detail: options.wipeVenvs ? `removed ${root} contents` : `removed ${root} contents except venvs/` };
    });
  }
  return { stopped, wiped };
}
