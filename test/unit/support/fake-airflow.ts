/**
 * An MWAA environment's Airflow in memory, answering both ways in: the `/aws_mwaa/cli` endpoint
 * (per-line command table enforced as MWAA does: HTTP 500 for anything else; output shaped like
 * Airflow's `-o json`) and Airflow's REST API (/api/v1 or /api/v2 shapes), with a switch that
 * makes the web login denied. Every command and request is recorded.
 */
import { MwaaCliError, type CliResult } from '../../../src/mwaa/cli-client.js';
import { checkCliCommand } from '../../../src/mwaa/cli-commands.js';
import { WebLoginDeniedError, type AirflowRest, type RestRequest, type RestResponse } from '../../../src/mwaa/rest-client.js';
import type { AirflowLine } from '../../../src/mwaa/versions.js';

export interface FakeTi {
  task_id: string;
  state: string | null;
  map_index: number;
  try_number: number;
  log?: string;
}

export interface FakeRun {
  dag_id: string;
  run_id: string;
  /** States the run reports on successive reads; the last one sticks. */
  states: string[];
  tis: FakeTi[];
}

export class FakeAirflow {
  readonly commands: string[][] = [];
  readonly requests: string[] = [];
  /**
   * `doc_md`: the serialized DAG's docs, which /details serves; unset, the docs name the tags (the
   * serialized DAG is as current as the tags).
   */
  dags = new Map<string, { is_paused: boolean; tags: string[]; last_parsed_time?: string; fileloc?: string; doc_md?: string }>();
  importErrors: { filename: string; stack_trace: string }[] = [];
  runs = new Map<string, FakeRun>();
  variables = new Map<string, string>();
  webLoginDenied = false;
  /** What `dags trigger` does: create a run with these states and task instances, or refuse. */
  onTrigger: (dagId: string, conf: Record<string, unknown>) => { states: string[]; tis: FakeTi[] } | { refuse: string } = () => ({
    states: ['running', 'success'],
    tis: [{ task_id: 'validate_inputs', state: 'success', map_index: -1, try_number: 1 }],
  });
  private reads = new Map<string, number>();

  constructor(readonly line: AirflowLine) {}

  private runState(run: FakeRun): string {
    const n = this.reads.get(run.run_id) ?? 0;
    this.reads.set(run.run_id, n + 1);
    return run.states[Math.min(n, run.states.length - 1)]!;
  }

  private currentTis(run: FakeRun): FakeTi[] {
    const done = (this.reads.get(run.run_id) ?? 0) >= run.states.length;
    return run.tis.map((ti) => (done ? ti : { ...ti, state: ti.state === 'failed' || ti.state === 'success' ? 'running' : ti.state }));
  }

  trigger(dagId: string, conf: Record<string, unknown>, logicalDate?: string): { run?: FakeRun; refuse?: string } {
    const outcome = this.onTrigger(dagId, conf);
    if ('refuse' in outcome) return { refuse: outcome.refuse };
    const runId = `manual__${logicalDate ?? '2026-11-26T09:00:00+00:00'}`;
    const run: FakeRun = { dag_id: dagId, run_id: runId, states: outcome.states, tis: outcome.tis };
    this.runs.set(runId, run);
    return { run };
  }

  /** The CLI endpoint: rejects what MWAA does not list for the line, like MWAA (HTTP 500). */
  cli(): { run(argv: readonly string[]): Promise<CliResult> } {
    return {
      run: async (argv) => {
        this.commands.push([...argv]);
        const check = checkCliCommand(this.line, argv);
        if (!check.ok) throw new MwaaCliError(500, argv.join(' '), `Internal Server Error: ${check.reason}`);
        return this.runCommand(check.command, argv);
      },
    };
  }

  private runCommand(command: string, argv: readonly string[]): CliResult {
    const option = (name: string) => {
      const i = argv.indexOf(name);
      return i >= 0 ? argv[i + 1] : undefined;
    };
    const log = '[2026-11-26T09:00:00.000+0000] {dagbag.py:588} INFO - Filling up the DagBag\n';
    switch (command) {
      case 'dags list': {
        const columns = (option('--columns') ?? 'dag_id,fileloc,owners,is_paused').split(',');
        const rows = [...this.dags].map(([dag_id, d]) => {
          const full: Record<string, unknown> = { dag_id, ...d, tags: d.tags.map((name) => ({ name })) };
          return Object.fromEntries(columns.map((c) => [c, full[c] ?? null]));
        });
        return { stdout: `${log}${JSON.stringify(rows)}\n`, stderr: '' };
      }
      case 'dags list-import-errors':
        return { stdout: JSON.stringify(this.importErrors.map((e) => ({ filepath: e.filename, error: e.stack_trace }))), stderr: '' };
      case 'dags unpause': {
        const dag = this.dags.get(argv[2]!);
        if (!dag?.is_paused) return { stdout: 'No paused DAGs were found\n', stderr: '' };
        dag.is_paused = false;
        return { stdout: JSON.stringify([{ dag_id: argv[2], is_paused: true }]), stderr: '' };
      }
      case 'dags trigger': {
        const dagId = argv[2]!;
        const logicalDate = option('--logical-date');
        if (this.line === '3' && logicalDate === undefined) throw new Error('test expects --logical-date on Airflow 3');
        if (this.line === '2' && argv.includes('--logical-date')) {
          return { stdout: '', stderr: 'airflow command error: unrecognized arguments: --logical-date, see help above.\n' };
        }
        const result = this.trigger(dagId, JSON.parse(option('-c') ?? '{}') as Record<string, unknown>, logicalDate);
        if (result.refuse) {
          return {
            stdout: `[2026-11-26T09:00:00] INFO - creating dag run manual__x\n`,
            stderr: `Traceback (most recent call last):\n  File "x.py", line 1, in <module>\n${result.refuse}\n`,
          };
        }
        const row = { conf: {}, dag_id: dagId, dag_run_id: result.run!.run_id, state: 'queued' };
        return { stdout: `${log}${JSON.stringify([row])}\n`, stderr: '' };
      }
      case 'dags list-runs': {
        const dagId = this.line === '2' ? option('-d') : argv[2];
        const rows = [...this.runs.values()].filter((r) => r.dag_id === dagId).map((r) => ({ run_id: r.run_id, state: this.runState(r) }));
        return { stdout: JSON.stringify(rows), stderr: '' };
      }
      case 'tasks states-for-dag-run': {
        const run = this.runs.get(argv[3]!);
        if (!run) return { stdout: '', stderr: `DagRun ${argv[3]} not found\n` };
        const rows = this.currentTis(run).map((ti) => ({
          task_id: ti.task_id,
          state: ti.state ?? '',
          ...(ti.map_index >= 0 ? { map_index: String(ti.map_index) } : {}),
        }));
        return { stdout: JSON.stringify(rows), stderr: '' };
      }
      case 'variables get': {
        const value = this.variables.get(argv[2]!);
        return value === undefined ? { stdout: '', stderr: `Variable ${argv[2]} does not exist\n` } : { stdout: `${value}\n`, stderr: '' };
      }
      default:
        return { stdout: '', stderr: `the fake does not implement ${command}` };
    }
  }

  /** Airflow's REST API behind MWAA's web login. */
  rest(): AirflowRest {
    const stats = { logins: 0, requests: 0 };
    return {
      line: this.line,
      stats,
      request: async (method, path, request: RestRequest = {}) => {
        if (this.webLoginDenied) throw new WebLoginDeniedError('CreateWebLoginToken for env-x: AccessDeniedException');
        stats.requests += 1;
        this.requests.push(`${method} ${path}`);
        return this.answer(method, path, request);
      },
    };
  }

  private answer(method: string, path: string, request: RestRequest): RestResponse {
    const json = (status: number, value: unknown): RestResponse => ({ status, text: JSON.stringify(value), json: value });
    const parts = path.split('/').slice(1).map(decodeURIComponent);
    const page = <T>(rows: T[]): T[] =>
      rows.slice(Number(request.query?.offset ?? 0), Number(request.query?.offset ?? 0) + Number(request.query?.limit ?? 100));
    if (parts[0] === 'dags' && parts[2] === 'details' && parts.length === 3) {
      const dag = this.dags.get(parts[1]!);
      if (!dag) return json(404, { detail: `DAG with dag_id: '${parts[1]}' not found` });
      return json(200, { dag_id: parts[1], doc_md: dag.doc_md ?? `Tags: ${dag.tags.join(' ')}` });
    }
    if (parts[0] === 'dags' && parts.length === 2) {
      const dag = this.dags.get(parts[1]!);
      if (!dag) return json(404, { detail: `DAG with dag_id: '${parts[1]}' not found` });
      if (method === 'PATCH') dag.is_paused = (request.body as { is_paused: boolean }).is_paused;
      return json(200, { dag_id: parts[1], ...dag, tags: dag.tags.map((name) => ({ name })) });
    }
    if (parts[0] === 'importErrors') return json(200, { import_errors: page(this.importErrors), total_entries: this.importErrors.length });
    if (parts[0] === 'variables') {
      const rows = [...this.variables].map(([key, value]) => ({ key, value, description: null }));
      return json(200, { variables: page(rows), total_entries: rows.length });
    }
    if (parts[0] === 'dags' && parts[2] === 'dagRuns') {
      const run = this.runs.get(parts[3]!);
      if (!run || run.dag_id !== parts[1])
        return json(404, { detail: `DagRun with DAG ID: '${parts[1]}' and DagRun ID: '${parts[3]}' not found` });
      if (parts.length === 4) return json(200, { dag_run_id: run.run_id, state: this.runState(run) });
      if (parts[4] === 'taskInstances' && parts.length === 5) {
        const tis = this.currentTis(run).map(({ log: _log, ...ti }) => ti);
        return json(200, { task_instances: page(tis), total_entries: tis.length });
      }
      if (parts[4] === 'taskInstances' && parts[6] === 'logs') {
        const ti = run.tis.find((t) => t.task_id === parts[5] && t.map_index === Number(request.query?.map_index ?? -1));
        if (!ti) return json(404, { detail: 'TaskInstance not found' });
        if (this.line === '2') return { status: 200, text: ti.log ?? '' };
        const content = (ti.log ?? '').split('\n').map((event) => ({ event, level: 'error', timestamp: '2026-11-26T09:00:01Z' }));
        return json(200, {
          content: [{ event: '::group::Log message source details', sources: ['/x.log'] }, { event: '::endgroup::' }, ...content],
          continuation_token: null,
        });
      }
    }
    return json(404, { detail: `no route ${method} ${path}` });
  }
}
