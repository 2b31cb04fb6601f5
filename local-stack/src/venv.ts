/**
 * One Python venv per Airflow version, installed from the version's lock with `--no-deps` so the
 * result is exactly the lock. A marker file holds the hash of what was installed: a second `up`
 * with the same lock and Python costs nothing.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../../src/errors.js';
import { run, runLogged } from '../../src/util/processes.js';

const MARKER = '.mwaa-local-lock.sha256';
/** Bump when the way a venv is built changes, so old venvs get rebuilt. */
const RECIPE = 'venv-recipe-1';

export interface PythonInfo {
  executable: string;
  version: string;
}

/** `$MWAA_LOCAL_PYTHON` or `python3.11` from PATH; must be CPython 3.11 (what the locks were made for). */
export async function findPython(env: NodeJS.ProcessEnv, wanted: string): Promise<PythonInfo> {
  const candidates = env.MWAA_LOCAL_PYTHON ? [env.MWAA_LOCAL_PYTHON] : [`python${wanted}`, ...pyenvPythons(env, wanted)];
  const tried: string[] = [];
  for (const executable of candidates) {
    try {
      // The venv module must work too (Debian splits it into python3.x-venv).
      const { stdout } = await run(executable, ['-c', 'import platform, venv, ensurepip; print(platform.python_version())']);
      const version = stdout.trim();
      if (version.startsWith(`${wanted}.`)) return { executable, version };
      tried.push(`${executable} (Python ${version})`);
    } catch {
      tried.push(`${executable} (not usable)`);
    }
  }
  throw new UserError(
    `No Python ${wanted} with venv found (tried: ${tried.join(', ')}). Install it (e.g. pyenv install ${wanted}) ` +
      `or point MWAA_LOCAL_PYTHON at a python${wanted} executable.`,
  );
}

/** pyenv installs that are not on PATH (e.g. a CI shell without pyenv's shims), newest first. */
function pyenvPythons(env: NodeJS.ProcessEnv, wanted: string): string[] {
  const versionsDir = join(env.PYENV_ROOT || join(env.HOME || homedir(), '.pyenv'), 'versions');
  try {
    return readdirSync(versionsDir)
      .filter((name) => name.startsWith(`${wanted}.`) && /^\d+\.\d+\.\d+$/.test(name))
      .sort((a, b) => Number(b.split('.')[2]) - Number(a.split('.')[2]))
      .map((name) => join(versionsDir, name, 'bin', `python${wanted}`));
  } catch {
    return [];
  }
}

export function lockHash(lockFile: string, python: PythonInfo): string {
  const hash = createHash('sha256');
  hash.update(RECIPE).update('\0').update(python.version).update('\0').update(readFileSync(lockFile));
  return hash.digest('hex');
}

export function venvIsCurrent(venvDir: string, hash: string): boolean {
  try {
    return readFileSync(join(venvDir, MARKER), 'utf8').trim() === hash && existsSync(join(venvDir, 'bin', 'airflow'));
  } catch {
    return false;
  }
}

/** Builds the venv unless the marker says it already matches the lock. */
export async function ensureVenv(options: {
  python: PythonInfo;
  venvDir: string;
  lockFile: string;
  log: string;
}): Promise<{ cached: boolean; hash: string }> {
  if (!existsSync(options.lockFile)) throw new Error(`lock file missing: ${options.lockFile}`);
  const hash = lockHash(options.lockFile, options.python);
  if (venvIsCurrent(options.venvDir, hash)) return { cached: true, hash };

  // A venv cannot be moved (scripts carry absolute shebangs), so it is rebuilt in place; the marker
  // is written last, so an interrupted build is simply rebuilt next time.
  rmSync(options.venvDir, { recursive: true, force: true });
  await runLogged(options.python.executable, ['-m', 'venv', options.venvDir], { log: options.log });
  const pipEnv = { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: '1', PIP_NO_INPUT: '1' };
  await runLogged(
    join(options.venvDir, 'bin', 'python'),
    ['-m', 'pip', 'install', '--no-deps', '--progress-bar', 'off', '-r', options.lockFile],
    { log: options.log, env: pipEnv },
  );
  writeFileSync(join(options.venvDir, MARKER), `${hash}\n`);
  return { cached: false, hash };
}
