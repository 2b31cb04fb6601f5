/**
 * Imports rendered DAG files in a real Airflow DagBag, with the Airflow the local stack installed
 * (`.local-stack/venvs/airflow-<version>/`): the check MWAA's scheduler makes, done before a deploy.
 * Each file gets its own DAG folder and the plugin modules extracted beside it, as MWAA extracts
 * plugins.zip into the plugins folder; one Python process per Airflow version parses them all.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutFor, venvsDirFrom } from '../../local-stack/src/layout.js';
import { stackRoot } from '../../local-stack/src/state.js';
import { zipMembers } from '../util/zip-listing.js';
import { UserError } from '../errors.js';

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

/** The python of the local stack's venv for this Airflow version, when it has been built. */
export function airflowPython(airflowVersion: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const root = stackRoot(env);
  const python = join(layoutFor(root, airflowVersion, venvsDirFrom(env, root)).venvBin, 'python');
  return existsSync(python) ? python : undefined;
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
    const { code, stdout, stderr } = await run(python, ['-c', PARSE_SCRIPT, JSON.stringify(specs)], env);
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

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), TIMEOUT_MS);
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
