/**
 * Bench: what the generated DAG costs Airflow, measured with the local stack's real Airflow.
 *
 * 1. Parse time of the generated DAG file against an empty DAG that has the same Airflow imports
 *    (target: at most 1.3x), two ways:
 *    - cold: a fresh interpreter per sample (python start, Airflow import, plugins folder loaded as
 *      every Airflow process does, one DagBag parse), what a new parsing process and
 *      `dagbag_import_timeout` see;
 *    - warm: re-parsing in one process where Airflow is already imported, what a long-lived DAG
 *      processor pays per parse cycle (DagBag compiles the file from source every time).
 * 2. SSH connections per DAG run (target: one per SSH task, i.e. 3 per server): one real run with
 *    dag.test against the stack's sshd and moto; TCP connections our process opened to sshd are
 *    matched to the "Accepted publickey" lines of sshd's log by client port.
 *
 *   npx tsx bench/dag-parse.ts [--cold 5] [--warm 20] [--no-run]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { renderDag } from '../src/generator/render-dag.js';
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
const withRun = !argv.includes('--no-run');

const state = readStateIfPresent(stackRoot(process.env, repo));
if (!state) {
  process.stderr.write('The local stack is not up. Run: npm run local -- up\n');
  process.exit(1);
}
const python = join(state.venvBin, 'python');
const config = await loadConfig({ env: 'local', cwd: repo, localStackOverlay: () => runningStackOverlay(process.env, repo) });
const line = config.airflow.line;

const work = mkdtempSync(join(tmpdir(), 'bench-dag-parse-'));
const home = join(work, 'airflow');
mkdirSync(join(home, 'dags'), { recursive: true });
const ours = join(work, 'gpu_server_cicd_dag.py');
const empty = join(work, 'empty_dag.py');
writeFileSync(ours, renderDag(config, { toolVersion: '0.0.0-bench', configHash: '0'.repeat(64) }));
// The baseline has the same Airflow imports as the generated file and one DAG without tasks.
const imports =
  line === '3'
    ? 'from airflow.sdk import Param, dag, task, task_group  # noqa: F401\n'
    : 'from airflow.decorators import dag, task, task_group  # noqa: F401\nfrom airflow.models.param import Param  # noqa: F401\n';
writeFileSync(
  empty,
  `from datetime import UTC, datetime\n\n${imports}\n\n@dag(dag_id="empty_dag", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False)\ndef empty_dag():\n    pass\n\n\nempty_dag()\n`,
);

const env = {
  ...process.env,
  ...(state.airflow?.env ?? {}),
  AIRFLOW_HOME: home,
  AIRFLOW__CORE__DAGS_FOLDER: join(home, 'dags'),
  AIRFLOW__CORE__PLUGINS_FOLDER: join(repo, 'templates/plugins'),
  AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
  AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(home, 'airflow.db')}`,
  AIRFLOW__LOGGING__BASE_LOG_FOLDER: join(home, 'logs'),
  AWS_ENDPOINT_URL: state.endpoints.secretsManager,
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_DEFAULT_REGION: state.region,
  PATH: `${state.venvBin}:${process.env.PATH ?? ''}`,
};

function py(script: string, args: string[] = []): string {
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
files, rounds = sys.argv[1:3], int(sys.argv[3])
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

const cold: Record<string, { wall: number[]; parse: number[] }> = {
  [empty]: { wall: [], parse: [] },
  [ours]: { wall: [], parse: [] },
};
for (let round = 0; round < coldRounds; round += 1) {
  for (const file of [empty, ours]) {
    const started = performance.now();
    const sample = JSON.parse(py(parseOnce, [file])) as { import: number; parse: number };
    cold[file]!.wall.push(performance.now() - started);
    cold[file]!.parse.push(sample.parse * 1000);
  }
}
const warm = JSON.parse(py(parseWarm, [empty, ours, String(warmRounds)])) as Record<string, number>;

const coldWall = { empty: median(cold[empty]!.wall), ours: median(cold[ours]!.wall) };
const coldParse = { empty: median(cold[empty]!.parse), ours: median(cold[ours]!.parse) };
const warmMs = { empty: warm[empty]! * 1000, ours: warm[ours]! * 1000 };
printTable(
  `DAG parse time, Airflow ${state.airflowVersion} (medians; cold n=${coldRounds}, warm n=${warmRounds}; target ours/empty <= 1.3)`,
  ['measure', 'empty DAG ms', 'generated DAG ms', 'ratio', 'meets 1.3x'],
  [
    [
      'cold process (start + import + parse)',
      coldWall.empty,
      coldWall.ours,
      coldWall.ours / coldWall.empty,
      coldWall.ours / coldWall.empty <= 1.3 ? 'yes' : 'no',
    ],
    [
      'cold first DagBag parse',
      coldParse.empty,
      coldParse.ours,
      coldParse.ours / coldParse.empty,
      coldParse.ours / coldParse.empty <= 1.3 ? 'yes' : 'no',
    ],
    [
      'warm re-parse (Airflow loaded)',
      warmMs.empty,
      warmMs.ours,
      warmMs.ours / warmMs.empty,
      warmMs.ours / warmMs.empty <= 1.3 ? 'yes' : 'no',
    ],
  ],
);

if (withRun) {
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
    const result = JSON.parse(py(runScript, [String(state.ssh.port), state.ssh.sshdLog, workspace, state.ssh.host, state.secretArn])) as {
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
