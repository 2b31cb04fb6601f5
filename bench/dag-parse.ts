/**
 * Bench: what the generated DAG costs Airflow per parse, measured with real Airflow as MWAA runs it.
 *
 * 1. Parse time of the `prod` example's generated DAG file (its library zip beside it, as
 *    `generate` writes them) against bench/anchor/hand_written_dag.py, the DAG one would write for
 *    this job by hand (seven classic PythonOperators, the same task chain and the same schedule),
 *    and an empty DAG with the generated file's Airflow imports (the floor), side by side in the
 *    same rounds. Bytecode caching is ON, as on MWAA (its image does not set
 *    PYTHONDONTWRITEBYTECODE; these machines do, so the children run without it). Two modes:
 *    - in-process re-parse: DagBag(file) again and again in one process where Airflow, the plugins
 *      and the file's imports are loaded (a long-lived parser);
 *    - forked: as the DAG processor parses, a parent that imported Airflow, loaded the plugins and
 *      pre-imported the `airflow.*` modules the file names (parsing_pre_import_modules, with
 *      Airflow's own iter_airflow_imports; one such parent per file, so that no file profits from
 *      another's pre-imports) and never parsed, forking one child per parse; the time is the
 *      parent's, from fork to the child's exit. Like MWAA's processes, the parents have boto3
 *      loaded (the hand-written DAG imports it at its top level).
 *    Target: the generated file at most TARGET x the hand-written one, on each line, in each mode.
 *    Every Airflow line with a venv is measured: each `airflow-<version>` venv under
 *    $MWAA_LOCAL_VENVS (the local stack's venvs by default), else the running stack's venv.
 * 2. SSH connections per DAG run (target: one per SSH task, i.e. 3 per server): one real run with
 *    dag.test against the stack's sshd and moto; TCP connections our process opened to sshd are
 *    matched to the "Accepted publickey" lines of sshd's log by client port. Needs the local stack.
 *
 *   npx tsx bench/dag-parse.ts [--rounds 20] [--no-run]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readConfigFile, resolveConfig, loadConfig } from '../src/config/load.js';
import type { ResolvedConfig } from '../src/config/resolved.js';
import { generateEnvironment } from '../src/generator/generate.js';
import { AIRFLOW_IMPORTS } from '../src/generator/render-dag.js';
import { pythonLiteral } from '../src/generator/python-literal.js';
import { airflowLine } from '../src/mwaa/versions.js';
import { readStateIfPresent, stackRoot } from '../local-stack/src/state.js';
import { runningStackOverlay } from '../local-stack/src/config-overlay.js';
import { printTable } from './support.js';

/** The goal: the generated DAG at most this many times the hand-written one. */
const TARGET = 1.5;
const repo = resolve(new URL('..', import.meta.url).pathname);
const argv = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = argv.indexOf(name);
  return i >= 0 ? Number(argv[i + 1]) : fallback;
};
const rounds = flag('--rounds', 20);
const state = readStateIfPresent(stackRoot(process.env, repo));
const withRun = !argv.includes('--no-run') && state !== undefined;

/** The venvs to measure with: Airflow version and python. */
function venvs(): Array<{ version: string; python: string }> {
  const dir = process.env.MWAA_LOCAL_VENVS ?? join(repo, '.local-stack', 'venvs');
  if (existsSync(dir)) {
    const found = readdirSync(dir)
      .flatMap((name) =>
        /^airflow-(\d+\.\d+\.\d+)$/.exec(name) ? [{ version: name.slice(8), python: join(dir, name, 'bin/python') }] : [],
      )
      .filter((v) => existsSync(v.python))
      .sort((a, b) => a.version.localeCompare(b.version, 'en', { numeric: true }));
    if (found.length > 0) return found;
  }
  if (state) return [{ version: state.airflowVersion, python: join(state.venvBin, 'python') }];
  process.stderr.write(
    'No Airflow to parse with: set MWAA_LOCAL_VENVS to a directory of airflow-<version> venvs, or run: npm run local -- up\n',
  );
  process.exit(1);
}

const configFile = await readConfigFile({ cwd: repo });
const anchorSource = readFileSync(join(repo, 'bench/anchor/hand_written_dag.py'), 'utf8');
const work = mkdtempSync(join(tmpdir(), 'bench-dag-parse-'));

/** The prod example as configured, on `version` (the environment pins its own Airflow version). */
function prodConfig(version: string): ResolvedConfig {
  const environments = configFile.environments as Record<string, Record<string, unknown>>;
  const prod = { ...environments.prod, airflow: { version } };
  return resolveConfig({ ...configFile, environments: { ...environments, prod } }, 'prod');
}

/** The DAG folder as generate writes it: the DAG file and its library zip. Returns the DAG file. */
async function writeGenerated(config: ResolvedConfig, dags: string): Promise<string> {
  const generated = await generateEnvironment(config, '0.0.0-bench');
  let dag = '';
  for (const artifact of generated.artifacts) {
    if (artifact.kind !== 'dag' && artifact.kind !== 'dagLibrary') continue;
    const path = join(dags, ...artifact.path.split('/').slice(1));
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, artifact.bytes);
    if (artifact.kind === 'dag') dag = path;
  }
  return dag;
}

function envFor(home: string, dags: string, venvBin: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(state?.airflow?.env ?? {}),
    AIRFLOW_HOME: home,
    AIRFLOW__CORE__DAGS_FOLDER: dags,
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
  // Bytecode caching on, as on MWAA: DAG files and the modules they import get __pycache__.
  delete env.PYTHONDONTWRITEBYTECODE;
  return env;
}

function py(python: string, env: NodeJS.ProcessEnv, script: string, args: string[] = []): string {
  const result = spawnSync(python, ['-c', script, ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) throw new Error(`python failed (${result.status}):\n${result.stderr.slice(-3000)}`);
  const lines = result.stdout.trim().split('\n');
  return lines[lines.length - 1] ?? '';
}

// Both scripts: argv = files..., rounds. Each file is parsed once first (its .pyc is written).
const prelude = `
import json, logging, os, statistics, sys, time
from airflow import plugins_manager
logging.disable(logging.WARNING)
# Every Airflow process loads the plugins folder (paramiko, boto3 via plugins.zip) whatever it parses.
plugins_manager.ensure_plugins_loaded()
files, rounds = sys.argv[1:-1], int(sys.argv[-1])
`;

const inProcess = `${prelude}
from airflow.models.dagbag import DagBag
def parse(path):
    started = time.perf_counter()
    bag = DagBag(dag_folder=path)
    elapsed = time.perf_counter() - started
    if bag.import_errors or not bag.dags:
        raise SystemExit(f"parse failed: {bag.import_errors}")
    return elapsed
for path in files:
    parse(path)
samples = {path: [] for path in files}
for _ in range(rounds):
    for path in files:
        samples[path].append(parse(path))
print(json.dumps({path: statistics.median(values) * 1000 for path, values in samples.items()}))
`;

const forked = `${prelude}
import importlib
# MWAA's Airflow processes have boto3 loaded before any parse (their CloudWatch log handlers,
# amazon-mwaa-docker-images python/mwaa/logging/cloudwatch_handlers.py): no file pays for it here.
import boto3  # noqa: F401
from airflow.models.dagbag import DagBag
from airflow.utils.file import iter_airflow_imports

def parse(path):
    """One parse in a forked child, timed by the parent from fork to exit (ms), or the failure."""
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        bag = DagBag(dag_folder=path)
        os.write(write, b"ok" if bag.dags and not bag.import_errors else repr(bag.import_errors).encode()[:2000])
        os._exit(0)
    os.close(write)
    answer = os.read(read, 4096)
    os.close(read)
    os.waitpid(pid, 0)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed if answer == b"ok" else answer.decode(errors="replace")

def file_parser(path):
    """A parser process of one file: it pre-imports the airflow.* modules that file names (what
    parsing_pre_import_modules does, and only for that file, so files never share pre-imports),
    then forks one child per parse on request."""
    requests, request_writer = os.pipe()
    answer_reader, answers = os.pipe()
    if os.fork() == 0:
        os.close(request_writer)
        os.close(answer_reader)
        for module in iter_airflow_imports(path):
            importlib.import_module(module)
        while os.read(requests, 1):
            os.write(answers, (json.dumps(parse(path)) + "\\n").encode())
        os._exit(0)
    os.close(requests)
    os.close(answers)
    reader = os.fdopen(answer_reader)
    def ask():
        os.write(request_writer, b"p")
        answer = json.loads(reader.readline())
        if isinstance(answer, str):
            raise SystemExit(f"parse of {path} failed: {answer}")
        return answer
    return ask

parsers = {path: file_parser(path) for path in files}
for path in files:
    parsers[path]()  # the first parse writes the file's .pyc
samples = {path: [] for path in files}
for _ in range(rounds):
    for path in files:
        samples[path].append(parsers[path]())
print(json.dumps({path: statistics.median(values) for path, values in samples.items()}))
`;

const rows: Array<Array<string | number>> = [];
let missed = 0;
for (const venv of venvs()) {
  const config = prodConfig(venv.version);
  const line = airflowLine(venv.version);
  const dir = join(work, venv.version);
  const home = join(dir, 'airflow');
  const dags = join(home, 'dags');
  mkdirSync(dags, { recursive: true });
  const env = envFor(home, dags, dirname(venv.python));
  const files = { empty: join(dags, 'empty_dag.py'), anchor: join(dags, 'hand_written_dag.py'), ours: await writeGenerated(config, dags) };
  // The empty DAG has the same Airflow imports as the generated file and no tasks.
  const dagImports = AIRFLOW_IMPORTS[line].map((statement) => `${statement}  # noqa: F401\n`).join('');
  writeFileSync(
    files.empty,
    `from datetime import UTC, datetime\n\n${dagImports}\n\n@dag(dag_id="empty_dag", schedule=None, start_date=datetime(2024, 1, 1, tzinfo=UTC), catchup=False)\ndef empty_dag():\n    pass\n\n\nempty_dag()\n`,
  );
  // The anchor imports classic operators as a hand-written file for that line does, and runs on the
  // config's schedule as the generated DAG does (Airflow builds the same cron timetable for both).
  const anchorImports =
    line === '3'
      ? 'from airflow.providers.standard.operators.python import PythonOperator\nfrom airflow.sdk import DAG, Variable'
      : 'from airflow import DAG\nfrom airflow.models import Variable\nfrom airflow.operators.python import PythonOperator';
  writeFileSync(
    files.anchor,
    anchorSource
      .replace('# <<airflow imports>>', anchorImports)
      .replace('SCHEDULE = None', `SCHEDULE = ${pythonLiteral(config.dag.schedule)}`),
  );
  const names = ['empty', 'anchor', 'ours'] as const;
  const args = [...names.map((n) => files[n]), String(rounds)];
  const measured: Array<[string, Record<string, number>]> = [
    ['in-process re-parse', JSON.parse(py(venv.python, env, inProcess, args)) as Record<string, number>],
    ['forked, airflow.* pre-imported', JSON.parse(py(venv.python, env, forked, args)) as Record<string, number>],
  ];
  for (const [mode, ms] of measured) {
    const [empty, anchor, ours] = names.map((n) => ms[files[n]]!);
    const ratio = ours! / anchor!;
    if (ratio > TARGET) missed += 1;
    rows.push([venv.version, mode, empty!, anchor!, ours!, `${ratio.toFixed(2)}x`, ratio <= TARGET ? 'yes' : 'no']);
  }
}
printTable(
  `DAG parse time of the prod example, bytecode caching on (medians of ${rounds} interleaved rounds; target generated <= ${TARGET}x hand-written)`,
  ['Airflow', 'mode', 'empty DAG ms', 'hand-written ms', 'generated ms', 'generated/hand-written', `meets ${TARGET}x`],
  rows,
);
if (missed > 0) process.exitCode = 1;

if (withRun && state) {
  // The run uses the stack's own environment: its venv, servers, secret and endpoints.
  const config = await loadConfig({ env: 'local', cwd: repo, localStackOverlay: () => runningStackOverlay(process.env, repo) });
  const home = join(work, 'run', 'airflow');
  const dags = join(home, 'dags');
  mkdirSync(dags, { recursive: true });
  const env = envFor(home, dags, state.venvBin);
  const python = join(state.venvBin, 'python');
  const py1 = (script: string, scriptArgs: string[] = []) => py(python, env, script, scriptArgs);
  const cachedDb = `/tmp/mwaa-gpu-cicd-dagtest-${state.airflowVersion}.db`;
  if (!existsSync(cachedDb)) {
    const migrate = spawnSync(join(state.venvBin, 'airflow'), ['db', 'migrate'], { env, encoding: 'utf8' });
    if (migrate.status !== 0) throw new Error(`airflow db migrate failed:\n${migrate.stderr.slice(-2000)}`);
  } else {
    spawnSync('cp', [cachedDb, join(home, 'airflow.db')]);
  }
  await writeGenerated(config, dags);
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
# Airflow puts the DAG folder on sys.path in the processes that run tasks; the tasks find their
# library zip beside the DAG file themselves.
sys.path.append(${JSON.stringify(dags)})
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
