/**
 * The task logs of one DAG run (the latest by default) through Airflow's REST API, per task and map
 * index, each bounded: its last lines by default (read as a tail of bytes, never the whole log),
 * all of it on request up to the answer cap. The per-server task group is mapped over the run's
 * targets in the order `validate_inputs` logs them ("Run targets N server(s): a, b"), so a server
 * name selects the map index it ran as in that run, whatever the config says today.
 */
import { UserError } from '../errors.js';
import type { AirflowApi, TaskInstanceInfo } from '../mwaa/airflow-api.js';
import { plainStyle, type Style } from '../util/style.js';
import { clean } from '../util/terminal-text.js';
import { readTaskLog } from './dag-run.js';
import { logBlock, markdownCell, markdownCode } from './format.js';

/** Lines of each task's log shown unless told otherwise. */
export const DEFAULT_LOG_LINES = 200;
/** Bytes read per line asked for, at least the client's default tail: a log line is rarely longer. */
const BYTES_PER_LINE = 1024;
/** The task that logs the run's targets, in map order. */
export const TARGETS_TASK = 'validate_inputs';
const TARGETS_LINE = /Run targets \d+ server\(s\): (.*)$/m;

export interface TaskLog {
  taskId: string;
  /** -1 for a task that is not mapped. */
  mapIndex: number;
  /** The server a mapped per-server task ran for, when the run's targets are known. */
  server?: string;
  state: string;
  tryNumber: number;
  /** The lines shown (the end of the log, or all of it). */
  lines?: string[];
  /** Why the log is not shown: never ran, or it could not be read. */
  note?: string;
}

export interface RunLogs {
  dagId: string;
  runId: string;
  runState: string;
  /** How many lines of each log were asked for; Infinity: all of it. */
  lines: number;
  tasks: TaskLog[];
}

export interface RunLogsRequest {
  dagId: string;
  /** Default: the newest run. */
  runId?: string;
  task?: string;
  server?: string;
  /** Lines per task (Infinity: the whole log, up to `maxBytes`). */
  lines: number;
  /** The most read of one log (the client's answer cap). */
  maxBytes: number;
}

/** The run's targets in map order, from validate_inputs' log; undefined when it does not say. */
export async function runTargets(
  airflow: AirflowApi,
  dagId: string,
  runId: string,
  tis: readonly TaskInstanceInfo[],
): Promise<string[] | undefined> {
  const ti = tis.find((t) => t.taskId === TARGETS_TASK && t.tryNumber > 0);
  if (!ti) return undefined;
  const { logTail } = await readTaskLog(airflow, dagId, runId, ti, Number.POSITIVE_INFINITY);
  const match = logTail ? TARGETS_LINE.exec(logTail.join('\n')) : null;
  return match ? match[1]!.split(', ').map((name) => name.trim()) : undefined;
}

export async function readRunLogs(airflow: AirflowApi, request: RunLogsRequest): Promise<RunLogs> {
  const { dagId } = request;
  let runId = request.runId;
  if (runId === undefined) {
    const [latest] = await airflow.dagRuns(dagId, 1);
    if (!latest) throw new UserError(`DAG ${dagId} has no runs yet: there are no logs to show.`);
    runId = latest.runId;
  }
  const run = await airflow.dagRun(dagId, runId);
  if (!run.found) throw new UserError(`No run ${runId} of ${dagId}: ${run.reason}. status lists the last runs.`);
  const all = await airflow.taskInstances(dagId, runId);
  let tis = all;
  if (request.task !== undefined) {
    const ids = [...new Set(tis.map((t) => t.taskId))];
    if (!ids.includes(request.task)) throw new UserError(`Run ${runId} has no task "${request.task}". Its tasks: ${ids.join(', ')}.`);
    tis = tis.filter((t) => t.taskId === request.task);
  }
  const targets =
    tis.some((t) => t.mapIndex >= 0) || request.server !== undefined ? await runTargets(airflow, dagId, runId, all) : undefined;
  if (request.server !== undefined) {
    if (!targets) {
      throw new UserError(
        `Run ${runId} does not say which servers it targeted (${TARGETS_TASK} logged none): --server cannot select one; use --task.`,
      );
    }
    const index = targets.indexOf(request.server);
    if (index < 0) throw new UserError(`Run ${runId} did not target a server "${request.server}". It targeted: ${targets.join(', ')}.`);
    tis = tis.filter((t) => t.mapIndex === index);
  }
  const tailBytes =
    request.lines === Number.POSITIVE_INFINITY
      ? request.maxBytes
      : Math.min(request.maxBytes, Math.max(64 * 1024, request.lines * BYTES_PER_LINE));
  const tasks: TaskLog[] = [];
  // One at a time: the web server serves the UI too, and logs can be large.
  for (const ti of tis) {
    const entry: TaskLog = { taskId: ti.taskId, mapIndex: ti.mapIndex, state: ti.state, tryNumber: ti.tryNumber };
    const server = ti.mapIndex >= 0 ? targets?.[ti.mapIndex] : undefined;
    if (server !== undefined) entry.server = server;
    if (ti.tryNumber <= 0 && ti.state !== 'running') {
      entry.note = `no log: it never ran (${ti.state})`;
    } else {
      const log = await readTaskLog(airflow, dagId, runId, ti, request.lines, tailBytes);
      if (log.logTail) entry.lines = log.logTail;
      else
        entry.note = log.logError
          ? `its log could not be read: ${log.logError}`
          : 'no log: the MWAA CLI, which answers here, does not serve task logs';
    }
    tasks.push(entry);
  }
  return { dagId, runId, runState: run.state, lines: request.lines, tasks };
}

function taskLabel(task: TaskLog): string {
  const name = task.mapIndex >= 0 ? `${task.taskId}[${task.mapIndex}]` : task.taskId;
  return task.server !== undefined ? `${name} (server ${task.server})` : name;
}

function heading(task: TaskLog, lines: number): string {
  const tries = task.tryNumber > 0 ? `, try ${task.tryNumber}` : '';
  if (!task.lines) return `${taskLabel(task)} ${task.state}${tries}: ${task.note ?? 'no log'}`;
  const what =
    lines === Number.POSITIVE_INFINITY || task.lines.length < lines
      ? `its log (${task.lines.length} lines)`
      : `the last ${task.lines.length} lines of its log`;
  return `${taskLabel(task)} ${task.state}${tries}; ${what}:`;
}

export function formatRunLogs(logs: RunLogs, style: Style = plainStyle): string {
  const blocks = [`Run ${style.bold(clean(logs.runId))} of ${logs.dagId}: ${clean(logs.runState)}`];
  if (logs.tasks.length === 0) blocks.push('No task instances.');
  for (const task of logs.tasks)
    blocks.push(task.lines ? logBlock(heading(task, logs.lines), task.lines) : style.dim(clean(heading(task, logs.lines))));
  return `${blocks.join('\n\n')}\n`;
}

export function runLogsMarkdown(logs: RunLogs): string {
  const parts = [`### Logs of run ${markdownCode(logs.runId)} (${markdownCell(logs.runState)})`, ''];
  for (const task of logs.tasks) {
    parts.push(`#### ${markdownCell(clean(heading(task, logs.lines)))}`, '');
    if (task.lines) {
      const text = task.lines.map(clean).join('\n');
      const fence = '`'.repeat(Math.max(3, ...[...text.matchAll(/`+/g)].map((m) => m[0].length + 1)));
      parts.push(fence, text, fence, '');
    }
  }
  return `${parts.join('\n')}\n`;
}

export function runLogsJson(logs: RunLogs): Record<string, unknown> {
  return { ...logs, lines: logs.lines === Number.POSITIVE_INFINITY ? 'all' : logs.lines };
}
