/**
 * A minimal MWAA web server, for either Airflow line: the web login (`/aws_mwaa/login` → cookie
 * `session` on 2.x, `/pluginsv2/aws_mwaa/login` → cookie `_token` on 3.x), the CLI endpoint
 * (`/aws_mwaa/cli`: base64 stdout/stderr, `dags trigger` creates a run), and the slice of Airflow's
 * REST API (/api/v1 on 2.x, /api/v2 on 3.x) that deploy and check read. With endless pages, the
 * list endpoints ignore `offset` and announce more than they will ever give.
 */
import { generatedBody, type Reply, type RequestInfo, type Service } from '../http-server.js';
import type { WorldState } from '../state.js';

const PAGE = 100;

function json(status: number, body: unknown): Reply {
  return { status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function lineOf(state: WorldState) {
  return state.line === '2'
    ? { login: '/aws_mwaa/login', cookie: 'session', api: '/api/v1' }
    : { login: '/pluginsv2/aws_mwaa/login', cookie: '_token', api: '/api/v2' };
}

const TASKS = [
  'validate_inputs',
  'retrieve_ssh_key',
  'test_ssh_connection',
  'clone_and_checkout_repo',
  'read_version_yaml',
  'update_airflow_variables',
  'cleanup_temp_files',
];

function cliAnswer(stdout: string, stderr = ''): Reply {
  return json(200, { stdout: Buffer.from(stdout).toString('base64'), stderr: Buffer.from(stderr).toString('base64') });
}

/** The list endpoints: one page, or with endless pages the same full page forever. */
function page(key: string, rows: unknown[], request: RequestInfo, endless: boolean): Reply {
  if (endless) {
    const filler = Array.from({ length: PAGE }, (_, i) => rows[i % Math.max(rows.length, 1)] ?? { n: i });
    return json(200, { [key]: filler, total_entries: 1_000_000_000 });
  }
  const offset = Number(request.query.get('offset') ?? 0);
  const limit = Number(request.query.get('limit') ?? PAGE);
  return json(200, { [key]: rows.slice(offset, offset + limit), total_entries: rows.length });
}

export function webServerService(state: WorldState): Service {
  const line = lineOf(state);
  const api = (path: string) => (path.startsWith(`${line.api}/`) ? path.slice(line.api.length) : undefined);
  return {
    display: 'Airflow web server',
    contentType: 'application/json',
    bodyPrefix: '{"import_errors":[{"filename":"',
    operation(request) {
      if (request.path === line.login) return 'login';
      if (request.path === '/aws_mwaa/cli') return 'cli';
      const rest = api(request.path);
      if (rest === undefined) return `${request.method} ${request.path}`;
      const parts = rest.split('/').filter(Boolean);
      if (parts[0] === 'importErrors') return 'GET importErrors';
      if (parts[0] === 'variables') return 'GET variables';
      if (parts[0] === 'dags' && parts.length === 2) return `${request.method} dag`;
      if (parts[0] === 'dags' && parts[2] === 'details' && parts.length === 3) return 'GET dagDetails';
      if (parts[2] === 'dagRuns' && parts.length === 4) return 'GET dagRun';
      if (parts[4] === 'taskInstances' && parts.length === 5) return 'GET taskInstances';
      if (parts[6] === 'logs') return 'GET log';
      return `${request.method} ${rest}`;
    },
    handle(request, { endlessPages }) {
      const operation = this.operation(request);
      const parts = (api(request.path) ?? '').split('/').filter(Boolean).map(decodeURIComponent);
      const airflow = state.airflow;
      switch (operation) {
        case 'login':
          return {
            status: 302,
            headers: { location: '/', 'set-cookie': [`${line.cookie}=harness-session; Path=/; HttpOnly`] },
            body: '',
          };
        case 'cli': {
          const argv = request.body.toString('utf8').trim().split(/\s+/);
          if (argv[0] === 'dags' && argv[1] === 'trigger') {
            const runId = `manual__${new Date().toISOString()}`;
            airflow.runs.push(runId);
            return cliAnswer(
              `${JSON.stringify([{ dag_id: argv[2], dag_run_id: runId, state: 'queued', logical_date: new Date().toISOString() }])}\n`,
            );
          }
          if (argv[0] === 'dags' && argv[1] === 'unpause') return cliAnswer('[]\n', 'No paused DAGs were found\n');
          if (argv[0] === 'variables' && argv[1] === 'get') {
            const value = airflow.variables[argv[2] ?? ''];
            return value === undefined ? cliAnswer('', `Variable ${argv[2]} does not exist\n`) : cliAnswer(`${value}\n`);
          }
          return cliAnswer('[]\n');
        }
        case 'GET importErrors':
          return page('import_errors', [], request, endlessPages);
        case 'GET dag':
        case 'PATCH dag':
          if (parts[1] !== airflow.dagId) return json(404, { detail: `DAG with dag_id: '${parts[1]}' not found` });
          return json(200, {
            dag_id: airflow.dagId,
            is_paused: false,
            tags: airflow.tags.map((name) => ({ name })),
            fileloc: `/usr/local/airflow/dags/${airflow.dagId}.py`,
            // Parsed "later": a rollback waits for a parse after its upload.
            last_parsed_time: new Date(Date.now() + 86_400_000).toISOString(),
          });
        case 'GET dagDetails':
          // The stored DAG's docs carry its build tag, as the generated DAG's do.
          if (parts[1] !== airflow.dagId) return json(404, { detail: `DAG with dag_id: '${parts[1]}' not found` });
          return json(200, { dag_id: airflow.dagId, doc_md: `The DAG (${airflow.tags.join(', ')}).` });
        case 'GET dagRun':
          if (!airflow.runs.includes(parts[3] ?? '')) return json(404, { detail: 'DAGRun not found' });
          return json(200, { dag_id: airflow.dagId, dag_run_id: parts[3], state: airflow.runState });
        case 'GET taskInstances':
          return page(
            'task_instances',
            TASKS.map((task) => ({
              task_id: task,
              map_index: -1,
              try_number: 1,
              state: airflow.runState === 'failed' && task === airflow.failedTask ? 'failed' : 'success',
            })),
            request,
            endlessPages,
          );
        case 'GET log': {
          const ndjson = state.line === '3' && String(request.headers.accept ?? '').includes('application/x-ndjson');
          const lines = ndjson
            ? airflow.log
                .split('\n')
                .map((event) => `${JSON.stringify({ event, level: 'info' })}\n`)
                .join('')
            : airflow.log;
          if (airflow.logPaddingBytes > 0 && (state.line === '2' || ndjson)) {
            // Streamed, chunk by chunk: lines of padding, then the log's real end.
            const fill = ndjson ? `${JSON.stringify({ event: 'padding', level: 'debug' })}\n` : 'padding line\n';
            const body = generatedBody(airflow.logPaddingBytes + lines.length, '', undefined, {
              fill,
              suffix: `\n${lines}`,
            });
            return { status: 200, headers: { 'content-type': ndjson ? 'application/x-ndjson' : 'text/plain' }, body };
          }
          if (state.line === '2') return { status: 200, headers: { 'content-type': 'text/plain' }, body: lines };
          if (ndjson) return { status: 200, headers: { 'content-type': 'application/x-ndjson' }, body: lines };
          return json(200, { content: airflow.log.split('\n').map((event) => ({ event })), continuation_token: null });
        }
        case 'GET variables':
          return page(
            'variables',
            Object.entries(airflow.variables).map(([key, value]) => ({ key, value })),
            request,
            endlessPages,
          );
        default:
          return { status: 404, headers: { 'content-type': 'text/plain' }, body: `the harness does not serve ${operation}` };
      }
    },
  };
}
