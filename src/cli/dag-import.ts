/**
 * Imports rendered DAG files in a real Airflow DagBag: the check MWAA's scheduler makes, done
 * before a deploy. Each file gets its own DAG folder and the plugin modules extracted beside it, as
 * MWAA extracts plugins.zip into the plugins folder; one Python process per Airflow version parses
 * them all.
 *
 * Which Airflow: one lookup (`findAirflow`), documented in the README ("Parse"). For each Airflow
 * version, the first of
 *   1. a python given with `--airflow-python` (repeatable), else those in `$MWAA_AIRFLOW_PYTHON`
 *      (colon-separated, as PATH), whose installed apache-airflow is that version;
 *   2. the local stack's venv for that version (`local up`), as the stack itself reports it.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackAirflowPython } from '../../local-stack/src/layout.js';
import { zipMembers } from '../util/zip-listing.js';
import { ExitCode, UserError } from '../errors.js';

export interface DagToImport {
  env: string;
  airflowVersion: string;
  dagId: string;
  dagFile: { name: string; bytes: Uint8Array };
  pluginsZip: Uint8Array;
}

export interface DagImportResult {
  env: string;
  /** File → Airflow's import error (a traceback), as DagBag reports them. */
  importErrors: Record<string, string>;
  dagIds: string[];
  taskCount: number | null;
}

/** The variable that names pythons with Airflow when `--airflow-python` is not given. */
export const AIRFLOW_PYTHON_VARIABLE = 'MWAA_AIRFLOW_PYTHON';

export interface FoundAirflow {
  python: string;
  /** Where the lookup found it: the flag, the variable, or the local stack. */
  source: '--airflow-python' | typeof AIRFLOW_PYTHON_VARIABLE | 'local stack';
}

export interface AirflowLookup {
  /** Airflow version → the python to import its DAGs with. */
  found: Map<string, FoundAirflow>;
  /** The versions of the pythons given (flag or variable), to say why one did not fit. */
  given: { python: string; version: string }[];
}

// Reads the installed distribution's metadata: no `import airflow`, which takes seconds.
const VERSION_SCRIPT = "from importlib.metadata import version; print(version('apache-airflow'))";
const VERSION_TIMEOUT_MS = 60_000;

/** The apache-airflow version `python` has, or a usage error naming where the python came from. */
async function airflowVersionOf(python: string, source: string): Promise<string> {
  const fix = `give the python of a venv with apache-airflow installed (e.g. <venv>/bin/python) to ${source}`;
  let result: Awaited<ReturnType<typeof run>>;
  try {
    result = await run(python, ['-c', VERSION_SCRIPT], process.env, VERSION_TIMEOUT_MS);
  } catch (error) {
    throw new UserError(`${source}: cannot run ${python} (${(error as Error).message}); ${fix}.`, ExitCode.usage);
  }
  const version = result.stdout.trim();
  if (result.code !== 0 || !/^\d+\.\d+\.\d+\S*$/.test(version)) {
    const why = /PackageNotFoundError/.test(result.stderr) ? 'has no apache-airflow installed' : `failed (exit ${result.code})`;
    throw new UserError(`${source}: ${python} ${why}; ${fix}.`, ExitCode.usage);
  }
  return version;
}

/**
 * The pythons to import the DAGs of `versions` with, by the lookup above. `given` is the
 * `--airflow-python` values; without them `$MWAA_AIRFLOW_PYTHON` is read from `env`.
 */
export async function findAirflow(
  versions: readonly string[],
  given: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): Promise<AirflowLookup> {
  const fromVariable = (env[AIRFLOW_PYTHON_VARIABLE] ?? '').split(':').filter((p) => p.trim() !== '');
  const source: FoundAirflow['source'] = given.length > 0 ? '--airflow-python' : AIRFLOW_PYTHON_VARIABLE;
  const pythons = given.length > 0 ? given : fromVariable;
  const lookup: AirflowLookup = { found: new Map(), given: [] };
  for (const python of pythons) {
    const version = await airflowVersionOf(python, source === AIRFLOW_PYTHON_VARIABLE ? `$${AIRFLOW_PYTHON_VARIABLE}` : source);
    lookup.given.push({ python, version });
    if (!lookup.found.has(version)) lookup.found.set(version, { python, source });
  }
  for (const version of versions) {
    if (lookup.found.has(version)) continue;
    const python = stackAirflowPython(version, env);
    if (python) lookup.found.set(version, { python, source: 'local stack' });
  }
  return lookup;
}

// Parses each [dag folder, plugins folder, DAG id] of the JSON argument with DagBag and prints one
// JSON line per folder.
// The DAG folder and plugins folder of Airflow's own config point at an empty place, so nothing
// else is parsed; the DAG's folder goes on sys.path like a plugins folder does on MWAA.
const PARSE_SCRIPT = `
import json, logging, sys
logging.disable(logging.WARNING)
from airflow.models import DagBag
for dag_dir, plugins_dir, dag_id in json.loads(sys.argv[1]):
    sys.path.insert(0, plugins_dir)
    bag = DagBag(dag_folder=dag_dir)
    dag = bag.dags.get(dag_id)
    print(json.dumps({
        "importErrors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dagIds": sorted(bag.dag_ids),
        "taskCount": len(dag.tasks) if dag is not None else None,
    }), flush=True)
    sys.path.remove(plugins_dir)
`;

const TIMEOUT_MS = 300_000;

/** Imports each DAG with `python` (one process for all of them); the results in the same order. */
export async function importDags(python: string, dags: readonly DagToImport[]): Promise<DagImportResult[]> {
  const work = mkdtempSync(join(tmpdir(), 'mwaa-gpu-cicd-parse-'));
  try {
    const specs = dags.map((dag, i) => {
      const dagDir = join(work, `dags-${i}`);
      const pluginsDir = join(work, `plugins-${i}`);
      mkdirSync(dagDir);
      mkdirSync(pluginsDir);
      writeFileSync(join(dagDir, dag.dagFile.name), dag.dagFile.bytes);
      for (const member of zipMembers(dag.pluginsZip)) {
        if (member.bytes && !member.name.includes('..') && !member.name.startsWith('/')) {
          mkdirSync(join(pluginsDir, member.name, '..'), { recursive: true });
          writeFileSync(join(pluginsDir, member.name), member.bytes);
        }
      }
      return [dagDir, pluginsDir, dag.dagId];
    });
    const home = join(work, 'airflow-home');
    mkdirSync(join(home, 'empty'), { recursive: true });
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('AIRFLOW__')) env[key] = value;
    Object.assign(env, {
      AIRFLOW_HOME: home,
      AIRFLOW__CORE__DAGS_FOLDER: join(home, 'empty'),
      AIRFLOW__CORE__PLUGINS_FOLDER: join(home, 'empty'),
      AIRFLOW__CORE__LOAD_EXAMPLES: 'False',
      AIRFLOW__DATABASE__SQL_ALCHEMY_CONN: `sqlite:///${join(home, 'airflow.db')}`,
      AIRFLOW__LOGGING__BASE_LOG_FOLDER: join(home, 'logs'),
      AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT: '30',
      PYTHONDONTWRITEBYTECODE: '1',
    });
    const { code, stdout, stderr } = await run(python, ['-c', PARSE_SCRIPT, JSON.stringify(specs)], env, TIMEOUT_MS);
    const lines = stdout.split('\n').filter((line) => line.startsWith('{'));
    if (code !== 0 || lines.length !== dags.length) {
      throw new UserError(
        `Airflow (${python}) could not parse the DAGs (exit ${code}); is that venv complete? ` +
          `Its own output:\n${stderr.trim().split('\n').slice(-15).join('\n')}`,
      );
    }
    return lines.map((line, i) => ({ env: dags[i]!.env, ...(JSON.parse(line) as Omit<DagImportResult, 'env'>) }));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Output kept of each stream: far more than DagBag's JSON lines and tracebacks ever need. */
const MAX_OUTPUT_CHARS = 16 * 1024 * 1024;

/** Runs a program without a shell, keeping at most MAX_OUTPUT_CHARS of each stream; killed after `timeoutMs`. */
function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < MAX_OUTPUT_CHARS) stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < MAX_OUTPUT_CHARS) stderr += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
