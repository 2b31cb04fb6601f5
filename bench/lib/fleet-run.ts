/**
 * What one DAG run of the fleet bench measured, from Airflow's own timestamps (the REST API's DAG
 * run and task instances). Pure: the bench fetches the rows, this turns them into numbers and
 * refuses a run that did not fully succeed.
 *
 * The DAG: validate_inputs -> retrieve_ssh_key -> per server (mapped, one map index per server)
 * test_ssh_connection -> clone_and_checkout_repo -> read_version_yaml -> update_airflow_variables,
 * then the teardown cleanup_temp_files.
 */

export const SETUP_TASKS = ['validate_inputs', 'retrieve_ssh_key'] as const;
export const PER_SERVER_TASKS = [
  'test_ssh_connection',
  'clone_and_checkout_repo',
  'read_version_yaml',
  'update_airflow_variables',
] as const;
export const TEARDOWN_TASK = 'cleanup_temp_files';

/** The fields of Airflow 3's DAG run response the bench reads. */
export interface DagRunRow {
  dag_run_id: string;
  state: string | null;
  queued_at: string | null;
  start_date: string | null;
  end_date: string | null;
}

/** The fields of Airflow 3's task instance response the bench reads. */
export interface TaskInstanceRow {
  task_id: string;
  map_index: number;
  state: string | null;
  start_date: string | null;
  end_date: string | null;
  queued_when: string | null;
}

export interface RunMeasure {
  runId: string;
  servers: number;
  /** Trigger (queued_at) to final state (end_date) of the run. */
  wallMs: number;
  mappedTasks: number;
  /** Sum of execution times (start to end) along the longest chain: setup, the slowest server, teardown. */
  criticalPathMs: number;
  /** (wall - critical path) / mapped task instances: what the run spent outside task execution, per mapped task. */
  overheadPerMappedMs: number;
  /**
   * The shortest the run could take with `parallelism` executor slots and no scheduling cost: the
   * longer of the critical path and the sum of every task instance's execution time / slots.
   */
  slotBoundMs: number;
  /** (wall - slot bound) / mapped task instances: the overhead that waiting for busy slots does not explain. */
  overheadBeyondSlotsMs: number;
  /** Mean over mapped task instances of start - end of the task it waits for (ready to running). */
  readyToStartMs: number;
  /** Mean over mapped task instances of start - queued_when (executor pick-up and task process start). */
  queuedToStartMs: number;
  /** Mean execution time of a mapped task instance. */
  mappedExecutionMs: number;
}

export class RunFailedError extends Error {
  override name = 'RunFailedError';
}

function time(value: string | null, what: string): number {
  if (!value) throw new RunFailedError(`${what} is not set`);
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RunFailedError(`${what} is not a timestamp: ${value}`);
  return ms;
}

const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;

/**
 * The run's numbers, or RunFailedError when the run or any task instance did not succeed, or when
 * the run did not map exactly one instance of each per-server task per server.
 */
export function measureRun(run: DagRunRow, tis: TaskInstanceRow[], servers: number, parallelism: number): RunMeasure {
  const id = run.dag_run_id;
  if (run.state !== 'success') throw new RunFailedError(`run ${id} ended ${run.state ?? 'without a state'}`);
  const failed = tis.filter((ti) => ti.state !== 'success');
  if (failed.length > 0) {
    const shown = failed.map((ti) => `${ti.task_id}${ti.map_index >= 0 ? `[${ti.map_index}]` : ''}=${ti.state}`).join(', ');
    throw new RunFailedError(`run ${id}: ${failed.length} task instance(s) did not succeed: ${shown}`);
  }
  const byKey = new Map(tis.map((ti) => [`${ti.task_id}/${ti.map_index}`, ti]));
  const get = (task: string, mapIndex: number): TaskInstanceRow => {
    const ti = byKey.get(`${task}/${mapIndex}`);
    if (!ti) throw new RunFailedError(`run ${id} has no task instance ${task}${mapIndex >= 0 ? `[${mapIndex}]` : ''}`);
    return ti;
  };
  const mapped = tis.filter((ti) => ti.map_index >= 0);
  if (mapped.length !== PER_SERVER_TASKS.length * servers) {
    throw new RunFailedError(
      `run ${id} mapped ${mapped.length} task instances; ${servers} server(s) make ${PER_SERVER_TASKS.length * servers}`,
    );
  }
  const start = (ti: TaskInstanceRow) => time(ti.start_date, `start_date of ${ti.task_id}[${ti.map_index}] in run ${id}`);
  const end = (ti: TaskInstanceRow) => time(ti.end_date, `end_date of ${ti.task_id}[${ti.map_index}] in run ${id}`);
  const execution = (ti: TaskInstanceRow) => end(ti) - start(ti);

  const setup = SETUP_TASKS.map((task) => get(task, -1));
  const teardown = get(TEARDOWN_TASK, -1);
  const readyToStart: number[] = [];
  const queuedToStart: number[] = [];
  let slowestServer = 0;
  for (let index = 0; index < servers; index += 1) {
    let upstream = setup[setup.length - 1]!;
    let chain = 0;
    for (const task of PER_SERVER_TASKS) {
      const ti = get(task, index);
      chain += execution(ti);
      readyToStart.push(start(ti) - end(upstream));
      queuedToStart.push(start(ti) - time(ti.queued_when, `queued_when of ${task}[${index}] in run ${id}`));
      upstream = ti;
    }
    slowestServer = Math.max(slowestServer, chain);
  }
  const wallMs = time(run.end_date, `end_date of run ${id}`) - time(run.queued_at, `queued_at of run ${id}`);
  const criticalPathMs = setup.reduce((sum, ti) => sum + execution(ti), 0) + slowestServer + execution(teardown);
  const slotBoundMs = Math.max(criticalPathMs, tis.reduce((sum, ti) => sum + execution(ti), 0) / parallelism);
  return {
    runId: id,
    servers,
    wallMs,
    mappedTasks: mapped.length,
    criticalPathMs,
    overheadPerMappedMs: (wallMs - criticalPathMs) / mapped.length,
    slotBoundMs,
    overheadBeyondSlotsMs: (wallMs - slotBoundMs) / mapped.length,
    readyToStartMs: mean(readyToStart),
    queuedToStartMs: mean(queuedToStart),
    mappedExecutionMs: mean(mapped.map(execution)),
  };
}
