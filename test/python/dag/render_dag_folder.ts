/**
 * Writes the DAG folder that `generate` produces for one environment of config/config.yaml, for
 * the tests that need no local stack (test_dag_folder.py): the DAG file and its library zip,
 * from the real generator (generateEnvironment), as MWAA's DAG folder holds them.
 *
 * argv: <environment> <Airflow version> <DAG folder>
 * stdout: {"dag": "<path of the DAG file>", "library": "gpu_cicd_lib_<hash12>", "line": "2"|"3"}
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { readConfigFile, resolveConfig } from '../../../src/config/load.js';
import { generateEnvironment } from '../../../src/generator/generate.js';
import { airflowLine, MWAA_AIRFLOW_VERSIONS } from '../../../src/mwaa/versions.js';

const [env, version, folder] = process.argv.slice(2);
if (!env || !version || !folder) throw new Error('usage: render_dag_folder.ts <environment> <Airflow version> <DAG folder>');
if (!(version in MWAA_AIRFLOW_VERSIONS)) throw new Error(`MWAA runs no Airflow ${version}`);
const repo = resolve(new URL('../../..', import.meta.url).pathname);
const file = await readConfigFile({ cwd: repo });
// The environment as configured, on the Airflow version of the interpreter that runs the tests.
const environments = file.environments as Record<string, Record<string, unknown>>;
const environment = environments[env];
if (!environment) throw new Error(`config/config.yaml has no environment ${env}`);
const config = resolveConfig({ ...file, environments: { ...environments, [env]: { ...environment, airflow: { version } } } }, env);
const generated = await generateEnvironment(config, '0.0.0-test');
let dag = '';
for (const artifact of generated.artifacts) {
  if (artifact.kind !== 'dag' && artifact.kind !== 'dagLibrary') continue;
  const path = join(folder, ...artifact.path.split('/').slice(1));
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, artifact.bytes);
  if (artifact.kind === 'dag') dag = path;
}
process.stdout.write(JSON.stringify({ dag, library: generated.manifest.dagBuild.library, line: airflowLine(version) }));
