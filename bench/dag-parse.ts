/**
 * Bench: what the generated DAG costs Airflow, measured with real Airflow.
 *
 * 1. Parse time of the generated DAG file against two others, side by side in the same rounds:
 *    - the anchor: bench/anchor/hand_written_dag.py, the DAG one would write for this job by hand
 *      (seven classic PythonOperators with their callables, the same task chain, boto3 and PyYAML
 *      imported; target: ours at most 1.0x the anchor);
 *    - an empty DAG with the same Airflow imports as ours (the floor).
 *    Two ways:
 *    - cold: a fresh interpreter per sample (python start, Airflow import, plugins folder loaded as
 *      every Airflow process does, one DagBag parse), what a new parsing process and
 *      `dagbag_import_timeout` see;
 *    - warm: re-parsing in one process where Airflow is already imported, what a long-lived DAG
 *      processor pays per parse cycle (DagBag compiles the file from source every time).
 *    Every Airflow line with a venv is measured: each `airflow-<version>` venv under
 *    $MWAA_LOCAL_VENVS, else the running local stack's venv.
 * 2. SSH connections per DAG run (target: one per SSH task, i.e. 3 per server): one real run with
 *    dag.test against the stack's sshd and moto; TCP connections our process opened to sshd are
 *    matched to the "Accepted publickey" lines of sshd's log by client port. Needs the local stack.
 *
 *   npx tsx bench/dag-parse.ts [--cold 5] [--warm 20] [--no-run]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import type { ResolvedConfig } from '../src/config/resolved.js';
import { renderDag } from '../src/generator/render-dag.js';
import { airflowLine } from '../src/mwaa/versions.js';
import { readStateIfPresent, stackRoot } from '../local-stack/src/state.js';
import { runningStackOverlay } from '../local-stack/src/config-overlay.js';
import { median, printTable } from './support.js';

const repo = resolve(new URL('..', import.meta.url).pathname);
const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const coldRounds = flag('--cold', 5);
const warmRounds = flag('--warm', 20);
const state = readStateIfPresent(stackRoot(process.env, repo));
const withRun = !argv.includes('--no-run') && state !== undefined;

/** The venvs to measure with: Airflow version and python. */
function venvs(): Array<{ version: string; python: string }> {
  const dir = process.env.MWAA_LOCAL_VENVS;
  if (dir) {
    return readdirSync(dir)
      .flatMap((name) =>
        /^airflow-(\d+\.\d+\.\d+)$/.exec(name) ? [{ version: name.slice(8), python: join(dir, name, 'bin/python') }] : [],
      )
      .filter((v) => existsSync(v.python))
      .sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }));
  }
  if (state) return [{ version: state.airflowVersion, python: join(state.venvBin, 'python') }];
  process.stderr.write(
    'No Airflow to parse with: set MWAA_LOCAL_VENVS to a directory of airflow-<version> venvs, or run: npm run local -- up\n',
  );
  process.exit(1);
}

const devConfig = await loadConfig({ env: 'dev', cwd: repo });
const anchorSource = readFileSync(join(repo, 'bench/anchor/hand_written_dag.py'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'bench-dag-parse-'));

function envFor(home: string, venvBin: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...(state?.airflow?.env ?? {}),
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: join(home, 'dags'),
    AIRFLOW__CORE__PLUGINS_FOLDER: join(repo, 'templates/plugins'),
    AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
    AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(home, 'airflow.db')}`,
    AIRFLOW__LOGGING__BASE_LOG_FOLDER: join(home, 'logs'),
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_DEFAULT_REGION: state?.region ?? 'us-east-1',
    ...(state ? { AWS_ENDPOINT_URL: state.endpoints.secretsManager } : {}),
    PATH: `${venvBin}:${process.env.PATH ?? ''}`,
  };
}

function py(python: string, env: NodeJS.ProcessEnv, script: string, args: string[] = []): string {
  const result = spawnSync(python, ['-c', script, ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`python failed (${result.status}):\n${result.stderr.slice(-3000)}`);
  const lines = result.stdout.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

const parseOnce = `
import json, logging, sys, time
t0 = time.perf_counter()
from airflow import plugins_manager
from airflow.models.dagbag import DagBag
logging.disable(logging.WARNING)
# Every Airflow process loads the plugins folder (paramiko, boto3 via plugins.zip) whatever it parses.
plugins_manager.ensure_plugins_loaded()
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
t2 = time.perf_counter()
if bag.import_errors or not bag.dags:
    raise SystemExit(f"parse failed: {bag.import_errors}")
print(json.dumps({"import": t1 - t0, "parse": t2 - t1}))
`;

const parseWarm = `
import json, logging, statistics, sys, time
from airflow import plugins_manager
from airflow.models.dagbag import DagBag
logging.disable(logging.WARNING)
plugins_manager.ensure_plugins_loaded()
files, rounds = sys.argv[1:-1], int(sys.argv[-1])
def parse(path):
    t = time.perf_counter()
    bag = DagBag(dag_folder=path)
    elapsed = time.perf_counter() - t
    if bag.import_errors or not bag.dags:
        raise SystemExit(f"parse failed: {bag.import_errors}")
    return elapsed
for path in files:
    parse(path)  # first parse imports what the file imports
samples = {path: [] for path in files}
for _ in range(rounds):
    for path in files:
        samples[path].append(parse(path))
print(json.dumps({path: statistics.median(values) for path, values in samples.items()}))
`;

const rows: Array<Array<string | number>> = [];
const ratio = (ours: number, anchor: number) => ours / anchor;
for (const venv of venvs()) {
  const line = airflowLine(venv.version as ResolvedConfig['airflow']['version']);
  const config: ResolvedConfig = {
    ...devConfig,
    airflow: { ...devConfig.airflow, version: venv.version as ResolvedConfig['airflow']['version'], line },
  };
  const dir = join(work, venv.version);
  const home = join(dir, 'airflow');
  mkdirSync(join(home, 'dags'), { recursive: true });
  const env = envFor(home, join(venv.python, '..'));
  const files = { empty: join(dir, 'empty_dag.py'), anchor: join(dir, 'hand_written_dag.py'), ours: join(dir, 'gpu_server_cicd_dag.py') };
  writeFileSync(files.ours, renderDag(config, { toolVersion: '0.0.0-bench', configHash: '0'.repeat(64) }));
  // The empty DAG has the same Airflow imports as the generated file and no tasks.
  const dagImports =
    line === '3'
      ? 'from airflow.sdk import Param, dag, task, task_group  # noqa: F401\n'
      : 'from airflow.decorators import dag, task, task_group  # noqa: F401\nfrom airflow.models.param import Param  # noqa: F401\n';
  writeFileSync(
    files.empty,
    `from datetime import UTC, datetime\n\n${dagImports}\n\n@dag(dag_id="empty_dag", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False)\ndef empty_dag():\n    pass\n\n\nempty_dag()\n`,
  );
  // The anchor imports classic operators as a hand-written file for that line does.
  const anchorImports =
    line === '3'
      ? 'from airflow.providers.standard.operators.python import PythonOperator\nfrom airflow.sdk import DAG, Variable'
      : 'from airflow import DAG\nfrom airflow.models import Variable\nfrom airflow.operators.python import PythonOperator';
  writeFileSync(files.anchor, anchorSource.replace('# <<airflow imports>>', anchorImports));

  const names = ['empty', 'anchor', 'ours'] as const;
  const cold = Object.fromEntries(names.map((n) => [n, { wall: [] as number[], parse: [] as number[] }]));
  for (let round = 0; round < coldRounds; round += 1) {
    for (const name of names) {
      const started = performance.now();
      const sample = JSON.parse(py(venv.python, env, parseOnce, [files[name]])) as { import: number; parse: number };
      cold[name]!.wall.push(performance.now() - started);
      cold[name]!.parse.push(sample.parse * 1000);
    }
  }
  const warm = JSON.parse(py(venv.python, env, parseWarm, [...names.map((n) => files[n]), String(warmRounds)])) as Record<string, number>;
  const measures: Array<[string, Record<(typeof names)[number], number>]> = [
    [
      'cold process (start + import + parse)',
      { empty: median(cold.empty!.wall), anchor: median(cold.anchor!.wall), ours: median(cold.ours!.wall) },
    ],
    ['cold first DagBag parse', { empty: median(cold.empty!.parse), anchor: median(cold.anchor!.parse), ours: median(cold.ours!.parse) }],
    [
      'warm re-parse (Airflow loaded)',
      { empty: warm[files.empty]! * 1000, anchor: warm[files.anchor]! * 1000, ours: warm[files.ours]! * 1000 },
    ],
  ];
  for (const [measure, ms] of measures) {
    rows.push([
      venv.version,
      measure,
      ms.empty,
      ms.anchor,
      ms.ours,
      `${ratio(ms.ours, ms.anchor).toFixed(2)}x`,
      ratio(ms.ours, ms.anchor) <= 1.0 ? 'yes' : 'no',
      `${ratio(ms.ours, ms.empty).toFixed(2)}x`,
    ]);
  }
}
printTable(
  `DAG parse time (medians; cold n=${coldRounds} interleaved per file, warm n=${warmRounds} interleaved; target ours <= 1.0x the hand-written anchor)`,
  ['Airflow', 'measure', 'empty DAG ms', 'hand-written ms', 'generated ms', 'ours/hand-written', 'meets 1.0x', 'ours/empty'],
  rows,
);

if (withRun && state) {
  // The run uses the stack's own environment: its venv, servers, secret and endpoints.
  const config = await loadConfig({ env: 'local', cwd: repo, localStackOverlay: () => runningStackOverlay(process.env, repo) });
  const home = join(work, 'run', 'airflow');
  mkdirSync(join(home, 'dags'), { recursive: true });
  const env = envFor(home, state.venvBin);
  const python = join(state.venvBin, 'python');
  const py1 = (script: string, args: string[] = []) => py(python, env, script, args);
  const cachedDb = `/tmp/mwaa-gpu-cicd-dagtest-${state.airflowVersion}.db`;
  if (!existsSync(cachedDb)) {
    const migrate = spawnSync(join(state.venvBin, 'airflow'), ['db', 'migrate'], { env, encoding: 'utf8' });
    if (migrate.status !== 0) throw new Error(`airflow db migrate failed:\n${migrate.stderr.slice(-2000)}`);
  } else {
    spawnSync('cp', [cachedDb, join(home, 'airflow.db')]);
  }
  writeFileSync(
    join(home, 'dags', 'gpu_server_cicd_dag.py'),
    renderDag(config, { toolVersion: '0.0.0-bench', configHash: '0'.repeat(64) }),
  );
  const runScript = `
import json, logging, re, socket, sys, time
ssh_port, sshd_log, workspace, host, arn = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
ports = []
real_connect = socket.socket.connect
def connect(self, address):
    result = real_connect(self, address)
    if isinstance(address, tuple) and address[1] == ssh_port:
        ports.append(self.getsockname()[1])
    return result
socket.socket.connect = connect
logging.disable(logging.WARNING)
from airflow.models.dagbag import DagBag
dag = DagBag().get_dag("${config.dag.id}")
started = time.perf_counter()
run = dag.test(run_conf={"gpu_server_ip": host, "workspace_path": workspace, "secrets_arn": arn})
seconds = time.perf_counter() - started
ssh_tasks = [ti for ti in run.get_task_instances() if ti.task_id in ("test_ssh_connection", "clone_and_checkout_repo", "read_version_yaml")]
time.sleep(0.5)
accepted = 0
with open(sshd_log, errors="replace") as log:
    for line in log:
        m = re.search(r"Accepted publickey for \\S+ from \\S+ port (\\d+)", line)
        if m and int(m.group(1)) in ports:
            accepted += 1
state = run.state.value if hasattr(run.state, "value") else str(run.state)
print(json.dumps({"state": state, "seconds": seconds, "ssh_tasks": len(ssh_tasks), "tcp": len(ports), "accepted": accepted}))
`;
  const workspace = join(state.workspace, `bench-${process.pid}`);
  try {
    const result = JSON.parse(py1(runScript, [String(state.ssh.port), state.ssh.sshdLog, workspace, state.ssh.host, state.secretArn])) as {
      state: string;
      seconds: number;
      ssh_tasks: number;
      tcp: number;
      accepted: number;
    };
    printTable(
      `SSH connections per DAG run (1 server; target: one per SSH task)`,
      ['run state', 'run s', 'SSH tasks', 'TCP connections to sshd', 'accepted by sshd (log)', 'per SSH task'],
      [[result.state, result.seconds, result.ssh_tasks, result.tcp, result.accepted, result.tcp / Math.max(1, result.ssh_tasks)]],
    );
    if (result.state !== 'success') process.exitCode = 1;
  } finally {
    rmSync(workspace, { recursive: true, force: true });
  }
}
rmSync(work, { recursive: true, force: true });
