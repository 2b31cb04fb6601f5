/**
 * What the deployer and the runtime check read from Airflow, answered by Airflow's REST API
 * (rest-client.ts: /api/v1 on 2.x, /api/v2 on 3.x) and, where the web login is denied, by the CLI
 * commands MWAA lists for the line (cli-commands.ts). The switch happens once, with one notice.
 *
 * REST paths (both lines; the prefix differs):
 *   GET   /dags/{dag_id}                                               DAG: is_paused, tags, last_parsed_time
 *   GET   /dags/{dag_id}/details                                       the serialized DAG's doc_md
 *   PATCH /dags/{dag_id}?update_mask=is_paused                         unpause
 *   GET   /importErrors?limit&offset                                   import errors
 *   GET   /dags/{dag_id}/dagRuns/{run_id}                              run state
 *   GET   /dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit&offset   task instance states
 *   GET   /dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try}?full_content&map_index
 *   GET   /variables?limit&offset                                      Variables, 100 per request
 * CLI fallback: dags list --columns, dags list-import-errors, dags unpause, dags list-runs,
 * tasks states-for-dag-run, variables get (no task logs: those are in CloudWatch), in the forms the
 * environment's own Airflow version parses (src/mwaa/airflow-cli-table.json holds each
 * version's CLI, extracted from the published wheels; the unit tests parse every form with it).
 */
import { UserError } from '../errors.js';
import { airflowMessage, type CliResult } from './cli-client.js';
import { cliBoolean, jsonRows, parseJsonOutput, tagNames } from './cli-output.js';
import { AirflowRestError, WebLoginDeniedError, type AirflowRest, type RestResponse } from './rest-client.js';
import { cliHasDagColumns, DAG_COLUMNS_SINCE } from './cli-commands.js';
import { airflowLine, type AirflowVersion } from './versions.js';

/** Anything that runs an MWAA CLI command (cli-client.ts, or a fake in tests). */
export interface CliRunner {
  run(argv: readonly string[]): Promise<CliResult>;
}

export interface DagInfo {
  dagId: string;
  isPaused: boolean;
  tags: string[];
  fileloc?: string;
  lastParsedTime?: string;
}

export interface ImportErrorInfo {
  filename: string;
  stackTrace: string;
}

/** One run of a DAG, as a list of runs shows it. */
export interface DagRunInfo {
  runId: string;
  state: string;
  /** The logical date (Airflow 2's execution date), when the run has one. */
  logicalDate?: string;
  startDate?: string;
  endDate?: string;
}

export type RunLookup = { found: true; state: string } | { found: false; reason: string };

export interface TaskInstanceInfo {
  taskId: string;
  /** -1 for an unmapped task. */
  mapIndex: number;
  state: string;
  /** 0 when unknown (the CLI does not say). */
  tryNumber: number;
}

export interface AirflowApi {
  /** What answers now: `rest`, or `cli` once the web login was denied. */
  via(): 'rest' | 'cli';
  dag(dagId: string): Promise<DagInfo | undefined>;
  /**
   * The docs (doc_md) of the DAG as Airflow stored it serialized, which it writes apart from the
   * tags `dag` reads, and at most every min_serialized_dag_update_interval; `docMd` null when no
   * serialized DAG or no docs. Undefined where only the CLI answers (no MWAA CLI command reads it).
   */
  serializedDagDoc(dagId: string): Promise<{ docMd: string | null } | undefined>;
  importErrors(): Promise<ImportErrorInfo[]>;
  unpause(dagId: string): Promise<void>;
  dagRun(dagId: string, runId: string): Promise<RunLookup>;
  taskInstances(dagId: string, runId: string): Promise<TaskInstanceInfo[]>;
  /** The newest `limit` runs of a DAG (newest first; at most one page). */
  dagRuns(dagId: string, limit: number): Promise<DagRunInfo[]>;
  /**
   * The task instance's log as text (its last `tailBytes`, default the client's tail); undefined
   * where only the CLI answers.
   */
  taskLog(dagId: string, runId: string, ti: TaskInstanceInfo, tailBytes?: number): Promise<string | undefined>;
  /** The values of `keys` (undefined: no such Variable). */
  variables(keys: readonly string[]): Promise<Map<string, string | undefined>>;
}

/** Airflow's REST default and maximum page size (`[api] maximum_page_limit`) on both lines. */
const PAGE = 100;
/**
 * The most pages one list is read to: 10,000 import errors, task instances or Variables. A server
 * that ignores `offset` (or a list beyond this) ends the read with an error instead of filling
 * memory page after page.
 */
export const MAX_PAGES = 100;
/** How much of a failed task's log deploy reads (its end: deploy prints the last 40 lines). */
export const DEFAULT_LOG_TAIL_BYTES = 64 * 1024;

type Row = Record<string, unknown>;

function path(...parts: string[]): string {
  return parts.map((p) => `/${encodeURIComponent(p)}`).join('');
}

function ok(rest: AirflowRest, response: RestResponse, method: string, where: string): Row {
  if (response.status < 200 || response.status > 299)
    throw new AirflowRestError(response.status, method, where, response.text, rest.endpoint?.());
  if (!response.json || typeof response.json !== 'object') {
    throw new AirflowRestError(response.status, method, where, `not JSON: ${response.text.slice(0, 200)}`, rest.endpoint?.());
  }
  return response.json as Row;
}

/** The web server a list came from, as messages name it. */
function webServer(rest: AirflowRest): string {
  const endpoint = rest.endpoint?.();
  return `Airflow web server${endpoint ? ` at ${endpoint}` : ''}`;
}

/** Every row of a paged list, at most MAX_PAGES pages of PAGE rows. */
async function collect(rest: AirflowRest, where: string, listKey: string): Promise<Row[]> {
  const rows: Row[] = [];
  let previousFirst: string | undefined;
  for (let pageNumber = 0, offset = 0; ; pageNumber += 1, offset += PAGE) {
    if (pageNumber >= MAX_PAGES) {
      throw new UserError(
        `${webServer(rest)}: GET ${where} lists more than ${MAX_PAGES * PAGE} rows (${MAX_PAGES} pages of ${PAGE}), ` +
          'the most the toolkit reads; stopped there.',
      );
    }
    const body = ok(rest, await rest.request('GET', where, { query: { limit: PAGE, offset } }), 'GET', where);
    const page = jsonRows(body[listKey]);
    // A server that ignores `offset` answers the first page again, and again.
    const first = page.length > 0 ? JSON.stringify(page[0]) : undefined;
    if (offset > 0 && page.length === PAGE && first === previousFirst) {
      throw new UserError(
        `${webServer(rest)}: GET ${where} answered offset ${offset} with the same page as offset ${offset - PAGE}: ` +
          'it ignores `offset`, so the list would never end. Is this an Airflow REST API?',
      );
    }
    previousFirst = first;
    rows.push(...page);
    const total = typeof body.total_entries === 'number' ? body.total_entries : undefined;
    if (page.length < PAGE || (total !== undefined && rows.length >= total)) return rows;
  }
}

function optionalString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function dagInfo(row: Row, dagId: string): DagInfo {
  const info: DagInfo = { dagId, isPaused: cliBoolean(row.is_paused), tags: tagNames(row.tags) };
  const fileloc = optionalString(row.fileloc);
  const parsed = optionalString(row.last_parsed_time);
  if (fileloc) info.fileloc = fileloc;
  if (parsed) info.lastParsedTime = parsed;
  return info;
}

/** A run row of the REST API (v1: execution_date, v2: logical_date) or of `dags list-runs -o json`. */
function dagRunInfo(row: Row): DagRunInfo | undefined {
  const runId = optionalString(row.dag_run_id) ?? optionalString(row.run_id);
  if (!runId) return undefined;
  const run: DagRunInfo = { runId, state: optionalString(row.state) ?? 'none' };
  const logicalDate = optionalString(row.logical_date) ?? optionalString(row.execution_date);
  const startDate = optionalString(row.start_date);
  const endDate = optionalString(row.end_date);
  if (logicalDate) run.logicalDate = logicalDate;
  if (startDate) run.startDate = startDate;
  if (endDate) run.endDate = endDate;
  return run;
}

/** The most runs one list reads: one page of the REST API. */
export const MAX_RUNS = PAGE;

function runLimit(limit: number): number {
  return Math.min(Math.max(1, Math.floor(limit)), MAX_RUNS);
}

const SOURCE_DETAILS = '::group::Log message source details';

/** Airflow 3's structured log entries as text lines, without the "source details" header block. */
export function structuredLogText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  const lines: string[] = [];
  let inGroup = false;
  for (const entry of content) {
    if (typeof entry === 'string') {
      lines.push(entry);
      continue;
    }
    const message = entry as { event?: unknown; timestamp?: unknown; level?: unknown; error_detail?: unknown };
    const event = typeof message.event === 'string' ? message.event : '';
    // Folding markers for the UI: the first group names the log files read, the others wrap task output.
    if (event.startsWith('::group::')) {
      inGroup = event === SOURCE_DETAILS;
      continue;
    }
    if (event.startsWith('::endgroup::')) {
      inGroup = false;
      continue;
    }
    if (inGroup) continue;
    const ts = typeof message.timestamp === 'string' ? `[${message.timestamp}] ` : '';
    const level = typeof message.level === 'string' ? `${message.level.toUpperCase()} - ` : '';
    lines.push(`${ts}${level}${event}`);
    lines.push(...errorDetailLines(message.error_detail));
  }
  return lines.join('\n');
}

/** A task's exception as Airflow 3 records it: frames, then `Type: message`, cause first. */
function errorDetailLines(detail: unknown): string[] {
  if (!Array.isArray(detail)) return [];
  const lines: string[] = [];
  for (const exc of detail as { exc_type?: unknown; exc_value?: unknown; frames?: unknown }[]) {
    for (const frame of Array.isArray(exc.frames) ? (exc.frames as { filename?: unknown; lineno?: unknown; name?: unknown }[]) : []) {
      lines.push(`  File "${String(frame.filename)}", line ${String(frame.lineno)}, in ${String(frame.name)}`);
    }
    lines.push(`${String(exc.exc_type ?? 'Exception')}: ${String(exc.exc_value ?? '')}`);
  }
  return lines;
}

/** The complete lines of a log's tail: a first line cut by the tail's start is dropped. */
function tailLines(text: string, skipped: number): string[] {
  const lines = text.split('\n');
  return skipped > 0 ? lines.slice(1) : lines;
}

/** Airflow 3's NDJSON log stream (one structured entry per line) as entries. */
function ndjsonEntries(lines: readonly string[]): unknown[] {
  const entries: unknown[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    try {
      entries.push(JSON.parse(line));
    } catch {
      entries.push(line);
    }
  }
  return entries;
}

export function restAirflowApi(rest: AirflowRest, logTailBytes = DEFAULT_LOG_TAIL_BYTES): Omit<AirflowApi, 'via'> {
  return {
    async dag(dagId) {
      const where = path('dags', dagId);
      const response = await rest.request('GET', where);
      if (response.status === 404) return undefined;
      return dagInfo(ok(rest, response, 'GET', where), dagId);
    },
    async serializedDagDoc(dagId) {
      const where = path('dags', dagId, 'details');
      const response = await rest.request('GET', where);
      if (response.status === 404) return { docMd: null };
      return { docMd: optionalString(ok(rest, response, 'GET', where).doc_md) ?? null };
    },
    async importErrors() {
      return (await collect(rest, '/importErrors', 'import_errors')).map((row) => ({
        filename: String(row.filename ?? ''),
        stackTrace: String(row.stack_trace ?? ''),
      }));
    },
    async unpause(dagId) {
      const where = path('dags', dagId);
      ok(rest, await rest.request('PATCH', where, { query: { update_mask: 'is_paused' }, body: { is_paused: false } }), 'PATCH', where);
    },
    async dagRun(dagId, runId) {
      const where = path('dags', dagId, 'dagRuns', runId);
      const response = await rest.request('GET', where);
      if (response.status === 404)
        return { found: false, reason: new AirflowRestError(404, 'GET', where, response.text, rest.endpoint?.()).message };
      const state = ok(rest, response, 'GET', where).state;
      return { found: true, state: typeof state === 'string' ? state : 'none' };
    },
    async taskInstances(dagId, runId) {
      return (await collect(rest, path('dags', dagId, 'dagRuns', runId, 'taskInstances'), 'task_instances')).map((row) => ({
        taskId: String(row.task_id ?? ''),
        mapIndex: typeof row.map_index === 'number' ? row.map_index : -1,
        state: typeof row.state === 'string' && row.state !== '' ? row.state : 'none',
        tryNumber: typeof row.try_number === 'number' ? row.try_number : 0,
      }));
    },
    async dagRuns(dagId, limit) {
      const where = path('dags', dagId, 'dagRuns');
      // `-id`: newest created first, on both lines (v1 and v2 both sort by it; a run without a
      // logical date, which Airflow 3 allows, sorts like any other).
      const response = await rest.request('GET', where, { query: { limit: runLimit(limit), order_by: '-id' } });
      return jsonRows(ok(rest, response, 'GET', where).dag_runs).flatMap((row) => dagRunInfo(row) ?? []);
    },
    async taskLog(dagId, runId, ti, tailBytes = logTailBytes) {
      const where = path('dags', dagId, 'dagRuns', runId, 'taskInstances', ti.taskId, 'logs', String(Math.max(ti.tryNumber, 1)));
      const query = { full_content: true, map_index: ti.mapIndex };
      // The whole log streams past; only its last logTailBytes are kept. v1 streams plain text;
      // v2 answers 406 to text/plain, and streams structured entries as NDJSON when asked for it.
      const accept = rest.line === '2' ? 'text/plain' : 'application/x-ndjson';
      const response = await rest.request('GET', where, { query, accept, tailBytes });
      if (response.status < 200 || response.status > 299)
        throw new AirflowRestError(response.status, 'GET', where, response.text, rest.endpoint?.());
      const skipped = response.skippedBytes ?? 0;
      if (rest.line === '2') return tailLines(response.text, skipped).join('\n');
      if ((response.contentType ?? '').includes('ndjson')) return structuredLogText(ndjsonEntries(tailLines(response.text, skipped)));
      // A server that answered JSON instead: usable only when the whole document fit in the tail.
      if (skipped > 0) {
        throw new UserError(
          `${webServer(rest)}: the log of ${ti.taskId} is larger than ${tailBytes} bytes and came as one JSON document, ` +
            'not as a stream; read it in the Airflow UI.',
        );
      }
      let parsed: { content?: unknown } | undefined;
      try {
        parsed = JSON.parse(response.text) as { content?: unknown };
      } catch {
        parsed = undefined;
      }
      return structuredLogText(parsed?.content ?? response.text);
    },
    async variables(keys) {
      const all = new Map<string, string>();
      for (const row of await collect(rest, '/variables', 'variables')) {
        if (typeof row.key === 'string') all.set(row.key, typeof row.value === 'string' ? row.value : String(row.value ?? ''));
      }
      return new Map(keys.map((key) => [key, all.get(key)]));
    },
  };
}

/** Fails with Airflow's own message when a CLI command printed no JSON. */
function cliJson(result: CliResult, what: string): unknown {
  const parsed = parseJsonOutput(result.stdout);
  if (parsed === undefined) throw new UserError(`${what} printed no JSON: ${airflowMessage(result)}`);
  return parsed;
}

/** The CLI fallback cannot answer this on the environment's Airflow version; REST can. */
export class CliFallbackUnsupportedError extends UserError {
  constructor(
    readonly airflowVersion: string,
    what: string,
  ) {
    super(
      `Airflow ${airflowVersion}'s CLI cannot ${what}: its \`dags list\` has no --columns and lists no DAG tags or parse ` +
        `times (they arrive in Airflow ${DAG_COLUMNS_SINCE}), so the MWAA CLI fallback cannot tell whether the new DAG is live. ` +
        "Airflow's REST API can: grant airflow:CreateWebLoginToken (see docs/MWAA_SETUP.md) so the deployer reads Airflow " +
        `through the web login, or move the environment to Airflow ${DAG_COLUMNS_SINCE} or newer.`,
    );
    this.name = 'CliFallbackUnsupportedError';
  }
}

/** `dags unpause` before 2.9 prints `Dag: <id>, paused: False` (no -o there). */
function unpausedLine(stdout: string, dagId: string): boolean {
  return stdout.split('\n').some((line) => line.trim() === `Dag: ${dagId}, paused: False`);
}

export function cliAirflowApi(cli: CliRunner, version: AirflowVersion): Omit<AirflowApi, 'via'> {
  const line = airflowLine(version);
  const columns = cliHasDagColumns(version);
  return {
    async dag(dagId) {
      if (!columns) throw new CliFallbackUnsupportedError(version, `show DAG ${dagId}'s tags`);
      const out = await cli.run(['dags', 'list', '-o', 'json', '--columns', 'dag_id,is_paused,tags,last_parsed_time,fileloc']);
      const row = jsonRows(cliJson(out, '`dags list`')).find((r) => r.dag_id === dagId);
      return row ? dagInfo(row, dagId) : undefined;
    },
    async serializedDagDoc() {
      return undefined;
    },
    async importErrors() {
      const out = await cli.run(['dags', 'list-import-errors', '-o', 'json']);
      return jsonRows(cliJson(out, '`dags list-import-errors`')).map((row) => ({
        filename: String(row.filepath ?? ''),
        stackTrace: String(row.error ?? ''),
      }));
    },
    async unpause(dagId) {
      if (!columns) {
        const out = await cli.run(['dags', 'unpause', dagId]);
        if (!unpausedLine(out.stdout, dagId)) throw new UserError(`Could not unpause ${dagId}: ${airflowMessage(out)}`);
        return;
      }
      // Prints the DAGs it changed, or "No paused DAGs were found" when there was nothing to do.
      const out = await cli.run(['dags', 'unpause', dagId, '-o', 'json']);
      const changed = jsonRows(parseJsonOutput(out.stdout)).some((row) => row.dag_id === dagId);
      if (!changed && !/No paused DAGs were found/.test(out.stdout)) {
        throw new UserError(`Could not unpause ${dagId}: ${airflowMessage(out)}`);
      }
    },
    async dagRun(dagId, runId) {
      const argv = line === '2' ? ['dags', 'list-runs', '-d', dagId, '-o', 'json'] : ['dags', 'list-runs', dagId, '-o', 'json'];
      const out = await cli.run(argv);
      const parsed = parseJsonOutput(out.stdout);
      if (parsed === undefined) return { found: false, reason: airflowMessage(out) };
      const row = jsonRows(parsed).find((r) => r.run_id === runId);
      if (!row) return { found: false, reason: `\`dags list-runs\` lists no run ${runId} of ${dagId}` };
      return { found: true, state: typeof row.state === 'string' && row.state !== '' ? row.state : 'none' };
    },
    async taskInstances(dagId, runId) {
      const out = await cli.run(['tasks', 'states-for-dag-run', dagId, runId, '-o', 'json']);
      return jsonRows(cliJson(out, '`tasks states-for-dag-run`')).map((row) => ({
        taskId: String(row.task_id ?? ''),
        mapIndex: row.map_index !== undefined && row.map_index !== '' ? Number(row.map_index) : -1,
        state: typeof row.state === 'string' && row.state !== '' ? row.state : 'none',
        tryNumber: 0,
      }));
    },
    async dagRuns(dagId, limit) {
      const argv = line === '2' ? ['dags', 'list-runs', '-d', dagId, '-o', 'json'] : ['dags', 'list-runs', dagId, '-o', 'json'];
      const runs = jsonRows(cliJson(await cli.run(argv), '`dags list-runs`')).flatMap((row) => dagRunInfo(row) ?? []);
      // `dags list-runs` lists newest first (by logical date); a run without one sorts by its start.
      const when = (run: DagRunInfo) => Date.parse(run.logicalDate ?? run.startDate ?? '') || 0;
      return runs.sort((a, b) => when(b) - when(a)).slice(0, runLimit(limit));
    },
    async taskLog() {
      return undefined;
    },
    async variables(keys) {
      const values = new Map<string, string | undefined>();
      // One at a time: the lane in cli-client.ts serialises them anyway.
      for (const key of keys) {
        const out = await cli.run(['variables', 'get', key]);
        if (out.stdout === '' && /does not exist/i.test(out.stderr)) {
          values.set(key, undefined);
        } else if (out.stdout === '' && out.stderr.trim() !== '') {
          throw new UserError(`\`variables get ${key}\` failed: ${airflowMessage(out)}`);
        } else {
          values.set(key, out.stdout.endsWith('\n') ? out.stdout.slice(0, -1) : out.stdout);
        }
      }
      return values;
    },
  };
}

export interface AirflowApiOptions {
  /** The environment's exact Airflow version (GetEnvironment's AirflowVersion): CLI forms differ by version. */
  version: AirflowVersion;
  cli: CliRunner;
  /** Absent: the CLI answers everything. */
  rest?: AirflowRest;
  /** Told once, when the web login is denied and the CLI takes over. */
  onFallback?: (message: string) => void;
  /** How much of a failed task's log to keep (default 64 KiB). */
  logTailBytes?: number;
}

/** REST while the web login works; the listed CLI commands from the first denial on. */
export function airflowApi(options: AirflowApiOptions): AirflowApi {
  const cli = cliAirflowApi(options.cli, options.version);
  const rest = options.rest ? restAirflowApi(options.rest, options.logTailBytes) : undefined;
  let via: 'rest' | 'cli' = rest ? 'rest' : 'cli';
  const call =
    <K extends keyof Omit<AirflowApi, 'via'>>(name: K) =>
    async (...args: Parameters<AirflowApi[K]>): Promise<Awaited<ReturnType<AirflowApi[K]>>> => {
      if (via === 'rest' && rest) {
        try {
          return await (rest[name] as (...a: Parameters<AirflowApi[K]>) => Promise<Awaited<ReturnType<AirflowApi[K]>>>)(...args);
        } catch (error) {
          if (!(error instanceof WebLoginDeniedError)) throw error;
          via = 'cli';
          options.onFallback?.(
            `${error.message}. Reading Airflow through the MWAA CLI commands instead (slower; no task logs). ` +
              'Grant airflow:CreateWebLoginToken (see docs/MWAA_SETUP.md) to use the REST API.',
          );
        }
      }
      return (cli[name] as (...a: Parameters<AirflowApi[K]>) => Promise<Awaited<ReturnType<AirflowApi[K]>>>)(...args);
    };
  return {
    via: () => via,
    dag: call('dag'),
    serializedDagDoc: call('serializedDagDoc'),
    importErrors: call('importErrors'),
    unpause: call('unpause'),
    dagRun: call('dagRun'),
    taskInstances: call('taskInstances'),
    dagRuns: call('dagRuns'),
    taskLog: call('taskLog'),
    variables: call('variables'),
  };
}
