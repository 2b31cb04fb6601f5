import { describe, expect, it } from 'vitest';
import { measureRun, PER_SERVER_TASKS, RunFailedError, type DagRunRow, type TaskInstanceRow } from '../../../bench/lib/fleet-run.js';

const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString();

function ti(task: string, mapIndex: number, start: number, end: number, queued = start - 0.5): TaskInstanceRow {
  return { task_id: task, map_index: mapIndex, state: 'success', start_date: at(start), end_date: at(end), queued_when: at(queued) };
}

/** validate 0-1, key 2-3, each server's four tasks 1 s each with 1 s gaps from 4 s, cleanup after. */
function run(servers: number): { run: DagRunRow; tis: TaskInstanceRow[] } {
  const tis = [ti('validate_inputs', -1, 0, 1), ti('retrieve_ssh_key', -1, 2, 3)];
  let last = 3;
  for (let index = 0; index < servers; index += 1) {
    let t = 4 + index; // server i starts i seconds later
    for (const task of PER_SERVER_TASKS) {
      tis.push(ti(task, index, t, t + 1));
      t += 2;
    }
    last = Math.max(last, t - 1);
  }
  tis.push(ti('cleanup_temp_files', -1, last + 1, last + 2));
  return { run: { dag_run_id: 'r1', state: 'success', queued_at: at(-1), start_date: at(0), end_date: at(last + 3) }, tis };
}

describe('measureRun', () => {
  it('takes the wall time from queue to end and the overhead outside the critical path per mapped task', () => {
    const { run: r, tis } = run(2);
    const m = measureRun(r, tis, 2, 4);
    // server 1 ends its last task at 4+1+6+1 = 12; cleanup 13-14; run ends 15; queued at -1.
    expect(m.wallMs).toBe(16_000);
    expect(m.mappedTasks).toBe(8);
    // validate 1 + key 1 + four 1 s tasks + cleanup 1
    expect(m.criticalPathMs).toBe(7_000);
    expect(m.overheadPerMappedMs).toBe((16_000 - 7_000) / 8);
    // server 0 starts 1 s after the key; server 1 2 s; the later tasks 1 s after their upstream.
    expect(m.readyToStartMs).toBe((1_000 + 2_000 + 6 * 1_000) / 8);
    expect(m.queuedToStartMs).toBe(500);
    expect(m.mappedExecutionMs).toBe(1_000);
    // 11 task instances of 1 s on 4 slots: 2.75 s, under the 7 s critical path.
    expect(m.slotBoundMs).toBe(7_000);
    // On 1 slot the 11 s of execution bound the run instead.
    expect(measureRun(r, tis, 2, 1).overheadBeyondSlotsMs).toBe((16_000 - 11_000) / 8);
  });

  it('refuses a run that failed, a failed task instance and a missing mapped instance', () => {
    const { run: r, tis } = run(2);
    expect(() => measureRun({ ...r, state: 'failed' }, tis, 2, 4)).toThrow(RunFailedError);
    const failing = tis.map((t) => (t.task_id === 'read_version_yaml' && t.map_index === 1 ? { ...t, state: 'upstream_failed' } : t));
    expect(() => measureRun(r, failing, 2, 4)).toThrow(/read_version_yaml\[1\]=upstream_failed/);
    expect(() => measureRun(r, tis, 3, 4)).toThrow(/mapped 8 task instances; 3 server\(s\) make 12/);
    expect(() => measureRun(r, tis.slice(0, -1), 2, 4)).toThrow(/no task instance cleanup_temp_files/);
  });
});
