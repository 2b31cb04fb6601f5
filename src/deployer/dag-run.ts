/**
 * Everything the deployer does through the MWAA CLI endpoint: wait until the scheduler has parsed
 * the DAG version just uploaded (and fail with its import errors if it cannot), unpause, trigger,
 * and follow the run to its end.
 */
import { UserError } from '../errors.js';
import type { Clock } from './clock.js';
import type { DeployEvent, TaskState } from './events.js';
import type { CliResult } from '../mwaa/cli-client.js';
import type { AirflowLine } from '../mwaa/versions.js';

export interface CliRunner {
  run(argv: readonly string[]): Promise<CliResult>;
}

/** Airflow prints warnings and log lines around `-o json` output; take the JSON value itself. */
export function parseJsonOutput(stdout: string): unknown {
  const trimmed = stdout.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    // fall through: look for the JSON document among other lines
  }
  const lines = trimmed.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const first = lines[i]!.trimStart()[0];
    if (first !== '[' && first !== '{') continue;
    const closer = first === '[' ? ']' : '}';
    for (let j = lines.length - 1; j >= i; j -= 1) {
      if (!lines[j]!.trimEnd().endsWith(closer)) continue;
      try {
        return JSON.parse(lines.slice(i, j + 1).join('\n'));
      } catch {
        // keep looking
      }
    }
  }
  return undefined;
}

function asArray(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.filter((v): v is Record<string, unknown> => typeof v === 'object' && v !== null);
  if (value && typeof value === 'object') return [value as Record<string, unknown>];
  return [];
}

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
  /** A DAG tag that only the new version carries (e.g. `config-<hash12>`). */
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

export interface DagDetails {
  isPaused: boolean;
  tags: string[];
  fileloc?: string;
  lastParsedTime?: string;
}

function tagNames(value: unknown): string[] {
  if (!Array.isArray(value)) return [];
  return value.map((t) => (typeof t === 'string' ? t : String((t as { name?: unknown })?.name ?? ''))).filter(Boolean);
}

/** Airflow's `-o json` prints some booleans as the strings "True"/"False". */
export function cliBoolean(value: unknown): boolean {
  return value === true || (typeof value === 'string' && value.toLowerCase() === 'true');
}

export async function readDagDetails(cli: CliRunner, dagId: string): Promise<DagDetails | undefined> {
  const out = await cli.run(['dags', 'details', dagId, '-o', 'json']);
  const row = asArray(parseJsonOutput(out.stdout))[0];
  if (!row || row.dag_id !== dagId) return undefined;
  const details: DagDetails = { isPaused: cliBoolean(row.is_paused), tags: tagNames(row.tags) };
  if (typeof row.fileloc === 'string') details.fileloc = row.fileloc;
  if (typeof row.last_parsed_time === 'string') details.lastParsedTime = row.last_parsed_time;
  return details;
}

export async function importErrorsFor(cli: CliRunner, fileName: string): Promise<{ filepath: string; error: string }[]> {
  const out = await cli.run(['dags', 'list-import-errors', '-o', 'json']);
  return asArray(parseJsonOutput(out.stdout))
    .map((row) => ({ filepath: String(row.filepath ?? ''), error: String(row.error ?? '') }))
    .filter((row) => row.filepath === fileName || row.filepath.endsWith(`/${fileName}`));
}

export async function waitForDagReady(cli: CliRunner, options: DagReadyOptions): Promise<DagDetails> {
  const { clock } = options;
  const started = clock.now();
  for (;;) {
    const elapsed = clock.now() - started;
    const errors = await importErrorsFor(cli, options.fileName);
    const details = await readDagDetails(cli, options.dagId);
    let waitingFor: string;
    if (details) {
      const current = options.marker
        ? details.tags.includes(options.marker)
        : options.parsedAfterMs === undefined ||
          (details.lastParsedTime !== undefined && Date.parse(details.lastParsedTime) >= options.parsedAfterMs);
      if (current && errors.length === 0) {
        options.emit({ type: 'dag-ready', elapsedMs: elapsed });
        return details;
      }
      waitingFor = current ? 'import errors to clear' : 'the new DAG version to be parsed';
    } else {
      waitingFor = `DAG ${options.dagId} to appear`;
    }
    if (errors.length > 0 && elapsed >= options.settleMs) {
      throw new DagImportError(errors[0]!.filepath, errors[0]!.error);
    }
    if (elapsed >= options.timeoutMs) {
      const why = errors.length > 0 ? ` Import errors: ${errors.map((e) => e.error.trim()).join('; ')}` : '';
      throw new UserError(
        `Timed out after ${Math.round(elapsed / 1000)} s waiting for ${waitingFor}.${why} ` +
          'Check the scheduler (MWAA: the DAG processing logs in CloudWatch).',
      );
    }
    options.emit({ type: 'dag-waiting', detail: waitingFor, elapsedMs: elapsed });
    await clock.sleep(options.pollMs);
  }
}

export async function unpauseDag(cli: CliRunner, dagId: string): Promise<void> {
  const out = await cli.run(['dags', 'unpause', dagId]);
  if (out.exitCode !== undefined && out.exitCode !== 0) {
    throw new UserError(`Could not unpause ${dagId}: ${out.stderr.trim() || out.stdout.trim()}`);
  }
}

export async function triggerDag(cli: CliRunner, dagId: string, conf: Record<string, string>): Promise<string> {
  const out = await cli.run(['dags', 'trigger', dagId, '-c', JSON.stringify(conf), '-o', 'json']);
  const row = asArray(parseJsonOutput(out.stdout))[0];
  const runId = row?.dag_run_id ?? row?.run_id;
  if (typeof runId === 'string' && runId.length > 0) return runId;
  const match = /\b(manual__[^\s,'"]+)/.exec(out.stdout);
  if (match) return match[1]!;
  throw new UserError(
    `Triggering ${dagId} returned no run id.\nstdout: ${out.stdout.trim().slice(0, 1000)}\nstderr: ${out.stderr.trim().slice(-2000)}`,
  );
}

export async function runState(cli: CliRunner, dagId: string, runId: string, airflowLine: AirflowLine): Promise<string | undefined> {
  const argv = airflowLine === '2' ? ['dags', 'list-runs', '-d', dagId, '-o', 'json'] : ['dags', 'list-runs', dagId, '-o', 'json'];
  const out = await cli.run(argv);
  const row = asArray(parseJsonOutput(out.stdout)).find((r) => r.run_id === runId);
  return typeof row?.state === 'string' ? row.state : undefined;
}

export async function taskStates(cli: CliRunner, dagId: string, runId: string): Promise<TaskState[]> {
  const out = await cli.run(['tasks', 'states-for-dag-run', dagId, runId, '-o', 'json']);
  return asArray(parseJsonOutput(out.stdout)).map((row) => {
    const task: TaskState = { taskId: String(row.task_id ?? ''), state: row.state ? String(row.state) : 'none' };
    if (row.map_index !== undefined && row.map_index !== '') task.mapIndex = String(row.map_index);
    return task;
  });
}

export const TERMINAL_RUN_STATES = new Set(['success', 'failed']);

export interface RunWaitOptions {
  dagId: string;
  runId: string;
  airflowLine: AirflowLine;
  clock: Clock;
  timeoutMs: number;
  pollMs: number;
  /** Task states are fetched every this many polls (each CLI call costs the web server an Airflow import). */
  taskEvery?: number;
  emit: (event: DeployEvent) => void;
}

export async function waitForRun(cli: CliRunner, options: RunWaitOptions): Promise<{ state: string; tasks: TaskState[] }> {
  const { clock } = options;
  const started = clock.now();
  const taskEvery = options.taskEvery ?? 3;
  let tasks: TaskState[] = [];
  for (let poll = 0; ; poll += 1) {
    const state = (await runState(cli, options.dagId, options.runId, options.airflowLine)) ?? 'unknown';
    const elapsed = clock.now() - started;
    if (TERMINAL_RUN_STATES.has(state)) {
      tasks = await taskStates(cli, options.dagId, options.runId);
      options.emit({ type: 'run-finished', runId: options.runId, state, tasks, elapsedMs: elapsed });
      return { state, tasks };
    }
    if (poll % taskEvery === 0) tasks = await taskStates(cli, options.dagId, options.runId);
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
