/**
 * After the upload: wait until the scheduler has parsed the DAG version just uploaded (and fail with
 * its import errors if it cannot), unpause, trigger through the MWAA CLI token, and follow the run
 * to its end, with the log of every failed task. Reads go through Airflow's REST API (CLI
 * commands where the web login is denied, see src/mwaa/airflow-api.ts); the trigger is the one
 * CLI command, as the product promises.
 */
import { UserError } from '../errors.js';
import type { Clock } from './clock.js';
import type { DeployEvent, FailedTask, TaskState } from './events.js';
import { airflowMessage, type CliResult } from '../mwaa/cli-client.js';
import type { AirflowApi, CliRunner, DagInfo, TaskInstanceInfo } from '../mwaa/airflow-api.js';
import { jsonRows, parseJsonOutput } from '../mwaa/cli-output.js';
import type { AirflowLine } from '../mwaa/versions.js';

export type { CliRunner } from '../mwaa/airflow-api.js';

export class DagImportError extends UserError {
  constructor(
    readonly filepath: string,
    readonly error: string,
  ) {
    super(`The deployed DAG file does not import: ${filepath}\n${error.trim()}`);
    this.name = 'DagImportError';
  }
}

export interface DagReadyOptions {
  dagId: string;
  /** Base name of the DAG file, e.g. gpu_server_cicd_dag.py. */
  fileName: string;
  /** A DAG tag that only the new version carries (the generated DAG's `build-<hash12>`). */
  marker?: string;
  /** Without a marker: the DAG must have been parsed after this time (ms since epoch). */
  parsedAfterMs?: number;
  /** Import errors seen this soon after the upload may still be the old file's: keep waiting. */
  settleMs: number;
  clock: Clock;
  timeoutMs: number;
  pollMs: number;
  emit: (event: DeployEvent) => void;
}

/** The DAG as parsed, and whether its stored (serialized) copy was seen to be the new one too. */
export interface DagReady {
  details: DagInfo;
  storedSeen: boolean;
}

export async function waitForDagReady(airflow: AirflowApi, options: DagReadyOptions): Promise<DagReady> {
  const { clock } = options;
  const started = clock.now();
  const ours = (filename: string) => filename === options.fileName || filename.endsWith(`/${options.fileName}`);
  for (;;) {
    const elapsed = clock.now() - started;
    const errors = (await airflow.importErrors()).filter((e) => ours(e.filename));
    const details = await airflow.dag(options.dagId);
    let waitingFor: string;
    if (details) {
      let current: boolean;
      let storedSeen = false;
      if (options.marker) {
        current = details.tags.includes(options.marker);
        // The tags are written at every parse, the serialized DAG (its docs carry the marker too)
        // at most every min_serialized_dag_update_interval: a run is built from the latter.
        const stored = current ? await airflow.serializedDagDoc(options.dagId) : undefined;
        if (stored) current = storedSeen = stored.docMd?.includes(options.marker) === true;
      } else {
        current =
          options.parsedAfterMs === undefined ||
          (details.lastParsedTime !== undefined && Date.parse(details.lastParsedTime) >= options.parsedAfterMs);
      }
      if (current && errors.length === 0) {
        options.emit({ type: 'dag-ready', elapsedMs: elapsed });
        return { details, storedSeen };
      }
      waitingFor = current
        ? 'import errors to clear'
        : options.marker && details.tags.includes(options.marker)
          ? 'Airflow to store the new DAG (it stores a changed DAG at most every min_serialized_dag_update_interval)'
          : 'the new DAG version to be parsed';
    } else {
      waitingFor = `DAG ${options.dagId} to appear`;
    }
    if (errors.length > 0 && elapsed >= options.settleMs) {
      throw new DagImportError(errors[0]!.filename, errors[0]!.stackTrace);
    }
    if (elapsed >= options.timeoutMs) {
      const why = errors.length > 0 ? ` Import errors: ${errors.map((e) => e.stackTrace.trim()).join('; ')}` : '';
      throw new UserError(
        `Timed out after ${Math.round(elapsed / 1000)} s waiting for ${waitingFor}.${why} ` +
          'Check the scheduler (MWAA: the DAG processing logs in CloudWatch).',
      );
    }
    options.emit({ type: 'dag-waiting', detail: waitingFor, elapsedMs: elapsed });
    await clock.sleep(options.pollMs);
  }
}

/**
 * The Airflow settings that bound how soon a changed DAG can run: Airflow's defaults, which MWAA
 * keeps unless the environment's AirflowConfigurationOptions set them.
 */
export interface DagTimings {
  /** core.min_serialized_dag_fetch_interval: how long Airflow 2's scheduler keeps its cached copy of a DAG. */
  fetchIntervalS: number;
  /** core.min_serialized_dag_update_interval: a parsed DAG is stored serialized at most this often. */
  updateIntervalS: number;
  /** min_file_process_interval ([scheduler] on 2.x, [dag_processor] on 3.x): how often an unchanged file is parsed again. */
  fileProcessIntervalS: number;
}

const AIRFLOW_DAG_TIMINGS: DagTimings = { fetchIntervalS: 10, updateIntervalS: 30, fileProcessIntervalS: 30 };

const TIMING_OPTIONS: Record<keyof DagTimings, readonly string[]> = {
  fetchIntervalS: ['core.min_serialized_dag_fetch_interval'],
  updateIntervalS: ['core.min_serialized_dag_update_interval'],
  fileProcessIntervalS: ['dag_processor.min_file_process_interval', 'scheduler.min_file_process_interval'],
};

/** The timings an environment's AirflowConfigurationOptions set (Airflow reads them with getint: integers only). */
export function dagTimingOptions(options: Record<string, string> | undefined): Partial<DagTimings> {
  const timings: Partial<DagTimings> = {};
  for (const [name, keys] of Object.entries(TIMING_OPTIONS) as [keyof DagTimings, readonly string[]][]) {
    const value = keys.map((key) => options?.[key]?.trim()).find((v) => v !== undefined);
    if (value !== undefined && /^\d+$/.test(value)) timings[name] = Number(value);
  }
  return timings;
}

/**
 * How long to wait, once a changed DAG is parsed, before a run of it is created, and why.
 * - Airflow stores a parsed DAG serialized at most every min_serialized_dag_update_interval, and
 *   a run is built from the stored copy: a deploy that saw the new tags but could not see the
 *   stored DAG's docs (only the CLI answered) waits until a parse must have stored it.
 * - Airflow 2's scheduler schedules a run from its own cached copy, read again only
 *   min_serialized_dag_fetch_interval after its last read: a run scheduled from the copy before
 *   has the new version's tasks marked removed. One interval after the stored DAG is seen (and a
 *   second for the scheduler's loop), every read is of the new version. Airflow 3 binds each run
 *   to the DAG version stored at its creation: no wait there.
 */
export function runReadyDelay(
  line: AirflowLine,
  set: Partial<DagTimings> | undefined,
  storedSeen: boolean,
): { ms: number; detail: string } {
  const t = { ...AIRFLOW_DAG_TIMINGS, ...set };
  const storeS = storedSeen ? 0 : t.updateIntervalS + t.fileProcessIntervalS;
  const cacheS = line === '2' ? t.fetchIntervalS + 1 : 0;
  const reasons = [
    ...(storeS > 0
      ? [`Airflow to store the new DAG (at most every ${t.updateIntervalS} s, parsing every ${t.fileProcessIntervalS} s)`]
      : []),
    ...(cacheS > 0 ? [`the scheduler to read it (Airflow 2 caches a DAG for ${t.fetchIntervalS} s)`] : []),
  ];
  return { ms: (storeS + cacheS) * 1000, detail: reasons.join(', then ') };
}

/** Airflow refused the trigger: no run was created. */
export class TriggerRefusedError extends UserError {
  constructor(
    readonly dagId: string,
    readonly airflowError: string,
  ) {
    super(`Airflow did not create a run of ${dagId}: ${airflowError}`);
    this.name = 'TriggerRefusedError';
  }
}

/**
 * `dags trigger` as MWAA's samples send it: on Airflow 3 with `--logical-date` (UTC, whole
 * seconds), on Airflow 2 without a date (its flag there is `-e`, and the run defaults to now).
 */
export function triggerArgv(dagId: string, conf: Record<string, string>, line: AirflowLine, nowMs: number): string[] {
  const argv = ['dags', 'trigger', dagId, '-c', JSON.stringify(conf)];
  if (line === '3') argv.push('--logical-date', `${new Date(nowMs).toISOString().slice(0, 19)}Z`);
  argv.push('-o', 'json');
  return argv;
}

/**
 * The run id from `dags trigger -o json`: a list with one row that carries `dag_run_id`. Anything
 * else means Airflow created no run; its own message (the exception a traceback ends with) says why.
 */
export function parseTriggerOutput(dagId: string, out: CliResult): string {
  const row = jsonRows(parseJsonOutput(out.stdout)).find((r) => r.dag_id === dagId && typeof r.dag_run_id === 'string');
  if (!row) throw new TriggerRefusedError(dagId, airflowMessage(out));
  return row.dag_run_id as string;
}

export async function triggerDag(
  cli: CliRunner,
  dagId: string,
  conf: Record<string, string>,
  line: AirflowLine,
  nowMs: number,
): Promise<string> {
  return parseTriggerOutput(dagId, await cli.run(triggerArgv(dagId, conf, line, nowMs)));
}

export const TERMINAL_RUN_STATES = new Set(['success', 'failed']);
/** Lines of a failed task's log the deploy shows. */
export const LOG_TAIL_LINES = 40;

export interface RunWaitOptions {
  dagId: string;
  runId: string;
  clock: Clock;
  timeoutMs: number;
  pollMs: number;
  /** Task states are fetched every this many polls. */
  taskEvery?: number;
  emit: (event: DeployEvent) => void;
}

export interface RunOutcome {
  state: string;
  tasks: TaskState[];
  failures: FailedTask[];
}

function taskState(ti: TaskInstanceInfo): TaskState {
  const task: TaskState = { taskId: ti.taskId, state: ti.state };
  if (ti.mapIndex >= 0) task.mapIndex = String(ti.mapIndex);
  return task;
}

/** The last `count` lines of a log, trailing blank lines dropped. */
export function logTail(text: string, count = LOG_TAIL_LINES): string[] {
  const lines = text.replace(/\s+$/, '').split('\n');
  return lines.slice(-count);
}

/**
 * The end of a task instance's log (`count` lines; all of it with Infinity), or why it could not be
 * read. The one way deploy's failure report and the logs command read a log.
 */
export async function readTaskLog(
  airflow: AirflowApi,
  dagId: string,
  runId: string,
  ti: TaskInstanceInfo,
  count: number = LOG_TAIL_LINES,
  tailBytes?: number,
): Promise<{ logTail?: string[]; logError?: string }> {
  try {
    const log = await airflow.taskLog(dagId, runId, ti, tailBytes);
    if (log === undefined) return {};
    return { logTail: count === Number.POSITIVE_INFINITY ? log.replace(/\s+$/, '').split('\n') : logTail(log, count) };
  } catch (error) {
    return { logError: (error as Error).message };
  }
}

async function failedTasks(airflow: AirflowApi, dagId: string, runId: string, tis: readonly TaskInstanceInfo[]): Promise<FailedTask[]> {
  const failures: FailedTask[] = [];
  for (const ti of tis.filter((t) => t.state === 'failed')) {
    const failure: FailedTask = { taskId: ti.taskId, tryNumber: ti.tryNumber };
    if (ti.mapIndex >= 0) failure.mapIndex = String(ti.mapIndex);
    Object.assign(failure, await readTaskLog(airflow, dagId, runId, ti));
    failures.push(failure);
  }
  return failures;
}

/**
 * Polls the run until it succeeds or fails. A run that Airflow does not know fails the wait on the
 * second poll that misses it; a failed run comes back with the log tail of each failed task.
 */
export async function waitForRun(airflow: AirflowApi, options: RunWaitOptions): Promise<RunOutcome> {
  const { clock } = options;
  const started = clock.now();
  const taskEvery = options.taskEvery ?? 3;
  let tasks: TaskState[] = [];
  let misses = 0;
  for (let poll = 0; ; poll += 1) {
    const lookup = await airflow.dagRun(options.dagId, options.runId);
    const elapsed = clock.now() - started;
    if (!lookup.found) {
      misses += 1;
      if (misses >= 2) {
        throw new UserError(`Run ${options.runId} of ${options.dagId} does not exist (asked ${misses} times): ${lookup.reason}`);
      }
    } else {
      misses = 0;
      if (TERMINAL_RUN_STATES.has(lookup.state)) {
        const tis = await airflow.taskInstances(options.dagId, options.runId);
        tasks = tis.map(taskState);
        const failures = lookup.state === 'success' ? [] : await failedTasks(airflow, options.dagId, options.runId, tis);
        options.emit({ type: 'run-finished', runId: options.runId, state: lookup.state, tasks, failures, elapsedMs: elapsed });
        return { state: lookup.state, tasks, failures };
      }
      if (poll % taskEvery === 0) tasks = (await airflow.taskInstances(options.dagId, options.runId)).map(taskState);
    }
    const state = lookup.found ? lookup.state : 'not found yet';
    options.emit({ type: 'run-status', runId: options.runId, state, tasks, elapsedMs: elapsed });
    if (elapsed >= options.timeoutMs) {
      throw new UserError(
        `Timed out after ${Math.round(elapsed / 1000)} s waiting for run ${options.runId} of ${options.dagId} (state ${state}). ` +
          'It keeps running; follow it in the Airflow UI.',
      );
    }
    await clock.sleep(options.pollMs);
  }
}
