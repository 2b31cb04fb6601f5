/**
 * Where everything of the local stack lives under its root, and which Airflow version each line
 * runs. One module so that `up`, `down`, `status` and the tests agree on every path.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stackRoot, type AirflowLine } from './state.js';
import { MWAA_AIRFLOW_VERSIONS, newestOfLine, type AirflowVersion } from '../../src/mwaa/versions.js';

/** The Airflow versions the stack runs: the newest MWAA runs on each line. */
export const AIRFLOW_VERSIONS: Record<AirflowLine, AirflowVersion> = {
  '2': newestOfLine('2'),
  '3': newestOfLine('3'),
};

/** The Python MWAA runs a version on: what the stack runs it on when that interpreter is here. */
export function mwaaPython(airflowVersion: AirflowVersion): string {
  return MWAA_AIRFLOW_VERSIONS[airflowVersion];
}

/** What the stack runs on, with a note, when MWAA's Python cannot be found on this machine. */
export const FALLBACK_PYTHON = '3.11';

export const ENVIRONMENT_NAME = 'local-gpu-cicd';
/** The account the control plane's ARNs name (the AWS documentation's example account). */
export const LOCAL_ACCOUNT_ID = '123456789012';
export const REGION = 'us-east-1';
// MWAA requires source bucket names that start with "airflow-"; the config schema checks it.
export const BUCKET = 'airflow-local-gpu-cicd';
export const SECRET_NAME = 'gpu-server-ssh-key';
export const GIT_BRANCH = 'cicd_01_etl';
export const DAG_SYNC_INTERVAL_SECONDS = 5;

export interface StackLayout {
  root: string;
  venvDir: string;
  venvBin: string;
  /** The tools venv (the AWS CLI), shared by both lines like their venvs. */
  awsCliVenvDir: string;
  /** The installer venv (uv), shared by both lines. */
  installerVenvDir: string;
  airflowHome: string;
  logsDir: string;
  sshDir: string;
  gitDir: string;
  bareRepo: string;
  workspace: string;
  motoLog: string;
  controlPlaneLog: string;
  /** Written by the control plane: its PID, port and the Airflow processes it runs. */
  controlPlaneInfo: string;
}

/**
 * `venvsDir` defaults to `<root>/venvs`; `$MWAA_LOCAL_VENVS` lets a throw-away stack (tests) share
 * the venvs of the main one instead of spending minutes on installs.
 */
export function layoutFor(root: string, airflowVersion: string, venvsDir: string = join(root, 'venvs')): StackLayout {
  const venvDir = join(venvsDir, `airflow-${airflowVersion}`);
  const logsDir = join(root, 'logs');
  return {
    root,
    venvDir,
    venvBin: join(venvDir, 'bin'),
    awsCliVenvDir: awsCliVenvDir(venvsDir),
    installerVenvDir: installerVenvDir(venvsDir),
    airflowHome: join(root, `airflow-${airflowVersion}`),
    logsDir,
    sshDir: join(root, 'ssh'),
    gitDir: join(root, 'git'),
    bareRepo: join(root, 'git', 'cicd-test.git'),
    workspace: join(root, 'workspace'),
    motoLog: join(logsDir, 'moto.log'),
    controlPlaneLog: join(logsDir, 'control-plane.log'),
    controlPlaneInfo: join(root, 'control-plane.json'),
  };
}

/**
 * The python of the stack's venv for `airflowVersion` (`$MWAA_LOCAL_HOME`, `$MWAA_LOCAL_VENVS`),
 * when `local up` or `local provision` has built it: how the CLI's `parse` finds the stack's
 * Airflow without knowing this layout.
 */
export function stackAirflowPython(airflowVersion: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const root = stackRoot(env);
  const python = join(layoutFor(root, airflowVersion, venvsDirFrom(env, root)).venvBin, 'python');
  return existsSync(python) ? python : undefined;
}

/** Where the venvs are: `$MWAA_LOCAL_VENVS`, else `<root>/venvs`. */
export function venvsDirFrom(env: NodeJS.ProcessEnv, root: string): string {
  return env.MWAA_LOCAL_VENVS ? resolve(env.MWAA_LOCAL_VENVS) : join(root, 'venvs');
}

/**
 * The repository this code runs from (holds package.json, the locks and dist/). Found by walking
 * up from this module, so it works from src/ (tsx) and from the esbuild bundle in dist/.
 */
export function repoRoot(from: string = fileURLToPath(import.meta.url)): string {
  let dir = dirname(from);
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mwaa-gpu-cicd') return dir;
      } catch {
        // Not ours; keep walking.
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find the mwaa-gpu-cicd repository above ${from}`);
    dir = parent;
  }
}

/** One lock per Airflow version and Python version (wheels and resolutions differ between Pythons). */
export function lockPath(repo: string, airflowVersion: string, pythonVersion: string): string {
  return join(repo, 'local-stack', 'locks', `airflow-${airflowVersion}-py${pythonVersion}.txt`);
}

/**
 * The tools venv: the AWS CLI v1 from PyPI, pinned (`locks/aws-cli-py<python>.txt`), that the
 * third-party client tests and the README's examples run against the stack. One per venvs
 * directory, beside the lines' venvs; `local env` prints where its `aws` is.
 */
export function awsCliVenvDir(venvsDir: string): string {
  return join(venvsDir, 'aws-cli');
}

/**
 * The installer venv: uv, pinned (`locks/installer.txt`), installed with pip and then used to
 * install the lines' and tools' venvs (local-stack/src/venv.ts). One per venvs directory.
 */
export function installerVenvDir(venvsDir: string): string {
  return join(venvsDir, 'installer');
}

export function installerLockPath(repo: string): string {
  return join(repo, 'local-stack', 'locks', 'installer.txt');
}

export function awsCliLockPath(repo: string, pythonVersion: string): string {
  return join(repo, 'local-stack', 'locks', `aws-cli-py${pythonVersion}.txt`);
}

export function controlPlaneScript(repo: string): string {
  return join(repo, 'dist', 'control-plane.js');
}
